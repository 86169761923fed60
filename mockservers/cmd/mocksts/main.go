// Command mocksts serves the demo's identity provider and token exchange
// service on loopback.
package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/hopguard/hopguard/mockservers/internal/serve"
	"github.com/hopguard/hopguard/mockservers/sts"
)

const usage = `mocksts serves the demo's identity provider and security token service.

Endpoints:
  POST /oauth2/token   grant_type=client_credentials (bootstrap token, aud "sts")
                       grant_type=urn:ietf:params:oauth:grant-type:token-exchange
                       (RFC 8693; resource = llm | mcp:tickets | mcp:crm |
                       mcp:payments | mcp:payroll)
  GET /.well-known/jwks.json, GET /.well-known/openid-configuration
  GET /_journal, POST /_reset

Principals (client_id / client_secret): alice / alice-secret (tier-1-support),
bob / bob-secret (tier-2-lead), carol / carol-secret (payroll-admin),
spiffe://hopguard.local/ns/agents/sa/triage / triage-secret (triage-agent).

With --spiffe-socket (a SPIFFE Workload API, e.g. SPIRE's agent), the SPIFFE
workloads among them (the triage agent) have no secret: each proves itself with
a JWT-SVID for audience --issuer, sent as client_assertion with
client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-spiffe,
and verified against the JWT bundles the Workload API gives this STS, which
must itself be a registered workload there.

Tokens are ES256 JWTs. The signing key is generated at start and kept in
memory unless --key-file names a PEM P-256 private key. Once bound it prints
"listening on http://HOST:PORT" on stdout.

Usage: mocksts [flags]

Flags:
`

func main() { serve.Main("mocksts", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := serve.NewFlags("mocksts", usage, "127.0.0.1:18090", stderr)
	issuer := fs.String("issuer", sts.DefaultIssuer, "`iss` of every token")
	ttl := fs.Duration("ttl", sts.DefaultTTL, "lifetime of per-resource tokens")
	bootstrapTTL := fs.Duration("bootstrap-ttl", sts.DefaultBootstrapTTL, "lifetime of bootstrap tokens")
	keyFile := fs.String("key-file", "", "PEM P-256 private key `file` to sign with (default: generate one at start)")
	offset := fs.Duration("clock-offset", 0, "shift the STS clock by this `duration` (e.g. -1h issues tokens that are already expired)")
	spiffeSocket := fs.String("spiffe-socket", "", "SPIFFE Workload API `address` (unix:///path): SPIFFE workloads authenticate with JWT-SVIDs verified against its bundles, and have no secret")
	logger, err := fs.Parse(args)
	if err != nil {
		return err
	}
	cfg := sts.Config{Issuer: *issuer, TTL: *ttl, BootstrapTTL: *bootstrapTTL, Logger: logger}
	if *spiffeSocket != "" {
		bundles, err := workloadapi.NewJWTSource(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(*spiffeSocket)))
		if err != nil {
			return fmt.Errorf("the JWT bundles of the SPIFFE Workload API at %s (is this STS a registered workload there?): %w", *spiffeSocket, err)
		}
		defer bundles.Close()
		cfg.SVIDs = &sts.SVIDVerifier{Bundles: bundles, Audience: *issuer}
		cfg.Principals = sts.AttestedPrincipals(sts.DemoPrincipals())
	}
	if *keyFile != "" {
		if cfg.Key, err = sts.LoadKeyFile(*keyFile); err != nil {
			return err
		}
	}
	if *offset != 0 {
		shift := *offset
		cfg.Now = func() time.Time { return time.Now().Add(shift) }
	}
	srv, err := sts.New(cfg)
	if err != nil {
		return err
	}
	logger.Info("STS ready", "issuer", srv.Issuer(), "kid", srv.JWKS().Keys[0].KeyID)
	return serve.Run(ctx, serve.Options{Addr: *fs.Addr, Handler: srv, Logger: logger, Stdout: stdout})
}
