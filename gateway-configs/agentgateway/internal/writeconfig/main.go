// Command writeconfig writes the committed renderings of the agentgateway config: config.yaml
// (the default, in front of the mocks) and the same gateway sending the model route to a real
// provider, config.openai.yaml and config.anthropic.yaml (see Examples).
package main

import (
	"fmt"
	"os"

	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
)

func main() {
	for file, params := range agentgateway.Examples() {
		config, err := agentgateway.Render(params)
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
