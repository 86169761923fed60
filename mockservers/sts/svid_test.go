package sts_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/sts"
)

// svidIssuer stands in for SPIRE's JWT signing: a key of the trust domain's bundle.
type svidIssuer struct {
	key *ecdsa.PrivateKey
	kid string
}

func newSVIDIssuer(t *testing.T, kid string) svidIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return svidIssuer{key: key, kid: kid}
}

func (i svidIssuer) mint(t *testing.T, sub string, aud []string, exp time.Time) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: i.key, KeyID: i.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{Subject: sub, Audience: aud, Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(time.Now())}).Serialize()
	require.NoError(t, err)
	return tok
}

// workloadPrincipals are the demo's, the triage workload's secret taken away: it proves itself
// with its JWT-SVID only.
func workloadPrincipals() []sts.Principal { return sts.AttestedPrincipals(sts.DemoPrincipals()) }

func TestBootstrapWithAJWTSVID(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("hopguard.local")
	spire := newSVIDIssuer(t, "spire-key-1")
	bundle := jwtbundle.New(td)
	require.NoError(t, bundle.AddJWTAuthority(spire.kid, spire.key.Public()))
	f := start(t, sts.Config{Principals: workloadPrincipals(), SVIDs: &sts.SVIDVerifier{Bundles: bundle, Audience: sts.DefaultIssuer}})
	aud := []string{sts.DefaultIssuer}
	soon := time.Now().Add(5 * time.Minute)
	impostor := newSVIDIssuer(t, spire.kid) // the same kid, a key the bundle does not hold
	assertion := func(svid string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {sts.AssertionTypeSPIFFE}, "client_assertion": {svid}, "agent_id": {"triage-agent"}}
	}
	with := func(v url.Values, key, value string) url.Values {
		v.Set(key, value)
		return v
	}

	tests := []struct {
		name       string
		form       url.Values
		basic      bool
		wantStatus int
		wantCode   string
	}{
		{name: "the workload's SVID", form: assertion(spire.mint(t, triage, aud, soon)), wantStatus: http.StatusOK},
		{name: "and its client id", form: with(assertion(spire.mint(t, triage, aud, soon)), "client_id", triage), wantStatus: http.StatusOK},
		{name: "another client id", form: with(assertion(spire.mint(t, triage, aud, soon)), "client_id", "alice"), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "for another audience", form: assertion(spire.mint(t, triage, []string{"https://gateway.hopguard.local"}, soon)), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "expired", form: assertion(spire.mint(t, triage, aud, time.Now().Add(-time.Minute))), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "from another trust domain", form: assertion(spire.mint(t, "spiffe://evil.example/ns/agents/sa/triage", aud, soon)), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "signed by a key not in the bundle", form: assertion(impostor.mint(t, triage, aud, soon)), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "a workload the STS does not know", form: assertion(spire.mint(t, "spiffe://hopguard.local/ns/agents/sa/other", aud, soon)), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "not a JWT", form: assertion("not-a-jwt"), wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "another assertion type", form: with(assertion(spire.mint(t, triage, aud, soon)), "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "an SVID and a secret", form: with(assertion(spire.mint(t, triage, aud, soon)), "client_secret", "triage-secret"), wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "an SVID and basic auth", form: assertion(spire.mint(t, triage, aud, soon)), basic: true, wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
		{name: "the old secret of the workload", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {triage}, "client_secret": {"triage-secret"}}, wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
		{name: "the workload with no secret", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {triage}}, wantStatus: http.StatusUnauthorized, wantCode: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.http.URL+sts.TokenPath, strings.NewReader(tt.form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic {
				req.SetBasicAuth("alice", "alice-secret")
			}
			resp, err := f.http.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))

			assert.Equal(t, tt.wantStatus, resp.StatusCode, "%v", body)
			if tt.wantStatus != http.StatusOK {
				assert.Equal(t, tt.wantCode, body["error"])
				return
			}
			claims := verifyWithJWKS(t, f.http, body["access_token"].(string))
			assert.Equal(t, triage, claims["sub"], "the principal is the SVID's SPIFFE ID")
			assert.Equal(t, []any{"triage-agent"}, claims["roles"], "with the roles of the STS's table")
			assert.Equal(t, "triage-agent", claims["agent_id"])
		})
	}
}

func TestAnSTSWithoutSVIDsRefusesThem(t *testing.T) {
	spire := newSVIDIssuer(t, "k")
	f := start(t, sts.Config{Principals: workloadPrincipals()})
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {sts.AssertionTypeSPIFFE},
		"client_assertion": {spire.mint(t, triage, []string{sts.DefaultIssuer}, time.Now().Add(time.Minute))}}
	resp, err := f.http.Client().PostForm(f.http.URL+sts.TokenPath, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestOnlyAWorkloadMayGoWithoutASecret(t *testing.T) {
	_, err := sts.New(sts.Config{Principals: []sts.Principal{{ID: "alice", Roles: []string{"tier-1-support"}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only a SPIFFE workload")
}
