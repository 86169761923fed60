package visibility_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/visibility"
)

var (
	sealedAt = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	keyOne   = []byte("0123456789abcdef0123456789abcdef")
	keyTwo   = []byte("fedcba9876543210fedcba9876543210")
)

const grantTTL = 2 * time.Minute

// aliceGrant is a grant as synapse/authz makes one: the principal Cerbos saw, attributes nested.
var aliceGrant = visibility.Grant{
	Principal: pdp.Principal{ID: "alice", Roles: []string{"tier-1-support"}, Attr: map[string]any{
		"agent_id": "triage", "acting_for": "alice", "actor": "spiffe://hopguard.local/ns/agents/sa/triage",
		"task": map[string]any{"id": "task-1", "status": "active", "ticket_id": "T-1001"},
	}},
	Kind:     "mcp:tickets",
	Metadata: pdp.Metadata{DecisionID: "dec-1", AgentID: "triage", HarnessVersion: "1.0.0", TaskID: "task-1"},
}

func sealer(t *testing.T, key []byte) *visibility.Sealer {
	t.Helper()
	s, err := visibility.NewSealer(key, grantTTL)
	require.NoError(t, err)
	return s
}

func seal(t *testing.T, key []byte, decisionID string) string {
	t.Helper()
	v, err := sealer(t, key).Seal(decisionID, aliceGrant, sealedAt)
	require.NoError(t, err)
	return v
}

// flip changes one bit of the sealed bytes at i (negative: from the end).
func flip(t *testing.T, sealed string, i int) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	require.NoError(t, err)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestSealedGrantsOpenOnlyForTheirRequestWithTheKeyInTime(t *testing.T) {
	good := seal(t, keyOne, "dec-1")
	tests := []struct {
		name       string
		sealed     string
		key        []byte
		decisionID string
		at         time.Time
		want       error
	}{
		{name: "good", sealed: good, key: keyOne, decisionID: "dec-1", at: sealedAt},
		{name: "good until just before it expires", sealed: good, key: keyOne, decisionID: "dec-1", at: sealedAt.Add(grantTTL - time.Millisecond)},
		{name: "opened by another replica with the same key", sealed: good, key: append([]byte(nil), keyOne...), decisionID: "dec-1", at: sealedAt.Add(time.Second)},
		{name: "expired", sealed: good, key: keyOne, decisionID: "dec-1", at: sealedAt.Add(grantTTL), want: visibility.ErrGrantExpired},
		{name: "another request's decision id", sealed: good, key: keyOne, decisionID: "dec-2", at: sealedAt, want: visibility.ErrGrantMismatch},
		{name: "no decision id", sealed: good, key: keyOne, decisionID: "", at: sealedAt, want: visibility.ErrGrantMismatch},
		{name: "another key", sealed: good, key: keyTwo, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantForged},
		{name: "a longer key sharing its first bytes", sealed: good, key: append(append([]byte(nil), keyOne...), 'x'), decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantForged},
		{name: "forged: ciphertext altered", sealed: flip(t, good, 40), key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantForged},
		{name: "forged: salt altered", sealed: flip(t, good, 1), key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantForged},
		{name: "forged: tag altered", sealed: flip(t, good, -1), key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantForged},
		{name: "forged: made up", sealed: base64.RawURLEncoding.EncodeToString(append([]byte{1}, make([]byte, 100)...)), key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantForged},
		{name: "another version", sealed: flip(t, good, 0), key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantMalformed},
		{name: "truncated", sealed: good[:len(good)-10], key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantForged},
		{name: "truncated below a seal's size", sealed: good[:40], key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantMalformed},
		{name: "empty", sealed: "", key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantMalformed},
		{name: "not base64url", sealed: good[:20] + "+/=" + good[23:], key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantMalformed},
		{name: "padded", sealed: good + "==", key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantMalformed},
		{name: "oversized", sealed: good + strings.Repeat("A", visibility.MaxSealedGrantBytes), key: keyOne, decisionID: "dec-1", at: sealedAt, want: visibility.ErrGrantTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sealer(t, tt.key).Open(tt.decisionID, tt.sealed, tt.at)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				assert.Equal(t, visibility.Grant{}, got, "nothing of a grant that does not open")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, aliceGrant, got, "the grant as it was sealed")
		})
	}
}

func TestEachSealIsItsOwn(t *testing.T) {
	s := sealer(t, keyOne)
	one, err := s.Seal("dec-1", aliceGrant, sealedAt)
	require.NoError(t, err)
	two, err := s.Seal("dec-1", aliceGrant, sealedAt)
	require.NoError(t, err)
	assert.NotEqual(t, one, two, "a salt of its own each time")
	for _, v := range []string{one, two} {
		assert.NotContains(t, v, "alice")
		raw, err := base64.RawURLEncoding.DecodeString(v)
		require.NoError(t, err)
		for _, secret := range []string{"alice", "tier-1-support", "T-1001", "triage"} {
			assert.NotContains(t, string(raw), secret, "the principal cannot be read off the header")
		}
	}
}

