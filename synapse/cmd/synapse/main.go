// Command synapse is hopguard's Envoy ext_authz server; see `synapse --help`.
package main

import (
	"os"

	"github.com/hopguard/hopguard/synapse/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
