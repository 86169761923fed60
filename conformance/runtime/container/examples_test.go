package container_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime/container"
)

// ExampleRun runs the mock LLM from its local image on the host's loopback and waits until it
// answers, the way the runtime starts every component.
func ExampleRun() {
	ctx := context.Background()
	addr := netip.MustParseAddrPort("127.0.0.1:18080")
	ctr, err := container.Run(ctx, container.LocalImage("mockllm"), container.Spec{
		Cmd:   []string{"--addr=" + addr.String()},
		Ready: container.ForProbe(env.Probe{Kind: env.ProbeHTTP, Path: "/_journal"}, addr, 30*time.Second),
	})
	// Run returns what it created even when it failed: terminate it either way.
	defer func() { _ = ctr.Terminate(ctx) }()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("mock LLM at http://" + addr.String())
}

// ExampleImages shows which image a component runs: HOPGUARD_IMAGE_<NAME> when set, else the
// official image of a tool, else hopguard's own local image.
func ExampleImages() {
	images := container.Images(func(string) (string, bool) { return "", false })
	for _, p := range []env.Program{{Tool: "cerbos"}, {Package: "./synapse/cmd/synapse"}} {
		image, _ := images(p)
		fmt.Println(image.Ref, "or", image.Variable)
	}
	// Output:
	// ghcr.io/cerbos/cerbos:0.55.0 or HOPGUARD_IMAGE_CERBOS
	// hopguard/synapse:dev or HOPGUARD_IMAGE_SYNAPSE
}
