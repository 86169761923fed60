package security_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/conformance/agentrun"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/sandbox"
	"github.com/hopguard/hopguard/conformance/sandbox/reach"
	"github.com/hopguard/hopguard/conformance/security/summary"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/mockservers/sts"
)

// TestAgentSandboxLeadsOnlyToTheGateway makes, from inside the sandbox the agent runs in behind
// each gateway (the exits agentrun gives it), every attempt a compromised agent could make to
// get around the gateway: a connection to every other port of the environment (the mock
// upstreams, synapse's ext_authz and admin API, Cerbos, the other gateways, their admin
// interfaces) and every STS request other than a POST to its token endpoint. Each must get
// nowhere, while the gateway and the token endpoint answer (the controls: they show the
// attempts are made from a place that can reach something).
func TestAgentSandboxLeadsOnlyToTheGateway(t *testing.T) {
	h := requireEnv(t)
	if err := sandbox.Available(); err != nil {
		suite.recorder.SandboxNotRun(err.Error())
		t.Skipf("not run: %v", err)
	}
	reachBinary, err := h.Program(harness.ReachPackage)
	require.NoError(t, err)
	stsURL, err := h.STSURL()
	require.NoError(t, err)
	for _, g := range h.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			gatewayURL, err := h.GatewayURL(g.Name())
			require.NoError(t, err)
			exits, err := agentrun.Exits(loop.Config{GatewayURL: gatewayURL, STSURL: stsURL})
			require.NoError(t, err)
			attempts, err := escapeAttempts(h, g.Name())
			require.NoError(t, err)

			outcomes := tryFromSandbox(t, reachBinary, exits, attempts)

			require.Len(t, outcomes, len(attempts), "one outcome per attempt")
			for i, o := range outcomes {
				e := judgeEscape(g.Name(), attempts[i], o)
				suite.recorder.Escape(e)
				if !e.Pass {
					t.Errorf("%s: %s: %s", e.Name, e.Attempt, e.Got)
				}
			}
		})
	}
}

// escape is one attempt and whether it is a control, which must be answered.
type escape struct {
	reach.Attempt
	control bool
}

// escapeAttempts are the controls, then a TCP connection to every port of every running
// component but the gateway's front door and the STS's (which are the exits), then HTTP
// requests for every STS endpoint but the token endpoint.
func escapeAttempts(h *harness.Env, gateway string) ([]escape, error) {
	front, err := h.Runtime.Endpoint(gateway, stack.PortHTTP)
	if err != nil {
		return nil, err
	}
	stsAddr, err := h.Runtime.Endpoint(stack.STS, stack.PortHTTP)
	if err != nil {
		return nil, err
	}
	out := []escape{
		{control: true, Attempt: reach.Attempt{Name: gateway + " front door", Kind: reach.HTTP, Target: front.String(), Path: "/v1/models"}},
		{control: true, Attempt: reach.Attempt{Name: "the STS's token endpoint", Kind: reach.HTTP, Target: stsAddr.String(), Method: http.MethodPost, Path: sts.TokenPath}},
		{Attempt: reach.Attempt{Name: gateway + " front door over IPv6 loopback", Kind: reach.TCP, Target: netip.AddrPortFrom(netip.IPv6Loopback(), front.Port()).String()}},
	}
	notRunning := h.Runtime.NotRunning()
	for _, c := range h.Description.Components {
		if _, down := notRunning[c.Name]; down {
			continue
		}
		for _, port := range c.Ports {
			addr, err := h.Runtime.Endpoint(c.Name, port)
			if err != nil {
				return nil, err
			}
			if addr == front || addr == stsAddr {
				continue
			}
			out = append(out, escape{Attempt: reach.Attempt{Name: c.Name + " " + port, Kind: reach.TCP, Target: addr.String()}})
		}
	}
	if driver := h.DriverSTSURL(); driver != "" {
		// The test driver's own STS issues the triage workload's tokens without its SVID.
		out = append(out, escape{Attempt: reach.Attempt{Name: "the test driver's own STS", Kind: reach.TCP, Target: strings.TrimPrefix(driver, "http://")}})
	}
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, sts.JWKSPath},
		{http.MethodGet, sts.DiscoveryPath},
		{http.MethodGet, sts.TokenPath},
		{http.MethodPost, "/"},
		{http.MethodPost, sts.TokenPath + "/../.well-known/jwks.json"},
		{http.MethodPost, "/_journal"},
	} {
		out = append(out, escape{Attempt: reach.Attempt{Name: "the STS's " + r.method + " " + r.path, Kind: reach.HTTP, Target: stsAddr.String(), Method: r.method, Path: r.path}})
	}
	return out, nil
}

// tryFromSandbox runs the reach command in a sandbox with exits and returns its outcomes.
func tryFromSandbox(t *testing.T, binary string, exits []sandbox.Exit, attempts []escape) []reach.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	sb, err := sandbox.Open(ctx, sandbox.Config{Exits: exits})
	require.NoError(t, err)
	defer sb.Close()
	list := make([]reach.Attempt, len(attempts))
	for i, a := range attempts {
		list[i] = a.Attempt
	}
	in, err := json.Marshal(list)
	require.NoError(t, err)
	cmd, err := sb.Command(ctx, binary, "--timeout=2s")
	require.NoError(t, err)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	require.NoError(t, sb.Start(cmd))
	require.NoError(t, cmd.Wait(), "reach inside the sandbox: %s", stderr.String())
	var outcomes []reach.Outcome
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var o reach.Outcome
		require.NoError(t, dec.Decode(&o))
		outcomes = append(outcomes, o)
	}
	return outcomes
}

// judgeEscape says whether an attempt came out as it must. An escape may get as far as the
// sandbox's own refusal (an STS request its exit does not let through), never further.
func judgeEscape(gateway string, a escape, o reach.Outcome) summary.Escape {
	e := summary.Escape{Gateway: gateway, Name: a.Name, Control: a.control, Attempt: "tcp " + a.Target}
	if a.Kind == reach.HTTP {
		method := a.Method
		if method == "" {
			method = http.MethodGet
		}
		e.Attempt = fmt.Sprintf("%s http://%s%s", method, a.Target, a.Path)
	}
	refusedBySandbox := o.Header[sandbox.RefusedHeader] != ""
	switch {
	case o.Status != 0 && refusedBySandbox:
		e.Got = fmt.Sprintf("refused by the sandbox's exit (%d)", o.Status)
	case o.Status != 0:
		e.Got = fmt.Sprintf("answered %d", o.Status)
		if d := o.Header["x-hopguard-decision"]; d != "" {
			e.Got += ", x-hopguard-decision: " + d
		}
	case o.Connected:
		e.Got = "connected"
	default:
		e.Got = strings.TrimSpace(o.Error)
	}
	if a.control {
		e.Pass = o.Status != 0 && !refusedBySandbox
	} else {
		e.Pass = (o.Error != "" && !o.Connected) || refusedBySandbox
	}
	return e
}
