package bypass

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"

	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/security/forge"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// The principals the corpus acts as, with the ticket each one's task is bound to. Alice works
// T-1001, the ticket of the $9,000 refund, so that a refund on it is denied for the cap and not
// as cross-ticket.
var (
	Alice  = scenarios.Alice
	Triage = scenarios.Triage
	Carol  = scenarios.Carol
)

var tickets = map[string]string{Alice.Name: "T-1001", Triage.Name: "T-2001", Carol.Name: "T-2001"}

// CredentialsConfig says where tokens come from.
type CredentialsConfig struct {
	STSURL        string
	ExpiredSTSURL string
	// DriverSTSURL, where SPIRE runs, is the test driver's own STS: the one that issues the
	// triage workload's tokens to this process (scenarios.Env.DriverSTSURL).
	DriverSTSURL string
	Admin        *admin.Client
	// SigningKeyPEM is the STS's own key: forgeries that are wrong in one claim only are signed
	// with it, so the claim, not the signature, is what must be refused.
	SigningKeyPEM []byte
	// RunID makes task ids unique across runs.
	RunID string
}

// Credentials hands out genuine, expired and forged tokens for the corpus.
type Credentials struct {
	cfg     CredentialsConfig
	stsKey  *ecdsa.PrivateKey
	kid     string
	foreign *ecdsa.PrivateKey

	mu      sync.Mutex
	sources map[string]*identity.Source
	atts    map[string]identity.Attestation
}

// NewCredentials creates a task for each principal through synapse's admin API and fetches
// one genuine token to learn the STS's key id.
func NewCredentials(ctx context.Context, cfg CredentialsConfig) (*Credentials, error) {
	key, err := forge.ParseKey(cfg.SigningKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("the STS signing key: %w", err)
	}
	foreign, err := forge.NewKey()
	if err != nil {
		return nil, err
	}
	c := &Credentials{
		cfg: cfg, stsKey: key, foreign: foreign, kid: forge.Thumbprint(&key.PublicKey),
		sources: map[string]*identity.Source{}, atts: map[string]identity.Attestation{},
	}
	for _, a := range []scenarios.Actor{Alice, Triage, Carol} {
		id := fmt.Sprintf("%s-security-%s-%s", cfg.RunID, a.Name, tickets[a.Name])
		if _, err := cfg.Admin.Create(ctx, tasks.NewTask{ID: id, Principal: a.Creds.ClientID, AgentID: a.AgentID, TicketID: tickets[a.Name]}); err != nil {
			return nil, fmt.Errorf("create the task of %s: %w", a.Name, err)
		}
		att := identity.Attestation{AgentID: a.AgentID, HarnessVersion: "security", TaskID: id}
		src, err := identity.NewSource(identity.SourceConfig{
			STS: &identity.STSClient{TokenURL: a.STS(cfg.STSURL, cfg.DriverSTSURL) + "/oauth2/token"}, Subject: a.Creds, Attestation: att,
		})
		if err != nil {
			return nil, err
		}
		c.sources[a.Name], c.atts[a.Name] = src, att
	}
	genuine, err := c.Token(ctx, Alice, "llm")
	if err != nil {
		return nil, err
	}
	h, err := forge.ReadHeader(genuine)
	if err != nil {
		return nil, err
	}
	if h["kid"] != c.kid {
		return nil, fmt.Errorf("the STS signs with kid %v, not the thumbprint %s of the key it was given", h["kid"], c.kid)
	}
	return c, nil
}

// Token is a's genuine token for resource.
func (c *Credentials) Token(ctx context.Context, a scenarios.Actor, resource string) (string, error) {
	c.mu.Lock()
	src, ok := c.sources[a.Name]
	c.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("no credentials for %s", a.Name)
	}
	tok, err := src.Token(ctx, resource)
	if err != nil {
		return "", fmt.Errorf("token of %s for %s: %w", a.Name, resource, err)
	}
	return tok, nil
}

