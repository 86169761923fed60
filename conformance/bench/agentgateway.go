package bench

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/harness"
	agwconfig "github.com/hopguard/hopguard/gateway-configs/agentgateway"
)

// UngovernedAgentGateway is the baseline behind agentgateway, as Ungoverned is behind Envoy:
// the governed agentgateway of conformance/gateways, same binary and the same config rendered
// with agwconfig.Params.WithoutAuthz, which leaves out every route's extAuthz policy and
// nothing else. It refuses to run wherever the governed one does (no binary, or a network
// beyond loopback).
type UngovernedAgentGateway struct {
	governed gateways.AgentGateway
}

var _ gateways.Gateway = (*UngovernedAgentGateway)(nil)

// NewUngovernedAgentGateway is the baseline of governed: its runtime and interface list.
func NewUngovernedAgentGateway(governed gateways.AgentGateway) *UngovernedAgentGateway {
	return &UngovernedAgentGateway{governed: governed}
}

// Name implements gateways.Gateway.
func (*UngovernedAgentGateway) Name() string { return "agentgateway-baseline" }

// Detail implements gateways.Gateway.
func (u *UngovernedAgentGateway) Detail() string { return u.governed.Detail() + ", extAuthz removed" }

// Component implements gateways.Gateway: the governed agentgateway's component under another
// name, its config rendered without extAuthz.
func (u *UngovernedAgentGateway) Component(ctx context.Context) (env.Component, error) {
	return ungovernedComponent(ctx, &u.governed, u.Name(), gateways.AgentGatewayConfigFile, u.renderConfig)
}

func (u *UngovernedAgentGateway) renderConfig(l env.Layout) ([]byte, error) {
	p := gateways.AgentGatewayParams(l, u.Name())
	p.WithoutAuthz = true
	return agwconfig.Render(p)
}

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
// session id it did not issue is unknown to it, so each gateway gets the caller's MCP sessions
// opened through itself (the governed one's handshakes authorized like any agent's).
func agentGatewayTargets(ctx context.Context, h *harness.Env, governed, baseline string, hops []Hop, caller Caller, opts Options) ([]target, error) {
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
		own, err := caller.WithSessionsThrough(ctx, client, url, hops)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", g.id, err)
		}
		out = append(out, target{g.id, GatewayMix(client, url, g.governed, hops, own)})
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
