// Package identity gets the agent its credentials: a bootstrap token for the
// principal it runs as, exchanged at the STS for one short-lived token per
// resource (the LLM, each MCP server), so that a token lifted from one route
// is useless on every other.
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The RFC 8693 and RFC 6749 identifiers the STS speaks.
const (
	GrantClientCredentials = "client_credentials"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
)

// maxResponseBytes bounds what is read from the STS: a token response is a
// few kilobytes, and the STS is not trusted to stop on its own.
const maxResponseBytes = 1 << 20

// Token is an access token and when it stops being valid.
type Token struct {
	// Value is the bearer credential itself. Never log it.
	Value     string
	Type      string
	IssuedAs  string
	ExpiresAt time.Time
}

// String keeps the secret out of logs and error messages.
func (t Token) String() string {
	return fmt.Sprintf("%s token (%d bytes, expires %s)", t.Type, len(t.Value), t.ExpiresAt.Format(time.RFC3339))
}

// OAuthError is an error response from the STS (RFC 6749 section 5.2).
type OAuthError struct {
	StatusCode  int
	Code        string
	Description string
}

func (e *OAuthError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("sts: %d %s", e.StatusCode, e.Code)
	}
	return fmt.Sprintf("sts: %d %s: %s", e.StatusCode, e.Code, e.Description)
}

// Attestation is what the launcher vouches for about this run; the STS puts it
// in every token it issues, and the policies read it.
type Attestation struct {
	AgentID        string
	HarnessVersion string
	TaskID         string
}

// ClientCredentials is a bootstrap credential: a user's, when the agent acts
// for an employee, or the workload's own when it runs autonomously. A workload
// proves itself with its SPIFFE identity instead of a secret.
type ClientCredentials struct {
	ClientID     string
	ClientSecret string
	// SPIFFE, when set, replaces ClientSecret: the workload's JWT-SVID is its
	// proof, and ClientID must be its SPIFFE ID.
	SPIFFE *SPIFFE
}

// check says what is missing from creds: an id, and exactly one proof.
func (creds ClientCredentials) check() error {
	switch {
	case creds.ClientID == "":
		return errors.New("a client id is required")
	case creds.SPIFFE != nil && creds.ClientSecret != "":
		return errors.New("a client secret or a SPIFFE identity, not both")
	case creds.SPIFFE == nil && creds.ClientSecret == "":
		return errors.New("a client secret or a SPIFFE identity is required")
	}
	return nil
}

// ExchangeRequest asks for a token for one resource.
type ExchangeRequest struct {
	SubjectToken string
	Resource     string
	// ActorToken is the agent workload's bootstrap token when it acts for the
	// user the subject token names; empty when the agent acts as itself.
	ActorToken string
}

// STSClient speaks the STS's token endpoint.
//
// It is written by hand because golang.org/x/oauth2 has no RFC 8693 token
// exchange client: golang/oauth2#409 asking for one is still open, and its
// only exchange code (v0.36.0) is google/internal/stsexchange, internal and
// Google-specific. The agent must work against any STS that speaks the
// contract in CONTRACTS.md.
type STSClient struct {
	// TokenURL is the STS's token endpoint, e.g. http://127.0.0.1:8081/oauth2/token.
	TokenURL string
	// HTTPClient defaults to http.DefaultClient.
	HTTPClient *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
}

// Bootstrap gets a bootstrap token for creds with the client_credentials grant.
func (c *STSClient) Bootstrap(ctx context.Context, creds ClientCredentials, att Attestation) (Token, error) {
	if err := creds.check(); err != nil {
		return Token{}, fmt.Errorf("sts bootstrap: %w", err)
	}
	form := url.Values{
		"grant_type": {GrantClientCredentials},
		"client_id":  {creds.ClientID},
	}
	if creds.SPIFFE != nil {
		svid, id, err := creds.SPIFFE.svid(ctx)
		if err != nil {
			return Token{}, fmt.Errorf("sts bootstrap for %q: %w", creds.ClientID, err)
		}
		if id != creds.ClientID {
			return Token{}, fmt.Errorf("sts bootstrap: the Workload API attests this process as %s, not %s", id, creds.ClientID)
		}
		form.Set("client_assertion_type", AssertionTypeSPIFFE)
		form.Set("client_assertion", svid)
	} else {
		form.Set("client_secret", creds.ClientSecret)
	}
	setIf(form, "agent_id", att.AgentID)
	setIf(form, "harness_version", att.HarnessVersion)
	setIf(form, "task_id", att.TaskID)
	tok, err := c.post(ctx, form)
	if err != nil {
		return Token{}, fmt.Errorf("sts bootstrap for %q: %w", creds.ClientID, err)
	}
	return tok, nil
}

// Exchange trades a subject token (and optionally an actor token) for a token
// whose audience is req.Resource (RFC 8693).
func (c *STSClient) Exchange(ctx context.Context, req ExchangeRequest) (Token, error) {
	if req.SubjectToken == "" || req.Resource == "" {
		return Token{}, errors.New("sts exchange: subject token and resource are required")
	}
	form := url.Values{
		"grant_type":         {GrantTokenExchange},
		"subject_token":      {req.SubjectToken},
		"subject_token_type": {TokenTypeJWT},
		"resource":           {req.Resource},
	}
	if req.ActorToken != "" {
		form.Set("actor_token", req.ActorToken)
		form.Set("actor_token_type", TokenTypeJWT)
	}
	tok, err := c.post(ctx, form)
	if err != nil {
		return Token{}, fmt.Errorf("sts exchange for %q: %w", req.Resource, err)
	}
	return tok, nil
}

type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
}

type errorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (c *STSClient) post(ctx context.Context, form url.Values) (Token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	sent := now()
	resp, err := hc.Do(req)
	if err != nil {
		return Token{}, err // a *url.Error: it names the method and URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return Token{}, fmt.Errorf("read response: %w", err)
	}
	if len(body) > maxResponseBytes {
		return Token{}, fmt.Errorf("response larger than %d bytes", maxResponseBytes)
	}

	if resp.StatusCode != http.StatusOK {
		oe := &OAuthError{StatusCode: resp.StatusCode, Code: http.StatusText(resp.StatusCode)}
		var er errorResponse
		if isJSON(resp.Header) && json.Unmarshal(body, &er) == nil && er.Error != "" {
			oe.Code, oe.Description = er.Error, er.ErrorDescription
		}
		return Token{}, oe
	}

	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return Token{}, fmt.Errorf("decode token response: %w", err)
	}
	if tr.AccessToken == "" {
		return Token{}, errors.New("token response has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return Token{}, fmt.Errorf("token type %q, want Bearer", tr.TokenType)
	}
	if tr.ExpiresIn <= 0 {
		return Token{}, fmt.Errorf("token response expires_in %d, want a positive lifetime", tr.ExpiresIn)
	}
	return Token{
		Value:     tr.AccessToken,
		Type:      "Bearer",
		IssuedAs:  tr.IssuedTokenType,
		ExpiresAt: sent.Add(time.Duration(tr.ExpiresIn) * time.Second),
	}, nil
}

func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func setIf(form url.Values, key, value string) {
	if value != "" {
		form.Set(key, value)
	}
}
