package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hopguard/hopguard/mockservers/sts"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// The fixed mix's principal: a tier-1 support agent working one ticket (CONTRACTS.md).
const (
	benchSubject        = "alice"
	benchRole           = "tier-1-support"
	benchAgentID        = "bench-agent"
	benchHarnessVersion = "bench"
	benchTicket         = "T-1001"
)

// tokenLifetime outlives any benchmark run (the STS's own tokens live five minutes).
const tokenLifetime = time.Hour

// CallerSetup is what NewCallers needs from a running environment.
type CallerSetup struct {
	Admin *admin.Client
	// SigningKeyPEM is the STS's key: tokens are minted with it directly, exactly as the STS
	// signs them, so no exchange is needed per resource.
	SigningKeyPEM []byte
	Issuer        string
	// GatewayURL is the governed gateway, through which the MCP sessions are opened (so the
	// handshakes are authorized like any agent's).
	GatewayURL string
	HTTP       *http.Client
}

// Callers are a mix's principals ready to send, by name (Hop.Caller).
type Callers map[string]Caller

// of is the caller that sends h.
func (cs Callers) of(h Hop) Caller { return cs[h.Caller] }

// NewCallers registers a task for each of mix's principals (revoking it where the principal
// says so), mints their tokens and opens their MCP sessions.
func NewCallers(ctx context.Context, s CallerSetup, mix Mix) (Callers, error) {
	key, err := sts.ParseKeyPEM(s.SigningKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("benchmark tokens: %w", err)
	}
	signer, err := sts.New(sts.Config{Key: key, Issuer: s.Issuer})
	if err != nil {
		return nil, fmt.Errorf("benchmark tokens: %w", err)
	}
	out := Callers{}
	for _, p := range mix.Principals {
		hops := hopsOf(mix.Hops, p.Name)
		c, err := newCaller(ctx, s, signer, p, hops)
		if err != nil {
			return nil, fmt.Errorf("caller %s: %w", p.Name, err)
		}
		out[p.Name] = c
	}
	for _, h := range mix.Hops {
		if _, ok := out[h.Caller]; !ok {
			return nil, fmt.Errorf("mix %s: hop %s is sent by %q, not one of its principals", mix.Name, h.Kind, h.Caller)
		}
	}
	return out, nil
}

func hopsOf(hops []Hop, caller string) []Hop {
	var out []Hop
	for _, h := range hops {
		if h.Caller == caller {
			out = append(out, h)
		}
	}
	return out
}

func newCaller(ctx context.Context, s CallerSetup, signer *sts.Server, p Principal, hops []Hop) (Caller, error) {
	task, err := s.Admin.Create(ctx, tasks.NewTask{Principal: p.Subject, AgentID: p.AgentID, TicketID: p.Ticket})
	if err != nil {
		return Caller{}, fmt.Errorf("register its task: %w", err)
	}
	c := Caller{
		Name: p.Name, Subject: p.Subject, Roles: []string{p.Role}, AgentID: p.AgentID, HarnessVersion: benchHarnessVersion,
		Task: task, Tokens: map[string]string{},
	}
	now := time.Now()
	for _, h := range hops {
		if _, ok := c.Tokens[h.Resource]; ok {
			continue
		}
		tok, err := signer.Sign(sts.Claims{
			Claims: jwt.Claims{
				Issuer: s.Issuer, Subject: p.Subject, Audience: jwt.Audience{h.Resource},
				IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
				Expiry: jwt.NewNumericDate(now.Add(tokenLifetime)), ID: "bench-" + p.Name + "-" + h.Resource,
			},
			Roles: c.Roles, AgentID: p.AgentID, HarnessVersion: benchHarnessVersion, TaskID: task.ID,
		})
		if err != nil {
			return Caller{}, fmt.Errorf("token for %s: %w", h.Resource, err)
		}
		c.Tokens[h.Resource] = tok
	}
	if c.Sessions, err = openSessions(ctx, s.HTTP, s.GatewayURL, hops, c.Tokens); err != nil {
		return Caller{}, err
	}
	// Revoked after its sessions are open, as the operator does mid-run.
	if p.Revoked {
		if c.Task, err = s.Admin.Revoke(ctx, task.ID); err != nil {
			return Caller{}, fmt.Errorf("revoke its task: %w", err)
		}
	}
	return c, nil
}

// openSessions opens an MCP session with each server of hops through the gateway at
// gatewayURL, with the hop's token.
func openSessions(ctx context.Context, client *http.Client, gatewayURL string, hops []Hop, tokens map[string]string) (map[string]string, error) {
	sessions := map[string]string{}
	for _, h := range hops {
		if !h.InSession || sessions[h.Server] != "" {
			continue
		}
		id, err := openSession(ctx, client, gatewayURL+h.Path, tokens[h.Resource])
		if err != nil {
			return nil, fmt.Errorf("open an MCP session with %s through %s: %w", h.Server, gatewayURL, err)
		}
		sessions[h.Server] = id
	}
	return sessions, nil
}

// openSession performs the MCP handshake (initialize, then notifications/initialized) and
// returns the session id.
func openSession(ctx context.Context, client *http.Client, url, token string) (string, error) {
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + MCPProtocolVersion +
		`","capabilities":{},"clientInfo":{"name":"hopguard-bench","version":"0.1.0"}}}`
	header, err := post(ctx, client, url, token, "", initialize, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("initialize: %w", err)
	}
	id := header.Get("Mcp-Session-Id")
	if id == "" {
		return "", fmt.Errorf("initialize: no Mcp-Session-Id in the answer")
	}
	if _, err := post(ctx, client, url, token, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, http.StatusAccepted); err != nil {
		return "", fmt.Errorf("notifications/initialized: %w", err)
	}
	return id, nil
}

func post(ctx context.Context, client *http.Client, url, token, session, body string, want int) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", MCPProtocolVersion)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != want {
		return nil, fmt.Errorf("status %d, want %d: %s", resp.StatusCode, want, bytes.TrimSpace(answer))
	}
	return resp.Header, nil
}
