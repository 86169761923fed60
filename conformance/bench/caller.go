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

// The benchmark's principal: a tier-1 support agent working one ticket (CONTRACTS.md).
const (
	benchSubject        = "alice"
	benchRole           = "tier-1-support"
	benchAgentID        = "bench-agent"
	benchHarnessVersion = "bench"
	benchTicket         = "T-1001"
)

// tokenLifetime outlives any benchmark run (the STS's own tokens live five minutes).
const tokenLifetime = time.Hour

// CallerSetup is what NewCaller needs from a running environment.
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
	Hops       []Hop
}

// NewCaller registers the benchmark's task, mints its tokens and opens its MCP sessions.
func NewCaller(ctx context.Context, s CallerSetup) (Caller, error) {
	task, err := s.Admin.Create(ctx, tasks.NewTask{Principal: benchSubject, AgentID: benchAgentID, TicketID: benchTicket})
	if err != nil {
		return Caller{}, fmt.Errorf("register the benchmark's task: %w", err)
	}
	c := Caller{
		Subject: benchSubject, Roles: []string{benchRole}, AgentID: benchAgentID, HarnessVersion: benchHarnessVersion,
		Task: task, Tokens: map[string]string{},
	}
	key, err := sts.ParseKeyPEM(s.SigningKeyPEM)
	if err != nil {
		return Caller{}, fmt.Errorf("benchmark tokens: %w", err)
	}
	signer, err := sts.New(sts.Config{Key: key, Issuer: s.Issuer})
	if err != nil {
		return Caller{}, fmt.Errorf("benchmark tokens: %w", err)
	}
	now := time.Now()
	for _, h := range s.Hops {
		if _, ok := c.Tokens[h.Resource]; ok {
			continue
		}
		tok, err := signer.Sign(sts.Claims{
			Claims: jwt.Claims{
				Issuer: s.Issuer, Subject: benchSubject, Audience: jwt.Audience{h.Resource},
				IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
				Expiry: jwt.NewNumericDate(now.Add(tokenLifetime)), ID: "bench-" + h.Resource,
			},
			Roles: c.Roles, AgentID: benchAgentID, HarnessVersion: benchHarnessVersion, TaskID: task.ID,
		})
		if err != nil {
			return Caller{}, fmt.Errorf("token for %s: %w", h.Resource, err)
		}
		c.Tokens[h.Resource] = tok
	}
	if c.Sessions, err = openSessions(ctx, s.HTTP, s.GatewayURL, s.Hops, c.Tokens); err != nil {
		return Caller{}, err
	}
	return c, nil
}

// openSessions opens an MCP session with each server of hops through the gateway at
// gatewayURL, with the hop's token.
func openSessions(ctx context.Context, client *http.Client, gatewayURL string, hops []Hop, tokens map[string]string) (map[string]string, error) {
	sessions := map[string]string{}
	for _, h := range hops {
		if h.Server == "" || sessions[h.Server] != "" {
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
