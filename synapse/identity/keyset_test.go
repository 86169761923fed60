package identity_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
)

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestKeySetRefreshesOnUnknownKidAtMostOncePerInterval(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := &manualClock{t: time.Now()}
	keys := identity.NewKeySet(identity.KeySetConfig{
		URL: iss.JWKSURL(), Now: clock.Now, MinRefreshInterval: time.Minute, MaxAge: time.Hour,
	})
	v := identity.NewVerifier(keys, identitytest.DefaultIssuer, skew, identity.WithClock(time.Now))
	ctx := context.Background()
	mint := func() string { return iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm"}) }

	_, err := v.Verify(ctx, mint(), "llm")
	require.NoError(t, err)
	_, err = v.Verify(ctx, mint(), "llm")
	require.NoError(t, err)
	assert.EqualValues(t, 1, iss.Fetches(), "known keys are served from the cache")

	for range 5 {
		_, err = v.Verify(ctx, signForeign(t, "ES256", "made-up"), "llm")
		require.ErrorIs(t, err, identity.ErrUnknownKey)
	}
	assert.EqualValues(t, 1, iss.Fetches(), "unknown kids inside the interval cause no fetch")

	iss.Rotate(t)
	_, err = v.Verify(ctx, mint(), "llm")
	require.ErrorIs(t, err, identity.ErrUnknownKey, "still rate-limited")

	clock.Advance(time.Minute)
	_, err = v.Verify(ctx, mint(), "llm")
	require.NoError(t, err, "after the interval the rotated key is fetched")
	assert.EqualValues(t, 2, iss.Fetches())
}

func TestKeySetRefetchesStaleKeysAndFailsClosed(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := &manualClock{t: time.Now()}
	keys := identity.NewKeySet(identity.KeySetConfig{URL: iss.JWKSURL(), Now: clock.Now, MaxAge: time.Minute})
	v := identity.NewVerifier(keys, identitytest.DefaultIssuer, skew)
	raw := iss.Mint(t, identitytest.Token{Subject: "alice", Audience: "llm"})

	_, err := v.Verify(context.Background(), raw, "llm")
	require.NoError(t, err)

	iss.SetDown(true)
	_, err = v.Verify(context.Background(), raw, "llm")
	require.NoError(t, err, "fresh keys still verify while the STS is down")

	clock.Advance(time.Minute)
	_, err = v.Verify(context.Background(), raw, "llm")
	require.ErrorIs(t, err, identity.ErrKeysUnavailable, "stale keys are not trusted")
	fetches := iss.Fetches()

	_, err = v.Verify(context.Background(), raw, "llm")
	require.ErrorIs(t, err, identity.ErrKeysUnavailable)
	assert.Equal(t, fetches, iss.Fetches(), "an outage does not turn every check into a fetch")

	iss.SetDown(false)
	clock.Advance(10 * time.Second)
	_, err = v.Verify(context.Background(), raw, "llm")
	require.NoError(t, err, "the STS is back")
}

func TestKeySetRetriesSoonWhileItHasNoKeys(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	iss.SetDown(true)
	clock := &manualClock{t: time.Now()}
	keys := identity.NewKeySet(identity.KeySetConfig{URL: iss.JWKSURL(), Now: clock.Now, MinRefreshInterval: time.Hour})
	ctx := context.Background()

	_, err := keys.Key(ctx, "k")
	require.ErrorIs(t, err, identity.ErrKeysUnavailable)
	_, err = keys.Key(ctx, "k")
	require.ErrorIs(t, err, identity.ErrKeysUnavailable)
	assert.EqualValues(t, 1, iss.Fetches(), "rate-limited")

	iss.SetDown(false)
	clock.Advance(time.Second)
	_, err = keys.Key(ctx, "k")
	require.ErrorIs(t, err, identity.ErrUnknownKey, "fetched again after a second, not an hour")
	assert.EqualValues(t, 2, iss.Fetches())
}

func TestKeySetKeepsOnlyUsableKeys(t *testing.T) {
	const jwks = `{"keys":[
	 {"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
	 {"kty":"EC","kid":"enc","use":"enc","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
	 {"kty":"EC","kid":"good","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
	 {"kty":"EC","kid":"wrong-alg","alg":"ES384","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}
	]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(jwks))
	}))
	t.Cleanup(srv.Close)
	keys := identity.NewKeySet(identity.KeySetConfig{URL: srv.URL, MinRefreshInterval: time.Hour})

	key, err := keys.Key(context.Background(), "good")
	require.NoError(t, err)
	assert.NotNil(t, key)
	for _, kid := range []string{"hmac", "enc", "wrong-alg"} {
		_, err := keys.Key(context.Background(), kid)
		require.ErrorIs(t, err, identity.ErrUnknownKey, kid)
	}
}

func TestKeySetRejectsMalformedDocuments(t *testing.T) {
	tests := map[string]string{
		"not json":  "<html>",
		"too large": `{"keys":[],"pad":"` + strings.Repeat("a", 1<<20) + `"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(body))
			}))
			t.Cleanup(srv.Close)
			keys := identity.NewKeySet(identity.KeySetConfig{URL: srv.URL})
			_, err := keys.Key(context.Background(), "any")
			require.ErrorIs(t, err, identity.ErrKeysUnavailable)
		})
	}
}
