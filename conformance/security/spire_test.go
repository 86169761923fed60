package security_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/agent/cli"
	"github.com/hopguard/hopguard/agent/identity"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/narrate"
	"github.com/hopguard/hopguard/agent/trace"
	"github.com/hopguard/hopguard/conformance/agentrun"
	"github.com/hopguard/hopguard/conformance/harness"
	"github.com/hopguard/hopguard/conformance/sandbox"
	"github.com/hopguard/hopguard/conformance/sandbox/reach"
	"github.com/hopguard/hopguard/conformance/security/bypass"
	"github.com/hopguard/hopguard/conformance/security/summary"
	"github.com/hopguard/hopguard/conformance/stack"
)

// probeID is the identity the suite registers for the reach command: a workload SPIRE attests
// that the STS does not know.
const probeID = "spiffe://" + stack.TrustDomain + "/ns/probes/reach"

// TestWorkloadIdentityFromSPIRE checks who gets the triage agent's identity and what an SVID
// that is not the STS's to take is worth: only the agent binary, as nobody in its sandbox, gets
// it; the same binary as root, and another binary as nobody, get nothing; the STS refuses the
// agent's own SVID minted for another audience, forged SVIDs, and the SVID of a workload it does
// not know; and the gateway refuses an SVID presented as a token.
func TestWorkloadIdentityFromSPIRE(t *testing.T) {
	h := requireEnv(t)
	if h.SPIFFESocket == "" {
		suite.recorder.IdentitiesNotRun(h.Unattested.Error())
		t.Skipf("not run: %v", h.Unattested)
	}
	require.NotEmpty(t, h.Gateways, "a gateway runs")
	ctx := t.Context()
	gateway := h.Gateways[0].Name()
	tg := target(t, gateway)
	gatewayURL, err := h.GatewayURL(gateway)
	require.NoError(t, err)
	stsURL, err := h.STSURL()
	require.NoError(t, err)
	agentBinary, err := h.Program(agentrun.Package)
	require.NoError(t, err)
	reachBinary, err := h.Program(harness.ReachPackage)
	require.NoError(t, err)
	taskID, _, err := newTaskOf(ctx, bypass.Triage, gateway, "spire", "T-2001")
	require.NoError(t, err)
	triage := func(audience string) loop.Config {
		return loop.Config{
			GatewayURL: gatewayURL, STSURL: stsURL, Servers: []string{"tickets"}, Ticket: "T-2001", MaxSteps: 1,
			Subject:     identity.ClientCredentials{ClientID: stack.TriageID, SPIFFE: &identity.SPIFFE{Socket: h.SPIFFESocket, Audience: audience}},
			Attestation: identity.Attestation{AgentID: bypass.Triage.AgentID, HarnessVersion: "security", TaskID: taskID},
		}
	}
	record := func(name, must, got string, pass bool) {
		suite.recorder.Identity(summary.Identity{Name: name, Must: must, Got: got, Pass: pass})
		assert.True(t, pass, "%s: must %s, got %s", name, must, got)
	}
	// A workload SPIRE attests that the STS does not know: the reach command as nobody. SPIRE's
	// agent learns of it at its next sync.
	probe, err := stack.BinaryWorkload(probeID, sandbox.Unprivileged, reachBinary)
	require.NoError(t, err)
	require.NoError(t, h.RegisterWorkload(ctx, probe))
	probeSVIDs := func(audiences ...string) []reach.Outcome {
		var attempts []reach.Attempt
		for _, aud := range audiences {
			attempts = append(attempts, reach.Attempt{Name: "for " + aud, Kind: reach.SPIFFE, Target: h.SPIFFESocket, Audience: aud})
		}
		return fromSandbox(t, reachBinary, gatewayURL, stsURL, attempts...)
	}

	t.Run("the agent binary as nobody in its sandbox", func(t *testing.T) {
		res, _ := agentrun.Runner{Binary: agentBinary}.Run(ctx, triage(identity.DefaultSPIFFEAudience))
		boot := bootstrapHop(res)
		record("the agent binary, as nobody in its sandbox (control)", "be given the triage identity and its bootstrap token",
			describeHop(boot), boot.Decision == trace.Allow && strings.Contains(boot.Note, "JWT-SVID"))
	})
	t.Run("the agent binary as root", func(t *testing.T) {
		res, err := runAsRoot(ctx, agentBinary, triage(identity.DefaultSPIFFEAudience))
		require.NoError(t, err)
		boot := bootstrapHop(res)
		record("the agent binary, as root outside its sandbox", "get no identity from SPIRE", describeHop(boot),
			boot.Decision == trace.Error && strings.Contains(boot.Reason, "no identity issued"))
	})
	t.Run("another binary as nobody", func(t *testing.T) {
		got := fromSandbox(t, reachBinary, gatewayURL, stsURL, reach.Attempt{Name: "svid", Kind: reach.SPIFFE, Target: h.SPIFFESocket, Audience: identity.DefaultSPIFFEAudience})
		record("another binary (conformance/cmd/reach), as nobody in the agent's sandbox", "get no identity from SPIRE",
			orText(got[0].Identity, got[0].Error), got[0].Identity == "" && strings.Contains(got[0].Error, "no identity issued"))
	})
	t.Run("the agent's own SVID for another audience", func(t *testing.T) {
		res, _ := agentrun.Runner{Binary: agentBinary}.Run(ctx, triage("https://not-the-sts.example"))
		boot := bootstrapHop(res)
		record("the agent's own JWT-SVID minted for another audience, at the STS", "be refused (invalid_client)", describeHop(boot),
			boot.Decision == trace.Error && strings.Contains(boot.Reason, "invalid_client"))
	})
	t.Run("forged SVIDs at the STS", func(t *testing.T) {
		forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		for _, f := range []struct{ name, sub string }{
			{"a JWT-SVID of the triage agent signed by a key not in SPIRE's bundle", stack.TriageID},
			{"a JWT-SVID from another trust domain", "spiffe://evil.example/ns/agents/sa/triage"},
		} {
			status, body := assertAtSTS(t, stsURL, forgeSVID(t, forger, f.sub))
			record(f.name+", at the STS", "be refused (401 invalid_client)", fmt.Sprintf("%d %s", status, body),
				status == http.StatusUnauthorized && strings.Contains(body, "invalid_client"))
		}
	})
	t.Run("a workload the STS does not know", func(t *testing.T) {
		var got []reach.Outcome
		eventually(t, func() bool {
			got = probeSVIDs(identity.DefaultSPIFFEAudience, "llm")
			return got[0].Identity != ""
		})
		require.Equal(t, probeID, got[0].Identity, "SPIRE gives the registered probe its identity: %s", got[0].Error)
		status, body := assertAtSTS(t, stsURL, got[0].SVID)
		record("the JWT-SVID of a workload SPIRE attests but the STS does not know ("+probeID+"), at the STS", "be refused (401 invalid_client)",
			fmt.Sprintf("%d %s", status, body), status == http.StatusUnauthorized && strings.Contains(body, "invalid_client"))

		req := modelPost("/v1/chat/completions", got[1].SVID, []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`))
		o := send(ctx, tg.Addr, prepared{Probe: bypass.Probe{Name: "an SVID as a bearer token"}, req: req})
		record("a JWT-SVID for audience llm presented at "+gateway+" as the bearer token", "be denied: it is not a per-resource token of the STS",
			o.String(), o.err == nil && o.verdict.Denied)
	})
	t.Run("a JWT key rotation", func(t *testing.T) {
		old := authority(t, h, "Active JWT authority")
		_, err := h.SPIREServer(ctx, "localauthority", "jwt", "prepare")
		require.NoError(t, err)
		fresh := authority(t, h, "Prepared JWT authority")
		spire := func(args ...string) {
			_, err := h.SPIREServer(ctx, append([]string{"localauthority", "jwt"}, args...)...)
			require.NoError(t, err, "%v", args)
		}
		spire("activate", "-authorityID", fresh)
		spire("taint", "-authorityID", old)
		// SPIRE's agent replaces the JWT-SVIDs it holds that a tainted key signed at its next
		// sync. Revoking the key before then would leave it serving them, signed by a key gone
		// from every bundle, until they expire: revoke only once it has moved on.
		var kid string
		eventually(t, func() bool {
			kid = svidKeyID(probeSVIDs(identity.DefaultSPIFFEAudience)[0].SVID)
			return kid == fresh
		})
		require.Equal(t, fresh, kid, "SPIRE's agent replaced the SVID the old key signed")
		spire("revoke", "-authorityID", old)
		var boot trace.Hop
		eventually(t, func() bool { // the STS learns the new bundle from the Workload API
			res, _ := agentrun.Runner{Binary: agentBinary}.Run(ctx, triage(identity.DefaultSPIFFEAudience))
			boot = bootstrapHop(res)
			return boot.Decision == trace.Allow
		})
		record("after a JWT key rotation (a new key prepared and activated, the old one tainted, then revoked), the agent binary", "be given an SVID signed by the new key, which the STS takes",
			fmt.Sprintf("SVIDs signed by the new key %s; bootstrap %s", kid, describeHop(boot)), boot.Decision == trace.Allow)
	})
}

// eventually waits, 60 s at most, for done: SPIRE's agent syncs with its server every few
// seconds.
func eventually(t *testing.T, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !done() && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
	}
}

// authority is the ID of the JWT authority `spire-server localauthority jwt show` lists under
// heading.
func authority(t *testing.T, h *harness.Env, heading string) string {
	t.Helper()
	out, err := h.SPIREServer(t.Context(), "localauthority", "jwt", "show")
	require.NoError(t, err)
	_, section, found := strings.Cut(out, heading)
	require.True(t, found, "no %q in %s", heading, out)
	_, rest, found := strings.Cut(section, "Authority ID:")
	require.True(t, found, "no authority under %q in %s", heading, out)
	return strings.Fields(rest)[0]
}

// svidKeyID is the key id in a JWT-SVID's header: which of SPIRE's keys signed it.
func svidKeyID(svid string) string {
	tok, err := jwt.ParseSigned(svid, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.ES384, jose.PS256})
	if err != nil || len(tok.Headers) == 0 {
		return ""
	}
	return tok.Headers[0].KeyID
}

func bootstrapHop(res loop.Result) trace.Hop {
	for _, h := range res.Hops {
		if h.Plane == trace.PlaneSTS && h.Action == "bootstrap" {
			return h
		}
	}
	return trace.Hop{Decision: trace.Error, Reason: fmt.Sprintf("no bootstrap (outcome %s: %s)", res.Outcome, res.Reason)}
}

func describeHop(h trace.Hop) string {
	return strings.TrimSpace(string(h.Decision) + " " + orText(h.Note, h.Reason))
}

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// runAsRoot runs the agent binary as this process's user (root), outside any sandbox, and reads
// what it did.
func runAsRoot(ctx context.Context, binary string, cfg loop.Config) (loop.Result, error) {
	args, env, err := cli.Command(cfg)
	if err != nil {
		return loop.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run() // it fails: the result says how
	res, err := narrate.ReadJSON(&stdout, nil)
	if err != nil {
		return res, fmt.Errorf("%w (stderr: %s)", err, stderr.String())
	}
	return res, nil
}

// fromSandbox runs reach with attempts in a sandbox with the agent's exits.
func fromSandbox(t *testing.T, binary, gatewayURL, stsURL string, attempts ...reach.Attempt) []reach.Outcome {
	t.Helper()
	exits, err := agentrun.Exits(loop.Config{GatewayURL: gatewayURL, STSURL: stsURL})
	require.NoError(t, err)
	list := make([]escape, len(attempts))
	for i, a := range attempts {
		list[i] = escape{Attempt: a}
	}
	return tryFromSandbox(t, binary, exits, list)
}

// forgeSVID is a JWT-SVID for the STS signed by key, which SPIRE never held.
func forgeSVID(t *testing.T, key *ecdsa.PrivateKey, sub string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "forged"}}, (&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{Subject: sub, Audience: jwt.Audience{identity.DefaultSPIFFEAudience}, Expiry: jwt.NewNumericDate(time.Now().Add(5 * time.Minute))}).Serialize()
	require.NoError(t, err)
	return tok
}

// assertAtSTS presents svid to the environment's STS as a client assertion.
func assertAtSTS(t *testing.T, stsURL, svid string) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {identity.AssertionTypeSPIFFE}, "client_assertion": {svid}}
	resp, err := http.PostForm(stsURL+"/oauth2/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error
}
