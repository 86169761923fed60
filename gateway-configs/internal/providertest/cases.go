package providertest

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/llm"
)

// Provider is the model provider a gateway under test sends to: mockllm served over TLS by
// host name "localhost", with a certificate from a CA the test made, accepting Key only; and
// the stand-in for synapse the gateway asks first.
type Provider struct {
	MockLLM string // the mockllm binary
	PKI     llm.TestPKI
	Key     string
	Port    uint16 // mockllm's, on 127.0.0.1
	Journal *journal.Client
	Authz   *AllowingAuthz
}

// StartProvider starts a Provider (and its ext_authz) for the rest of the test.
func StartProvider(t *testing.T) *Provider {
	t.Helper()
	mockllm := MockLLMBinary(t)
	pki, err := llm.NewTestPKI(t.TempDir(), "localhost")
	require.NoError(t, err)
	key := RandomKey(t)
	port, mockJournal := StartTLSMock(t, mockllm, pki, pki.CertFile, pki.KeyFile, "localhost", key)
	return &Provider{MockLLM: mockllm, PKI: pki, Key: key, Port: port, Journal: mockJournal, Authz: StartAllowingAuthz(t)}
}

// KeyInEnv is the gateway's environment variable holding the provider key.
func (p *Provider) KeyInEnv() string { return KeyEnv + "=" + p.Key }

// StartFunc starts the gateway under test with its model route sent to "localhost" at port,
// verified against caFile, and the provider key in its environment (KeyInEnv).
type StartFunc func(t *testing.T, caFile string, port uint16) RunningGateway

// RunCases runs, as subtests, the cases every gateway's end-to-end provider test has, with
// the gateway start starts: the call reaches the provider (callReachesProvider); a CA that did
// not issue the certificate fails it (wrongCAFailsTheCall), with a line of the gateway's log
// holding all of wrongCALog; and so does a certificate from the right CA for another host
// (otherHostFailsTheCall), with one holding all of otherHostLog.
func (p *Provider) RunCases(t *testing.T, start StartFunc, wrongCALog, otherHostLog []string) {
	t.Helper()
	t.Run("the call reaches the provider over TLS with the key from the environment", func(t *testing.T) {
		p.callReachesProvider(t, start)
	})
	t.Run("a CA that did not issue the certificate fails the call", func(t *testing.T) {
		p.wrongCAFailsTheCall(t, start, wrongCALog...)
	})
	t.Run("a certificate from the right CA for another host fails the call", func(t *testing.T) {
		p.otherHostFailsTheCall(t, start, otherHostLog...)
	})
}

// callReachesProvider: the agent's chat completion reaches the provider over TLS with the
// key from the environment, once; ext_authz judged the agent's credential and never saw the key.
func (p *Provider) callReachesProvider(t *testing.T, start StartFunc) {
	t.Helper()
	gateway := start(t, p.PKI.CAFile, p.Port)
	before := len(Entries(t, p.Journal))

	status, body := ChatCompletion(t, gateway.URL)

	require.Equal(t, http.StatusOK, status, "body: %s", body)
	assert.Contains(t, body, `"choices"`)
	seen := Entries(t, p.Journal)[before:]
	require.Len(t, seen, 1, "one call reached the provider")
	assert.Equal(t, "/v1/chat/completions", seen[0].Path)
	assert.Equal(t, journal.CredentialProviderKey, seen[0].Credential, "the provider saw the key from the environment, and nothing else")

	checks := p.Authz.Checks()
	require.NotEmpty(t, checks, "ext_authz was asked")
	last := checks[len(checks)-1]
	assert.Equal(t, "llm", last.Resource)
	assert.Equal(t, "Bearer "+AgentToken, last.Authorization, "synapse judges the agent's credential")
	assert.NotContains(t, last.AllHeaders, p.Key, "the provider key is added after authorization")
}

// wrongCAFailsTheCall: verified against a CA that did not issue the provider's
// certificate, the call fails with 503, the gateway logs a line holding all of log, and
// nothing reaches the provider.
func (p *Provider) wrongCAFailsTheCall(t *testing.T, start StartFunc, log ...string) {
	t.Helper()
	other, err := llm.NewTestPKI(t.TempDir(), "localhost")
	require.NoError(t, err)
	gateway := start(t, other.CAFile, p.Port)
	before := len(Entries(t, p.Journal))

	status, body := ChatCompletion(t, gateway.URL)

	assert.Equal(t, http.StatusServiceUnavailable, status, "body: %s", body)
	gateway.WaitForLog(t, log...)
	assert.Len(t, Entries(t, p.Journal), before, "nothing reached the provider")
}

// otherHostFailsTheCall: a provider (another mockllm) whose certificate, from the right
// CA, is for another host fails the call with 503, the gateway logs a line holding all of log,
// and nothing reaches it.
func (p *Provider) otherHostFailsTheCall(t *testing.T, start StartFunc, log ...string) {
	t.Helper()
	certFile, keyFile, err := p.PKI.IssueServer(t.TempDir(), "elsewhere.example")
	require.NoError(t, err)
	otherPort, otherJournal := StartTLSMock(t, p.MockLLM, p.PKI, certFile, keyFile, "elsewhere.example", p.Key)
	gateway := start(t, p.PKI.CAFile, otherPort)

	status, body := ChatCompletion(t, gateway.URL)

	assert.Equal(t, http.StatusServiceUnavailable, status, "body: %s", body)
	gateway.WaitForLog(t, log...)
	assert.Empty(t, Entries(t, otherJournal), "nothing reached it")
}
