// Command writeconfig writes config.yaml, the default rendering of the agentgateway config.
package main

import (
	"fmt"
	"os"

	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
)

func main() {
	config, err := agentgateway.Render(agentgateway.DefaultParams())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile("config.yaml", config, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
