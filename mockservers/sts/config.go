package sts

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"
)

// Defaults of CONTRACTS.md "Tokens".
const (
	DefaultIssuer       = "https://sts.hopguard.local"
	DefaultTTL          = 5 * time.Minute
	DefaultBootstrapTTL = time.Hour
	// BootstrapAudience is the aud of a bootstrap token: it is only good
	// for exchange at this STS.
	BootstrapAudience = "sts"
)

// Principal is a subject the STS knows, with its bootstrap credential: a secret, or for a
// SPIFFE workload none, its JWT-SVID being its proof (Config.SVIDs).
type Principal struct {
	ID     string
	Secret string
	Roles  []string
}

// attested says whether p proves itself with a JWT-SVID rather than a secret.
func (p Principal) attested() bool { return p.Secret == "" }

// DemoPrincipals are the principals of CONTRACTS.md.
func DemoPrincipals() []Principal {
	return []Principal{
		{ID: "alice", Secret: "alice-secret", Roles: []string{"tier-1-support"}},
		{ID: "bob", Secret: "bob-secret", Roles: []string{"tier-2-lead"}},
		{ID: "carol", Secret: "carol-secret", Roles: []string{"payroll-admin"}},
		{ID: "spiffe://hopguard.local/ns/agents/sa/triage", Secret: "triage-secret", Roles: []string{"triage-agent"}},
		// The MCP conformance framework's client, allowed everything on the fixture server alone.
		{ID: "mcp-conformance", Secret: "mcp-conformance-secret", Roles: []string{"mcp-conformance"}},
	}
}

// AttestedPrincipals is principals with the secrets of its SPIFFE workloads taken away: each
// of them then proves itself with its JWT-SVID only (Config.SVIDs).
func AttestedPrincipals(principals []Principal) []Principal {
	out := slices.Clone(principals)
	for i := range out {
		if isSPIFFEID(out[i].ID) {
			out[i].Secret = ""
		}
	}
	return out
}

// DemoResources are the resources a token can be exchanged for.
func DemoResources() []string {
	return []string{"llm", "mcp:tickets", "mcp:crm", "mcp:payments", "mcp:payroll", "mcp:knowledge", "mcp:conformance"}
}

// Config configures the STS. Zero fields take the defaults above.
type Config struct {
	Issuer       string
	TTL          time.Duration
	BootstrapTTL time.Duration
	Principals   []Principal
	Resources    []string
	// Key signs every token; nil generates a P-256 key at start.
	Key *ecdsa.PrivateKey
	// Now is the clock for issuing and checking tokens; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// SVIDs, when set, lets a principal without a secret (a SPIFFE workload) authenticate with
	// a JWT-SVID as its client assertion (svid.go).
	SVIDs *SVIDVerifier
}

func (c Config) withDefaults() Config {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.BootstrapTTL == 0 {
		c.BootstrapTTL = DefaultBootstrapTTL
	}
	if c.Principals == nil {
		c.Principals = DemoPrincipals()
	}
	if c.Resources == nil {
		c.Resources = DemoResources()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports what is wrong with a configuration (after defaults).
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("issuer %q is not an absolute URL", c.Issuer))
	}
	if c.TTL < time.Second || c.BootstrapTTL < time.Second {
		errs = append(errs, fmt.Errorf("token lifetimes must be at least a second (ttl %s, bootstrap ttl %s)", c.TTL, c.BootstrapTTL))
	}
	seen := map[string]bool{}
	for _, p := range c.Principals {
		switch {
		case p.ID == "":
			errs = append(errs, errors.New("every principal needs an id"))
		case p.attested() && !isSPIFFEID(p.ID):
			errs = append(errs, fmt.Errorf("principal %q has no secret, which only a SPIFFE workload (attested by its JWT-SVID) may lack", p.ID))
		case seen[p.ID]:
			errs = append(errs, fmt.Errorf("principal %q is listed twice", p.ID))
		}
		seen[p.ID] = true
	}
	if len(c.Resources) == 0 || slices.Contains(c.Resources, "") {
		errs = append(errs, errors.New("resources must be a non-empty list of names"))
	}
	if slices.Contains(c.Resources, BootstrapAudience) {
		errs = append(errs, fmt.Errorf("%q is the bootstrap audience, not a resource", BootstrapAudience))
	}
	return errors.Join(errs...)
}
