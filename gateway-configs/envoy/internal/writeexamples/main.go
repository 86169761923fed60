// Command writeexamples writes the committed renderings of the Envoy gateway in front of a real
// model provider (envoy.Examples): envoy.openai.yaml and envoy.anthropic.yaml.
package main

import (
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/internal/renderings"
)

func main() { renderings.Main(envoy.Examples(), envoy.Render) }
