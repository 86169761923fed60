package sts_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/mockservers/sts"
)

const triage = "spiffe://hopguard.local/ns/agents/sa/triage"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	sts    *sts.Server
	http   *httptest.Server
	client *identity.STSClient
	clock  *clock
}

func start(t *testing.T, cfg sts.Config) fixture {
	t.Helper()
	clk := &clock{now: time.Now().Truncate(time.Second)}
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	s, err := sts.New(cfg)
	require.NoError(t, err)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return fixture{sts: s, http: hs, client: &identity.STSClient{TokenURL: hs.URL + sts.TokenPath, HTTPClient: hs.Client()}, clock: clk}
}

// verifyWithJWKS checks a token the way a relying party does: key from the
// published JWKS by kid, ES256 only, then returns the raw claims.
func verifyWithJWKS(t *testing.T, hs *httptest.Server, token string) map[string]any {
	t.Helper()
	resp, err := hs.Client().Get(hs.URL + sts.JWKSPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))

	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	require.NoError(t, err)
	require.Len(t, parsed.Headers, 1)
	keys := set.Key(parsed.Headers[0].KeyID)
	require.Len(t, keys, 1, "the token's kid is in the JWKS")
	assert.Equal(t, "ES256", keys[0].Algorithm)
	var claims map[string]any
	require.NoError(t, parsed.Claims(keys[0].Key, &claims))
	return claims
}

func TestExchangeRoundTripVerifiesAgainstJWKS(t *testing.T) {
	f := start(t, sts.Config{})
	ctx := context.Background()
	boot, err := f.client.Bootstrap(ctx, identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"},
		identity.Attestation{AgentID: "support-agent", HarnessVersion: "1.2.3", TaskID: "task-42"})
	require.NoError(t, err)
	assert.Equal(t, identity.TokenTypeJWT, boot.IssuedAs)

	tok, err := f.client.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: "mcp:payments"})
	require.NoError(t, err)
	// identity refuses any token_type but Bearer; TestBootstrapWithBasicAuth checks the wire value.
	assert.Equal(t, "Bearer", tok.Type)
	assert.Equal(t, identity.TokenTypeJWT, tok.IssuedAs)

	claims := verifyWithJWKS(t, f.http, tok.Value)
	now := float64(f.clock.Now().Unix())
	assert.Equal(t, sts.DefaultIssuer, claims["iss"])
	assert.Equal(t, "alice", claims["sub"])
	assert.Equal(t, "mcp:payments", claims["aud"], "aud is a single string")
	assert.Equal(t, []any{"tier-1-support"}, claims["roles"])
	assert.Equal(t, "support-agent", claims["agent_id"])
	assert.Equal(t, "1.2.3", claims["harness_version"])
	assert.Equal(t, "task-42", claims["task_id"])
	assert.Equal(t, now, claims["iat"])
	assert.Equal(t, now, claims["nbf"])
	assert.Equal(t, now+300, claims["exp"], "default TTL is five minutes")
	assert.NotEmpty(t, claims["jti"])
	assert.NotContains(t, claims, "act")

	bootClaims := verifyWithJWKS(t, f.http, boot.Value)
	assert.Equal(t, "sts", bootClaims["aud"])
}

func TestExchangeWithActor(t *testing.T) {
	f := start(t, sts.Config{})
	ctx := context.Background()
	user, err := f.client.Bootstrap(ctx, identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"}, identity.Attestation{})
	require.NoError(t, err)
	agent, err := f.client.Bootstrap(ctx, identity.ClientCredentials{ClientID: triage, ClientSecret: "triage-secret"}, identity.Attestation{AgentID: "triage", TaskID: "task-7"})
	require.NoError(t, err)

	tok, err := f.client.Exchange(ctx, identity.ExchangeRequest{SubjectToken: user.Value, Resource: "llm", ActorToken: agent.Value})
	require.NoError(t, err)
	claims := verifyWithJWKS(t, f.http, tok.Value)
	assert.Equal(t, "alice", claims["sub"])
	assert.Equal(t, []any{"tier-1-support"}, claims["roles"], "the user's roles, not the agent's")
	assert.Equal(t, map[string]any{"sub": triage}, claims["act"])
	assert.Equal(t, "triage", claims["agent_id"], "attestation falls back to the actor's")
	assert.Equal(t, "task-7", claims["task_id"])
}

func TestExchangedTokenNeverOutlivesItsSubject(t *testing.T) {
	f := start(t, sts.Config{BootstrapTTL: 2 * time.Minute})
	ctx := context.Background()
	boot, err := f.client.Bootstrap(ctx, identity.ClientCredentials{ClientID: "bob", ClientSecret: "bob-secret"}, identity.Attestation{})
	require.NoError(t, err)
	f.clock.Advance(90 * time.Second)
	tok, err := f.client.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: "mcp:tickets"})
	require.NoError(t, err)
	claims := verifyWithJWKS(t, f.http, tok.Value)
	assert.Equal(t, float64(f.clock.Now().Unix()+30), claims["exp"])
}

