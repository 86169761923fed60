package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
)

// BenchmarkVerify measures the token check every hop pays, on the token shape the STS issues
// (CONTRACTS.md "Tokens"), with the key set already fetched. "same_token" is what a gateway sees
// in practice: an agent reuses its per-resource token for every call until it expires.
// "fresh_tokens" cycles through more distinct tokens than any cache would keep: the cost of a
// token seen for the first time.
func BenchmarkVerify(b *testing.B) {
	iss := identitytest.NewIssuer(b)
	keys := identity.NewKeySet(identity.KeySetConfig{URL: iss.JWKSURL()})
	v := identity.NewVerifier(keys, identitytest.DefaultIssuer, 30*time.Second)
	mint := func() string {
		return iss.Mint(b, identitytest.Token{
			Subject: "alice", Audience: "mcp:payments", Roles: []string{"tier-1-support"},
			AgentID: "triage", HarnessVersion: "1.0.0", TaskID: "task-1",
		})
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint(), "mcp:payments"); err != nil {
		b.Fatal(err) // also fetches the keys
	}

	fresh := make([]string, 10000)
	for i := range fresh {
		fresh[i] = mint()
	}
	for _, bm := range []struct {
		name   string
		tokens []string
	}{
		{"same_token", fresh[:1]},
		{"fresh_tokens", fresh},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := v.Verify(ctx, bm.tokens[i%len(bm.tokens)], "mcp:payments"); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
