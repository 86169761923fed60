package envoy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/synapse/respond"
)

// keyEnv is the environment variable the tests hand the provider key to Envoy in.
const keyEnv = "HOPGUARD_TEST_PROVIDER_KEY"

// agentToken stands for the agent's own credential: ext_authz sees it, the provider never does.
const agentToken = "agent-token-not-for-the-provider"

// TestProviderOverTLSEndToEnd is the real-provider path run here: the real Envoy, with the
// governed config rendered for a Provider, sends a chat completion to the mock LLM served over
// TLS (mockllm --tls-cert --tls-key) by host name "localhost", verifying its certificate
// against a local CA made by the test; the provider key exists only in Envoy's environment.
// A wrong CA, and a certificate for another host from the right CA, make the call fail.
//
// It runs in a loopback-only network namespace of its own where one can be made (so Envoy's
// resolver cannot reach any DNS server), else on the host's loopback ("localhost" is then
// answered from /etc/hosts).
func TestProviderOverTLSEndToEnd(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("not run: real Envoy not available: %v", err)
	}
	if !runHereIsolatedIfPossible(t) {
		return
	}
	mockllm := mockLLMBinary(t)
	pki, err := llm.NewTestPKI(t.TempDir(), "localhost")
	require.NoError(t, err)
	key := randomKey(t)
	mockPort, mockJournal := startTLSMock(t, mockllm, pki, pki.CertFile, pki.KeyFile, "localhost", key)
	authz := startAllowingAuthz(t)

	params := func(caFile string, port uint16) envoy.Params {
		return envoy.Params{
			Listen:   freeAddr(t),
			Admin:    freeAddr(t),
			Synapse:  authz.addr,
			Provider: &envoy.Provider{Host: "localhost", Port: port, CAFile: caFile, KeyEnv: keyEnv},
		}
	}

	t.Run("the call reaches the provider over TLS with the key from the environment", func(t *testing.T) {
		gateway := startEnvoy(t, envoyBin, params(pki.CAFile, mockPort), keyEnv+"="+key)
		before := len(entries(t, mockJournal))

		status, body := chatCompletion(t, gateway.url)

		require.Equal(t, http.StatusOK, status, "body: %s", body)
		assert.Contains(t, body, `"choices"`)
		seen := entries(t, mockJournal)[before:]
		require.Len(t, seen, 1, "one call reached the provider")
		assert.Equal(t, "/v1/chat/completions", seen[0].Path)
		assert.Equal(t, journal.CredentialProviderKey, seen[0].Credential, "the provider saw the key from the environment, and nothing else")

		checks := authz.checks()
		require.NotEmpty(t, checks, "ext_authz was asked")
		last := checks[len(checks)-1]
		assert.Equal(t, "llm", last.resource)
		assert.Equal(t, "Bearer "+agentToken, last.authorization, "synapse judges the agent's credential")
		assert.NotContains(t, last.allHeaders, key, "the provider key is added after authorization")
	})

	t.Run("Anthropic's Messages API: the key in x-api-key", func(t *testing.T) {
		p := params(pki.CAFile, mockPort)
		p.Provider.KeyHeader = "x-api-key"
		gateway := startEnvoy(t, envoyBin, p, keyEnv+"="+key)
		before := len(entries(t, mockJournal))

		status, body := post(t, gateway.url+"/v1/messages",
			`{"model":"gpt-4o","max_tokens":256,"messages":[{"role":"user","content":"Work ticket T-1001"}]}`)

		require.Equal(t, http.StatusOK, status, "body: %s", body)
		assert.Contains(t, body, `"type":"message"`)
		seen := entries(t, mockJournal)[before:]
		require.Len(t, seen, 1)
		assert.Equal(t, "/v1/messages", seen[0].Path)
		assert.Equal(t, journal.CredentialProviderKey, seen[0].Credential, "the key alone, in x-api-key (the agent's Authorization is gone)")
	})

	t.Run("a CA that did not issue the certificate fails the call", func(t *testing.T) {
		other, err := llm.NewTestPKI(t.TempDir(), "localhost")
		require.NoError(t, err)
		gateway := startEnvoy(t, envoyBin, params(other.CAFile, mockPort), keyEnv+"="+key)
		before := len(entries(t, mockJournal))

		status, body := chatCompletion(t, gateway.url)

		assert.Equal(t, http.StatusServiceUnavailable, status, "body: %s", body)
		gateway.waitForLog(t, "CERTIFICATE_VERIFY_FAILED", "unable_to_get_local_issuer_certificate")
		assert.Len(t, entries(t, mockJournal), before, "nothing reached the provider")
	})

	t.Run("a certificate from the right CA for another host fails the call", func(t *testing.T) {
		certFile, keyFile, err := pki.IssueServer(t.TempDir(), "elsewhere.example")
		require.NoError(t, err)
		otherPort, otherJournal := startTLSMock(t, mockllm, pki, certFile, keyFile, "elsewhere.example", key)
		gateway := startEnvoy(t, envoyBin, params(pki.CAFile, otherPort), keyEnv+"="+key)

		status, body := chatCompletion(t, gateway.url)

		assert.Equal(t, http.StatusServiceUnavailable, status, "body: %s", body)
		gateway.waitForLog(t, "CERTIFICATE_VERIFY_FAILED", "SAN_matcher")
		assert.Empty(t, entries(t, otherJournal), "nothing reached it")
	})
}

