package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	effectv1 "github.com/cerbos/cerbos/api/genpb/cerbos/effect/v1"
	enginev1 "github.com/cerbos/cerbos/api/genpb/cerbos/engine/v1"
	requestv1 "github.com/cerbos/cerbos/api/genpb/cerbos/request/v1"
	svcv1 "github.com/cerbos/cerbos/api/genpb/cerbos/svc/v1"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/respond"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// MCPProtocolVersion is the protocol the benchmark's MCP sessions were opened with.
const MCPProtocolVersion = "2025-11-25"

// Caller is one principal of a mix, ready to send: its task, a token per resource, and an open
// MCP session per server it works within (the mock servers refuse tools/list outside a
// session).
type Caller struct {
	// Name is the principal's (Principal.Name, Hop.Caller).
	Name           string
	Subject        string
	Roles          []string
	AgentID        string
	HarnessVersion string
	Task           tasks.Task
	Tokens         map[string]string // resource -> per-resource token
	Sessions       map[string]string // MCP server -> Mcp-Session-Id
}

// GatewayMix sends the hops through a gateway at baseURL over HTTP/1.1 with keep-alive, as the
// agent does. Through a governed gateway each hop must get the policies' decision (the
// x-hopguard-decision header says which); through the ungoverned one it must reach the
// upstream and come back 200 with no decision at all.
func GatewayMix(client *http.Client, baseURL string, governed bool, hops []Hop, callers Callers) []Request {
	mix := make([]Request, 0, len(hops))
	for _, h := range hops {
		c := callers.of(h)
		body := []byte(h.Body)
		header := http.Header{}
		header.Set("Content-Type", "application/json")
		header.Set("Authorization", "Bearer "+c.Tokens[h.Resource])
		if h.Server != "" {
			header.Set("Accept", "application/json, text/event-stream")
		}
		if h.InSession {
			header.Set("Mcp-Session-Id", c.Sessions[h.Server])
			header.Set("Mcp-Protocol-Version", MCPProtocolVersion)
		}
		want, status := "", http.StatusOK
		if governed {
			want, status = "deny", h.GovernedStatus()
			if h.Allowed {
				want = "allow"
			}
		}
		url := baseURL + h.Path
		mix = append(mix, Request{Kind: h.Kind, Do: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, h.Method, url, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header = header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			// Read to the end, so the connection is reused.
			_, copyErr := io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if copyErr != nil {
				return fmt.Errorf("read response: %w", copyErr)
			}
			if resp.StatusCode != status {
				return fmt.Errorf("status %d, want %d", resp.StatusCode, status)
			}
			if got := resp.Header.Get(respond.HeaderDecision); got != want {
				return fmt.Errorf("decision %q, want %q", got, want)
			}
			return nil
		}})
	}
	return mix
}

// CheckRequest is the ext_authz request Envoy sends synapse for h: the same headers the gateway
// forwards (the MCP session ones included) and the body as raw_body.
func CheckRequest(h Hop, c Caller) *authv3.CheckRequest {
	req := checktest.Envoy(h.Resource, h.Method, h.Path, c.Tokens[h.Resource], h.Body)
	headers := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	if h.Server != "" {
		headers["accept"] = "application/json, text/event-stream"
	}
	if h.InSession {
		headers["mcp-session-id"] = c.Sessions[h.Server]
		headers["mcp-protocol-version"] = MCPProtocolVersion
	}
	return req
}

// SynapseMix calls synapse's Check directly, as the gateway does, and expects the policies'
// decision for each hop.
func SynapseMix(client authv3.AuthorizationClient, hops []Hop, callers Callers) []Request {
	mix := make([]Request, 0, len(hops))
	for _, h := range hops {
		req := CheckRequest(h, callers.of(h))
		mix = append(mix, Request{Kind: h.Kind, Do: func(ctx context.Context) error {
			resp, err := client.Check(ctx, req)
			if err != nil {
				return err
			}
			allowed := resp.GetStatus().GetCode() == 0 && resp.GetOkResponse() != nil
			if allowed != h.Allowed {
				return fmt.Errorf("allowed %v, want %v (status %d)", allowed, h.Allowed, resp.GetStatus().GetCode())
			}
			return nil
		}})
	}
	return mix
}

