// Command writeexamples writes the committed renderings of the Envoy gateway in front of a real
// model provider (envoy.Examples): envoy.openai.yaml and envoy.anthropic.yaml.
package main

import (
	"fmt"
	"os"

	"github.com/hopguard/hopguard/gateway-configs/envoy"
)

func main() {
	for file, params := range envoy.Examples() {
		config, err := envoy.Render(params)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(file, config, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
