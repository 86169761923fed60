// Package stsclient is a small OAuth 2.0 client for a security token
// service: client_credentials for a bootstrap token (RFC 6749 section 4.4)
// and token exchange (RFC 8693) for per-resource tokens. It speaks only the
// standard wire format and imports nothing from the mock STS, so the agent
// can point it at any STS that follows CONTRACTS.md "Tokens".
package stsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TokenTypeJWT is the RFC 8693 token type of every token in the demo.
const TokenTypeJWT = "urn:ietf:params:oauth:token-type:jwt"

const maxResponseBytes = 1 << 20

// Client talks to one token endpoint.
type Client struct {
	tokenURL string
	http     *http.Client
	now      func() time.Time
}

// New returns a client for the token endpoint at tokenURL (for the mock
// STS, "<base>/oauth2/token"). A nil httpClient means http.DefaultClient.
func New(tokenURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{tokenURL: tokenURL, http: httpClient, now: time.Now}
}

// Attestation is what a launcher vouches for about an agent run; it ends up
// in the claims of every token derived from the bootstrap token.
type Attestation struct {
	AgentID        string
	HarnessVersion string
	TaskID         string
}

// Token is an issued token.
type Token struct {
	AccessToken     string
	TokenType       string
	IssuedTokenType string
	// Expiry is when the token stops working, by the client's clock.
	Expiry time.Time
}

// Error is an OAuth error response (RFC 6749 section 5.2).
type Error struct {
	StatusCode  int
	Code        string
	Description string
}

func (e *Error) Error() string {
	return fmt.Sprintf("sts: %s (HTTP %d): %s", e.Code, e.StatusCode, e.Description)
}

// Bootstrap authenticates with a client id and secret and returns the
// bootstrap token, which is only good for Exchange.
func (c *Client) Bootstrap(ctx context.Context, clientID, secret string, attest Attestation) (Token, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {secret},
	}
	setIf(form, "agent_id", attest.AgentID)
	setIf(form, "harness_version", attest.HarnessVersion)
	setIf(form, "task_id", attest.TaskID)
	tok, err := c.post(ctx, form)
	if err != nil {
		return Token{}, fmt.Errorf("bootstrap %s: %w", clientID, err)
	}
	return tok, nil
}

// Exchange trades a bootstrap token for a token whose audience is resource.
// actorToken, when not empty, is the bootstrap token of the agent acting for
// the subject; the issued token then names it in act.
func (c *Client) Exchange(ctx context.Context, subjectToken, resource, actorToken string) (Token, error) {
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subjectToken},
		"subject_token_type": {TokenTypeJWT},
		"resource":           {resource},
	}
	if actorToken != "" {
		form.Set("actor_token", actorToken)
		form.Set("actor_token_type", TokenTypeJWT)
	}
	tok, err := c.post(ctx, form)
	if err != nil {
		return Token{}, fmt.Errorf("exchange for %s: %w", resource, err)
	}
	return tok, nil
}

func setIf(form url.Values, key, value string) {
	if value != "" {
		form.Set(key, value)
	}
}

func (c *Client) post(ctx context.Context, form url.Values) (Token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("POST %s: %w", c.tokenURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return Token{}, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		oe := &Error{StatusCode: resp.StatusCode}
		var wire struct {
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &wire) == nil && wire.Code != "" {
			oe.Code, oe.Description = wire.Code, wire.Description
		} else {
			oe.Code, oe.Description = "http_error", strings.TrimSpace(string(body[:min(len(body), 256)]))
		}
		return Token{}, oe
	}
	var wire struct {
		AccessToken     string `json:"access_token"`
		TokenType       string `json:"token_type"`
		IssuedTokenType string `json:"issued_token_type"`
		ExpiresIn       int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return Token{}, fmt.Errorf("decode token response: %w", err)
	}
	if wire.AccessToken == "" {
		return Token{}, errors.New("token response has no access_token")
	}
	tok := Token{AccessToken: wire.AccessToken, TokenType: wire.TokenType, IssuedTokenType: wire.IssuedTokenType}
	if wire.ExpiresIn > 0 {
		// Counted from when the request was sent, so the client errs early.
		tok.Expiry = start.Add(time.Duration(wire.ExpiresIn) * time.Second)
	}
	return tok, nil
}