// CerbosRequest is the CheckResources call synapse makes for h: the checks synapse's own mapper
// reads from the CheckRequest, the principal from the token's claims and the task (see
// synapse/authz's pdpRequest and CONTRACTS.md "Cerbos request").
func CerbosRequest(h Hop, c Caller) (*requestv1.CheckResourcesRequest, error) {
	in, err := mapping.Map(CheckRequest(h, c), mapping.RouteTable{})
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", h.Kind, err)
	}
	principal, err := structAttrs(map[string]any{
		"agent_id":        c.AgentID,
		"harness_version": c.HarnessVersion,
		"task_id":         c.Task.ID,
		"task":            map[string]any{"id": c.Task.ID, "status": string(c.Task.Status), "ticket_id": c.Task.TicketID},
	})
	if err != nil {
		return nil, fmt.Errorf("principal attributes: %w", err)
	}
	out := &requestv1.CheckResourcesRequest{
		RequestId: "bench-" + h.Kind,
		Principal: &enginev1.Principal{Id: c.Subject, Roles: c.Roles, Attr: principal},
	}
	for _, ch := range in.Checks {
		attr, err := structAttrs(ch.Attr)
		if err != nil {
			return nil, fmt.Errorf("%s resource attributes: %w", h.Kind, err)
		}
		out.Resources = append(out.Resources, &requestv1.CheckResourcesRequest_ResourceEntry{
			Actions:  []string{ch.Action},
			Resource: &enginev1.Resource{Kind: ch.Kind, Id: ch.ID, Attr: attr},
		})
	}
	return out, nil
}

// CerbosMix calls Cerbos's CheckResources directly with the calls synapse makes, the audit
// metadata included, and expects the policies' decision: every action allowed, or a denial
// that carries the rule's output.
func CerbosMix(client svcv1.CerbosServiceClient, hops []Hop, callers Callers) ([]Request, error) {
	var ids atomic.Uint64
	mix := make([]Request, 0, len(hops))
	for _, h := range hops {
		c := callers.of(h)
		req, err := CerbosRequest(h, c)
		if err != nil {
			return nil, err
		}
		mix = append(mix, Request{Kind: h.Kind, Do: func(ctx context.Context) error {
			ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs(
				pdp.HeaderDecisionID, "bench-"+strconv.FormatUint(ids.Add(1), 10),
				pdp.HeaderAgentID, c.AgentID,
				pdp.HeaderHarnessVersion, c.HarnessVersion,
				pdp.HeaderTaskID, c.Task.ID,
			))
			resp, err := client.CheckResources(ctx, req)
			if err != nil {
				return err
			}
			allowed, outputs := true, 0
			for _, r := range resp.GetResults() {
				for _, effect := range r.GetActions() {
					allowed = allowed && effect == effectv1.Effect_EFFECT_ALLOW
				}
				outputs += len(r.GetOutputs())
			}
			switch {
			case len(resp.GetResults()) != len(req.GetResources()):
				return fmt.Errorf("%d results for %d resources", len(resp.GetResults()), len(req.GetResources()))
			case allowed != h.Allowed:
				return fmt.Errorf("allowed %v, want %v", allowed, h.Allowed)
			case !h.Allowed && outputs == 0:
				return fmt.Errorf("denied without the rule's output")
			}
			return nil
		}})
	}
	return mix, nil
}

// structAttrs converts attributes as synapse's pdp client does (through JSON).
func structAttrs(in map[string]any) (map[string]*structpb.Value, error) {
	out := make(map[string]*structpb.Value, len(in))
	for k, v := range in {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		val := &structpb.Value{}
		if err := val.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = val
	}
	return out, nil
}