// TaskID is the id of a's task.
func (c *Credentials) TaskID(a scenarios.Actor) string { return c.atts[a.Name].TaskID }

// TokenForTask is a genuine token of a for resource whose bootstrap attested taskID: the STS
// signs what the launcher attests, so only synapse's task registry can tell that the task is
// not a's.
func (c *Credentials) TokenForTask(ctx context.Context, a scenarios.Actor, taskID, resource string) (string, error) {
	sts := &identity.STSClient{TokenURL: a.STS(c.cfg.STSURL, c.cfg.DriverSTSURL) + "/oauth2/token"}
	att := c.atts[a.Name]
	att.TaskID = taskID
	boot, err := sts.Bootstrap(ctx, a.Creds, att)
	if err != nil {
		return "", fmt.Errorf("bootstrap %s on task %s: %w", a.Name, taskID, err)
	}
	tok, err := sts.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: resource})
	if err != nil {
		return "", fmt.Errorf("exchange for %s: %w", resource, err)
	}
	return tok.Value, nil
}

// Expired is a's token for resource from the STS whose clock runs an hour behind: signed by
// the real key, for the right audience, and expired.
func (c *Credentials) Expired(ctx context.Context, a scenarios.Actor, resource string) (string, error) {
	sts := &identity.STSClient{TokenURL: c.cfg.ExpiredSTSURL + "/oauth2/token"}
	boot, err := sts.Bootstrap(ctx, a.Creds, c.atts[a.Name])
	if err != nil {
		return "", fmt.Errorf("expired STS bootstrap: %w", err)
	}
	tok, err := sts.Exchange(ctx, identity.ExchangeRequest{SubjectToken: boot.Value, Resource: resource})
	if err != nil {
		return "", fmt.Errorf("expired STS exchange: %w", err)
	}
	return tok.Value, nil
}

// Claims are the claims of a's genuine token for resource, to copy into a forgery.
func (c *Credentials) Claims(ctx context.Context, a scenarios.Actor, resource string) (forge.Claims, error) {
	tok, err := c.Token(ctx, a, resource)
	if err != nil {
		return nil, err
	}
	return forge.ReadClaims(tok)
}

// Escalated are a's genuine claims for resource, rewritten to make a payroll-admin of a: what
// a forger wants a verifier to believe.
func (c *Credentials) Escalated(ctx context.Context, a scenarios.Actor, resource string) (forge.Claims, error) {
	claims, err := c.Claims(ctx, a, resource)
	if err != nil {
		return nil, err
	}
	return claims.Edit(forge.Claims{"roles": []string{"payroll-admin"}}), nil
}

// SignAsSTS signs with the STS's real key and key id.
func (c *Credentials) SignAsSTS(h forge.Header, claims forge.Claims) (string, error) {
	return forge.ES256(c.stsKey, withKid(h, c.kid), claims)
}

// SignForeign signs with a key the STS never published; h may claim any kid.
func (c *Credentials) SignForeign(h forge.Header, claims forge.Claims) (string, error) {
	return forge.ES256(c.foreign, h, claims)
}

// Kid is the STS's key id; STSPublicKey its public key.
func (c *Credentials) Kid() string { return c.kid }

// STSPublicKey is the STS's public key.
func (c *Credentials) STSPublicKey() *ecdsa.PublicKey { return &c.stsKey.PublicKey }

// ForeignPublicKey is the public half of the forger's key.
func (c *Credentials) ForeignPublicKey() *ecdsa.PublicKey { return &c.foreign.PublicKey }

// ErrNoSession means the gateway did not hand out an MCP session id.
var ErrNoSession = errors.New("no Mcp-Session-Id in the answer to initialize")

func withKid(h forge.Header, kid string) forge.Header {
	out := forge.Header{"kid": kid}
	for k, v := range h {
		out[k] = v
	}
	return out
}
