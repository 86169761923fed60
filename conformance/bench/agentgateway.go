package bench

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
)

// gatewayNames are the gateways' component names; the agentgateway ones are empty when it does
// not run.
type gatewayNames struct {
	governed, baseline           string
	agentGoverned, agentBaseline string
}

// agentGatewayNotRun is why the agentgateway targets are not measured, or nil when both of its
// gateways run.
func agentGatewayNotRun(h *harness.Env, governed, baseline gateways.Gateway) error {
	for _, g := range []gateways.Gateway{governed, baseline} {
		if reason, ok := h.NotRun[g.Name()]; ok {
			return fmt.Errorf("%s: %w", g.Name(), reason)
		}
	}
	return nil
}

// agentGatewayTargets are a2 and b2. agentgateway's MCP backend is a stateful MCP proxy: a
// session id it did not issue is unknown to it, so each gateway gets the callers' MCP sessions
// opened through itself (the governed one's handshakes authorized like any agent's).
func agentGatewayTargets(ctx context.Context, h *harness.Env, governed, baseline string, hops []Hop, callers Callers, opts Options) ([]target, error) {
	var out []target
	for _, g := range []struct {
		id, name string
		governed bool
	}{
		{TargetAgentBaseline, baseline, false},
		{TargetAgentGoverned, governed, true},
	} {
		url, err := h.GatewayURL(g.name)
		if err != nil {
			return nil, err
		}
		client := httpClient(opts.MaxInFlight)
		own, err := callers.WithSessionsThrough(ctx, client, url, hops)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", g.id, err)
		}
		out = append(out, target{id: g.id, mix: GatewayMix(client, url, g.governed, hops, own)})
	}
	return out, nil
}

// WithSessionsThrough returns c with its MCP sessions opened anew through the gateway at
// gatewayURL, for a gateway that keeps its own sessions.
func (c Caller) WithSessionsThrough(ctx context.Context, client *http.Client, gatewayURL string, hops []Hop) (Caller, error) {
	sessions, err := openSessions(ctx, client, gatewayURL, hops, c.Tokens)
	if err != nil {
		return Caller{}, err
	}
	c.Sessions = sessions
	return c, nil
}

// WithSessionsThrough returns cs with each caller's MCP sessions opened anew through the
// gateway at gatewayURL (Caller.WithSessionsThrough), each with its own hops.
func (cs Callers) WithSessionsThrough(ctx context.Context, client *http.Client, gatewayURL string, hops []Hop) (Callers, error) {
	out := make(Callers, len(cs))
	for name, c := range cs {
		own, err := c.WithSessionsThrough(ctx, client, gatewayURL, hopsOf(hops, name))
		if err != nil {
			return nil, fmt.Errorf("caller %s: %w", name, err)
		}
		out[name] = own
	}
	return out, nil
}