func TestTokenErrors(t *testing.T) {
	f := start(t, sts.Config{})
	other := start(t, sts.Config{})
	ctx := context.Background()
	alice, err := f.client.Bootstrap(ctx, identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"}, identity.Attestation{})
	require.NoError(t, err)
	foreign, err := other.client.Bootstrap(ctx, identity.ClientCredentials{ClientID: "alice", ClientSecret: "alice-secret"}, identity.Attestation{})
	require.NoError(t, err)
	scoped, err := f.client.Exchange(ctx, identity.ExchangeRequest{SubjectToken: alice.Value, Resource: "llm"})
	require.NoError(t, err)
	forge := func(mutate func(*sts.Claims)) string {
		c := sts.Claims{Roles: []string{"tier-2-lead"}}
		c.Issuer, c.Subject, c.Audience = sts.DefaultIssuer, "alice", jwt.Audience{"sts"}
		c.Expiry = jwt.NewNumericDate(f.clock.Now().Add(time.Hour))
		mutate(&c)
		tok, err := f.sts.Sign(c)
		require.NoError(t, err)
		return tok
	}
	exchange := func(subject string) url.Values {
		return url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {subject},
			"subject_token_type": {identity.TokenTypeJWT}, "resource": {"llm"},
		}
	}
	with := func(v url.Values, key, value string) url.Values {
		v = maps.Clone(v)
		v.Set(key, value)
		return v
	}

	tests := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"mallory"}, "client_secret": {"x"}}, 401, "invalid_client"},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"alice"}, "client_secret": {"bob-secret"}}, 401, "invalid_client"},
		{"empty secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"alice"}}, 401, "invalid_client"},
		{"no grant type", url.Values{}, 400, "invalid_request"},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, 400, "invalid_request"},
		{"unknown resource", with(exchange(alice.Value), "resource", "mcp:billing"), 400, "invalid_target"},
		{"bootstrap audience is no resource", with(exchange(alice.Value), "resource", "sts"), 400, "invalid_target"},
		{"missing resource", with(exchange(alice.Value), "resource", ""), 400, "invalid_request"},
		{"missing subject token", exchange(""), 400, "invalid_request"},
		{"wrong subject token type", with(exchange(alice.Value), "subject_token_type", "urn:ietf:params:oauth:token-type:saml2"), 400, "invalid_request"},
		{"garbage subject token", exchange("not-a-jwt"), 400, "invalid_grant"},
		{"signed by another key", exchange(foreign.Value), 400, "invalid_grant"},
		{"tampered payload", exchange(tamper(t, alice.Value)), 400, "invalid_grant"},
		{"scoped token is not a bootstrap token", exchange(scoped.Value), 400, "invalid_grant"},
		{"expired", exchange(forge(func(c *sts.Claims) { c.Expiry = jwt.NewNumericDate(f.clock.Now().Add(-time.Second)) })), 400, "invalid_grant"},
		{"no exp", exchange(forge(func(c *sts.Claims) { c.Expiry = nil })), 400, "invalid_grant"},
		{"unknown subject", exchange(forge(func(c *sts.Claims) { c.Subject = "mallory" })), 400, "invalid_grant"},
		{"other issuer", exchange(forge(func(c *sts.Claims) { c.Issuer = "https://evil.example" })), 400, "invalid_grant"},
		{"bad actor token", with(with(exchange(alice.Value), "actor_token", "x.y.z"), "actor_token_type", identity.TokenTypeJWT), 400, "invalid_grant"},
		{"actor token without type", with(exchange(alice.Value), "actor_token", alice.Value), 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.http.Client().PostForm(f.http.URL+sts.TokenPath, tt.form)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.code, body.Error)
			assert.NotEmpty(t, body.Description)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		})
	}
}

func TestExpiredBootstrapTokenIsRefused(t *testing.T) {
	f := start(t, sts.Config{BootstrapTTL: time.Minute})
	ctx := context.Background()
	boot, err := f.client.Bootstrap(ctx, identity.ClientCredentials{ClientID: "carol", ClientSecret: "carol-secret"}, identity.Attestation{})
	require.NoError(t, err)
	_, err = f.client.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: "mcp:payroll"})
	require.NoError(t, err)

	f.clock.Advance(time.Minute + time.Second)
	_, err = f.client.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: "mcp:payroll"})
	var oe *identity.OAuthError
	require.True(t, errors.As(err, &oe), "want *identity.OAuthError, got %v", err)
	assert.Equal(t, "invalid_grant", oe.Code)
	assert.Contains(t, oe.Description, "expired")
}

func TestBootstrapWithBasicAuth(t *testing.T) {
	f := start(t, sts.Config{})
	req, err := http.NewRequest(http.MethodPost, f.http.URL+sts.TokenPath, strings.NewReader("grant_type=client_credentials"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bob", "bob-secret")
	resp, err := f.http.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, "bob", verifyWithJWKS(t, f.http, body.AccessToken)["sub"])
	assert.Equal(t, "Bearer", body.TokenType)
	assert.EqualValues(t, 3600, body.ExpiresIn)

	entries := f.sts.Journal().Entries()
	require.Len(t, entries, 2)
	assert.Equal(t, sts.TokenPath, entries[0].Path)
	assert.Equal(t, "other", string(entries[0].Credential), "basic auth is recorded as its kind, never its value")
}

func tamper(t *testing.T, token string) string {
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	payload = []byte(strings.Replace(string(payload), `"alice"`, `"bob__"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}