func TestSealRefuses(t *testing.T) {
	s := sealer(t, keyOne)
	_, err := s.Seal("", aliceGrant, sealedAt)
	require.Error(t, err, "a grant is bound to a decision")

	big := aliceGrant
	big.Principal.Roles = []string{strings.Repeat("r", visibility.MaxSealedGrantBytes)}
	_, err = s.Seal("dec-1", big, sealedAt)
	require.ErrorIs(t, err, visibility.ErrGrantTooLarge)

	// The largest grant that seals still opens.
	fits := aliceGrant
	fits.Principal.Roles = []string{strings.Repeat("r", visibility.MaxSealedGrantBytes*3/4-600)}
	v, err := s.Seal("dec-1", fits, sealedAt)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(v), visibility.MaxSealedGrantBytes)
	got, err := s.Open("dec-1", v, sealedAt)
	require.NoError(t, err)
	assert.Equal(t, fits, got)
}

func TestNewSealerRefusesAShortKey(t *testing.T) {
	_, err := visibility.NewSealer(keyOne[:visibility.MinGrantKeyBytes-1], grantTTL)
	require.ErrorContains(t, err, "at least 32")
	_, err = visibility.NewSealer(keyOne, 0)
	require.Error(t, err)
}

// BenchmarkSealOpen is the response path's cost of a grant, per list.
func BenchmarkSealOpen(b *testing.B) {
	s, err := visibility.NewSealer(keyOne, grantTTL)
	require.NoError(b, err)
	for b.Loop() {
		v, err := s.Seal("dec-1", aliceGrant, sealedAt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open("dec-1", v, sealedAt); err != nil {
			b.Fatal(err)
		}
	}
}

// goldenGrant is aliceGrant as sealed with keyOne at sealedAt for dec-1 by the format's first
// version. Replicas of different versions meet during a rolling update: a change that no longer
// opens it must come with a new version byte, and a release that opens both.
const goldenGrant = "ARb2swK6uAmeQnur9ziAzG2wckzd_8SZd4w4V1PucFGP3uy5aWfyXB5u1qKBUhhGe9Ib_Ha_y5WJqFAFc_8k3dZWewD_sgAJpR-gwmpFd8ycdQs_KpZ9FnNfrK6juVqZ9Rgy-oYoMMOBCTqiN6tEkyz4rl_XGZc9mAqYxviD0XdUYJ8Pqo0qY-esfONdWTq2ed3Z56xrEnejU8NuIshXaXXwU92-PcWJBx01ImCpIcDZgJprymCiYqSB-o8Cl93fvvtXSKOpltJHBTbR2-MhqY-ZExvOuge9_d3CjwapuVi6u6tSZiY-bXfroPxgY9HVLrU6x3nHvjhGeNyfU7Rs-4njYHHe6AP8Jj0XEZHjiTk8IPGQcsikIOSMI-TUQBV9d0k8BvmtzN-5oX3PpCs_IcaMGPoQSIOhM9VTxourfr-KexI8kw_2wRwJZwvzZYowjtiOryrYjpldx1T3F8BP2A"

func TestAGrantOfTheFirstVersionOpens(t *testing.T) {
	got, err := sealer(t, keyOne).Open("dec-1", goldenGrant, sealedAt)
	require.NoError(t, err)
	assert.Equal(t, aliceGrant, got)
}

// FuzzOpen: whatever a client puts in the grant header, Open never panics, and nothing opens but
// the very value synapse sealed.
func FuzzOpen(f *testing.F) {
	s, err := visibility.NewSealer(keyOne, grantTTL)
	require.NoError(f, err)
	f.Add(goldenGrant)
	f.Add(goldenGrant[:len(goldenGrant)-1])
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, value string) {
		g, err := s.Open("dec-1", value, sealedAt)
		if err != nil {
			return
		}
		if value != goldenGrant {
			t.Fatalf("%q opened, and synapse sealed only %q", value, goldenGrant)
		}
		assert.Equal(t, aliceGrant, g)
	})
}

// TestAGrantCarriesItsListRequests: the list requests ext_authz read travel in the grant, ids as
// they came; a grant of the first version, which names none, still opens (above), and the
// response path then reads the body.
func TestAGrantCarriesItsListRequests(t *testing.T) {
	g := aliceGrant
	g.Lists = []visibility.ListRequest{{Method: "tools/list", ID: json.RawMessage(`7`)}, {Method: "prompts/list", ID: json.RawMessage(`"p-1"`)}}
	s := sealer(t, keyOne)
	v, err := s.Seal("dec-1", g, sealedAt)
	require.NoError(t, err)
	got, err := s.Open("dec-1", v, sealedAt)
	require.NoError(t, err)
	assert.Equal(t, g, got)
}
