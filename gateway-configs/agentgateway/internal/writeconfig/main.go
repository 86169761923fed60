// Command writeconfig writes the committed renderings of the agentgateway config: config.yaml
// (the default, in front of the mocks) and the same gateway sending the model route to a real
// provider, config.openai.yaml and config.anthropic.yaml (see Examples).
package main

import (
	"github.com/hopguard/hopguard/gateway-configs/agentgateway"
	"github.com/hopguard/hopguard/gateway-configs/internal/renderings"
)

func main() { renderings.Main(agentgateway.Examples(), agentgateway.Render) }