// runHereIsolatedIfPossible runs the calling test again, alone, inside a loopback-only network
// namespace of its own and reports its outcome (false: the caller returns); inside one, or on
// a host where none can be made, it returns true and the test runs in this process.
func runHereIsolatedIfPossible(t *testing.T) bool {
	t.Helper()
	if netns.Current().Isolated {
		require.NoError(t, netns.Enter(t.Context(), netns.Child{}), "prepare the namespace")
		return true
	}
	if err := netns.CanMakePrivate(); err != nil {
		t.Logf("no loopback-only network namespace here (%v): running on the host's loopback", err)
		return true
	}
	// Built here: the namespace has no network, should the build want any.
	mockllm := mockLLMBinary(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netns.InsideEnv+"="+netns.Private, mockLLMEnv+"="+mockllm)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if uid := os.Getuid(); uid != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	out, err := cmd.CombinedOutput()
	t.Logf("ran inside a loopback-only network namespace:\n%s", out)
	require.NoError(t, err, "the test failed inside its network namespace")
	if bytes.Contains(out, []byte("--- SKIP: "+t.Name())) {
		t.Skip("skipped inside its network namespace (see above)")
	}
	require.Contains(t, string(out), "--- PASS: "+t.Name())
	return false
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "sk-test-" + hex.EncodeToString(b)
}

func freeAddr(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := netip.MustParseAddrPort(ln.Addr().String())
	require.NoError(t, ln.Close())
	return addr
}

// mockLLMEnv hands the mockllm binary built on the host to the test run again inside a
// network namespace.
const mockLLMEnv = "HOPGUARD_TEST_MOCKLLM"

// mockLLMBinary is mockllm: the binary mockLLMEnv names, else built into a folder of t's.
func mockLLMBinary(t *testing.T) string {
	t.Helper()
	if path := os.Getenv(mockLLMEnv); path != "" {
		return path
	}
	bins, err := binaries.Build(t.Context(), t.TempDir(), "./mockservers/cmd/mockllm")
	require.NoError(t, err, "build mockllm")
	return bins["./mockservers/cmd/mockllm"]
}

// startTLSMock runs mockllm (the binary at mockBin) over TLS with the given certificate (for
// certHost) on 127.0.0.1, accepting key only. It returns the port and a client of its journal
// that verifies the certificate against pki's CA, for certHost.
func startTLSMock(t *testing.T, mockBin string, pki llm.TestPKI, certFile, keyFile, certHost, key string) (uint16, *journal.Client) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, mockBin, "--addr", "127.0.0.1:0", "--provider-key", key,
		"--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("mockllm stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "mockllm did not announce its address: %s", stderr.String())
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on https://")
	require.True(t, ok, line)
	addr := netip.MustParseAddrPort(url)

	roots := x509.NewCertPool()
	roots.AddCert(pki.CA)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: certHost},
	}}
	return addr.Port(), journal.NewClient("https://"+addr.String(), client)
}

func entries(t *testing.T, c *journal.Client) []journal.Entry {
	t.Helper()
	got, err := c.Entries(t.Context())
	require.NoError(t, err)
	return got
}

// runningEnvoy is an Envoy a test started: its gateway's base URL and its log (stdout, where
// the access log goes, and stderr).
type runningEnvoy struct {
	url, logPath string
}

// waitForLog waits up to five seconds (the access log is flushed now and then) for a line of
// the log holding every one of want.
func (e runningEnvoy) waitForLog(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, err := os.ReadFile(e.logPath)
		require.NoError(t, err)
		for _, line := range strings.Split(string(log), "\n") {
			found := true
			for _, w := range want {
				found = found && strings.Contains(line, w)
			}
			if found {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("no line of Envoy's log holds all of %q:\n%s", want, log)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startEnvoy runs the real Envoy on the rendered config of p with env added to its
// environment, and returns once Envoy is ready.
func startEnvoy(t *testing.T, envoyBin string, p envoy.Params, env ...string) runningEnvoy {
	t.Helper()
	config, err := envoy.Render(p)
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "envoy.yaml")
	require.NoError(t, os.WriteFile(path, config, 0o600))
	logPath := filepath.Join(dir, "envoy.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, envoyBin, "-c", path, "--use-dynamic-base-id", "--log-level", "warn")
	cmd.Env = append(withoutEnv(os.Environ(), keyEnv), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("envoy log:\n%s", log)
		}
	})

	ready := fmt.Sprintf("http://%s/ready", p.Admin)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(ready)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return runningEnvoy{url: "http://" + p.Listen.String(), logPath: logPath}
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("Envoy was not ready within 30s:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// chatCompletion sends one chat completion through the gateway as the agent would.
func chatCompletion(t *testing.T, gateway string) (int, string) {
	t.Helper()
	return post(t, gateway+"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"Work ticket T-1001"}]}`)
}

// post sends body to url as JSON with the agent's credential.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+agentToken)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(got)
}

// allowingAuthz stands in for synapse: it allows every request with synapse's own allow
// response (which removes the agent's credential headers) and records what it was shown.
type allowingAuthz struct {
	authv3.UnimplementedAuthorizationServer
	addr netip.AddrPort

	mu   sync.Mutex
	seen []check
}

type check struct {
	resource, authorization, allHeaders string
}

func (a *allowingAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	headers := req.GetAttributes().GetRequest().GetHttp().GetHeaders()
	var all strings.Builder
	for k, v := range headers {
		fmt.Fprintf(&all, "%s: %s\n", k, v)
	}
	a.mu.Lock()
	a.seen = append(a.seen, check{
		resource:      req.GetAttributes().GetContextExtensions()["resource"],
		authorization: headers["authorization"],
		allHeaders:    all.String(),
	})
	a.mu.Unlock()
	return respond.Allowed("test-decision"), nil
}

func (a *allowingAuthz) checks() []check {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]check(nil), a.seen...)
}

func startAllowingAuthz(t *testing.T) *allowingAuthz {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := &allowingAuthz{addr: netip.MustParseAddrPort(ln.Addr().String())}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, a)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return a
}
