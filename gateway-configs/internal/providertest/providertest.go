// Package providertest is the machinery the gateways' end-to-end tests share
// (gateway-configs/envoy and gateway-configs/agentgateway): the mock LLM served over TLS
// (mockllm --tls-cert --tls-key) and its journal, stand-ins for synapse's ext_authz (one that
// allows and records, one that denies as synapse would), the fail-closed tests' requests, free
// ports, the provider key, a gateway process and its log, the agent's calls, and running a
// test again inside a loopback-only network namespace of its own.
//
// Only tests import it: it fails the test it is handed (testing, testify) rather than
// returning errors.
package providertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/mockservers/llm"
	"github.com/hopguard/hopguard/synapse/extproc"
	"github.com/hopguard/hopguard/synapse/jsonrpc"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/respond"
	"github.com/hopguard/hopguard/synapse/visibility"
)

// KeyEnv is the environment variable the tests hand the provider key to the gateway in.
const KeyEnv = "HOPGUARD_TEST_PROVIDER_KEY"

// AgentToken stands for the agent's own credential: ext_authz sees it, the provider never does.
const AgentToken = "agent-token-not-for-the-provider"

// RunHereIsolated runs the calling test again, alone, inside a loopback-only network namespace
// of its own and reports its outcome (false: the caller returns); inside one it returns true.
// Where no namespace can be made the test is skipped, saying why it must not run on the
// host's network.
func RunHereIsolated(t *testing.T, why string) bool {
	t.Helper()
	return runHereIsolated(t, func(err error) bool {
		t.Helper()
		t.Skipf("not run: %s and no loopback-only network namespace can be made here: %v", why, err)
		return false
	})
}

// RunHereIsolatedIfPossible is RunHereIsolated, but where no namespace can be made it returns
// true and the test runs in this process, on the host's loopback.
func RunHereIsolatedIfPossible(t *testing.T) bool {
	t.Helper()
	return runHereIsolated(t, func(err error) bool {
		t.Helper()
		t.Logf("no loopback-only network namespace here (%v): running on the host's loopback", err)
		return true
	})
}

// runHereIsolated is RunHereIsolated with noNamespace deciding what happens where no namespace
// can be made.
func runHereIsolated(t *testing.T, noNamespace func(error) bool) bool {
	t.Helper()
	if netns.Current().Isolated {
		require.NoError(t, netns.Enter(t.Context(), netns.Child{}), "prepare the namespace")
		return true
	}
	if err := netns.CanMakePrivate(); err != nil {
		return noNamespace(err)
	}
	// Built here: the namespace has no network, should the build want any.
	mockllm := MockLLMBinary(t)
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

// WithoutEnv is env without the variable name.
func WithoutEnv(env []string, name string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// RandomKey is a provider key no one else knows.
func RandomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "sk-test-" + hex.EncodeToString(b)
}

// FreeAddr is an address on 127.0.0.1 that was free a moment ago.
func FreeAddr(t *testing.T) netip.AddrPort {
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

// MockLLMBinary is mockllm: the binary mockLLMEnv names, else built into a folder of t's.
func MockLLMBinary(t *testing.T) string {
	t.Helper()
	if path := os.Getenv(mockLLMEnv); path != "" {
		return path
	}
	bins, err := binaries.Build(t.Context(), t.TempDir(), "./mockservers/cmd/mockllm")
	require.NoError(t, err, "build mockllm")
	return bins["./mockservers/cmd/mockllm"]
}

// StartTLSMock runs mockllm (the binary at mockBin) over TLS with the given certificate (for
// certHost) on 127.0.0.1, accepting key only. It returns the port and a client of its journal
// that verifies the certificate against pki's CA, for certHost.
func StartTLSMock(t *testing.T, mockBin string, pki llm.TestPKI, certFile, keyFile, certHost, key string) (uint16, *journal.Client) {
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

// Entries is what c's journal holds.
func Entries(t *testing.T, c *journal.Client) []journal.Entry {
	t.Helper()
	got, err := c.Entries(t.Context())
	require.NoError(t, err)
	return got
}

// RunningGateway is a gateway a test started: its base URL and its log (stdout, where an
// access log goes, and stderr).
type RunningGateway struct {
	URL, LogPath string
	name         string
}

// StartEnvoy runs Envoy (the binary at bin) on config, which has its gateway listen on listen
// and its admin on admin, with env added to its environment, and returns once Envoy is ready.
func StartEnvoy(t *testing.T, bin string, config []byte, listen, admin netip.AddrPort, env ...string) RunningGateway {
	t.Helper()
	args := func(path string) []string {
		return []string{"-c", path, "--use-dynamic-base-id", "--disable-hot-restart", "--log-level", "warn"}
	}
	return startGateway(t, "Envoy", bin, args, config, env, fmt.Sprintf("http://%s/ready", admin), "http://"+listen.String())
}

// StartAgentgateway runs agentgateway (the binary at bin) on config, which has its gateway on
// 127.0.0.1:gatewayPort and its readiness on 127.0.0.1:readinessPort, with env added to its
// environment, and returns once it is ready.
func StartAgentgateway(t *testing.T, bin string, config []byte, gatewayPort, readinessPort int, env ...string) RunningGateway {
	t.Helper()
	args := func(path string) []string { return []string{"-f", path} }
	return startGateway(t, "agentgateway", bin, args, config, env,
		fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", readinessPort), fmt.Sprintf("http://127.0.0.1:%d", gatewayPort))
}

// startGateway runs bin with args(the path of config, written to a folder of t's) and env
// added to its environment (which has no KeyEnv of its own) until the test ends, and returns
// once ready answers 200, within 30s. name names the gateway in messages; its log is
// strings.ToLower(name)+".log", beside the config.
func startGateway(t *testing.T, name, bin string, args func(config string) []string, config []byte, env []string, ready, url string) RunningGateway {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, strings.ToLower(name)+".yaml")
	require.NoError(t, os.WriteFile(path, config, 0o600))
	logPath := filepath.Join(dir, strings.ToLower(name)+".log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args(path)...)
	cmd.Env = append(WithoutEnv(os.Environ(), KeyEnv), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", strings.ToLower(name), log)
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(ready)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return RunningGateway{URL: url, LogPath: logPath, name: name}
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%s was not ready within 30s:\n%s", name, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitForLog waits up to five seconds (an access log is flushed now and then) for a line of
// the gateway's log holding every one of want.
func (g RunningGateway) WaitForLog(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, err := os.ReadFile(g.LogPath)
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
			t.Errorf("no line of %s's log holds all of %q:\n%s", g.name, want, log)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ChatCompletion sends one chat completion through the gateway as the agent would.
func ChatCompletion(t *testing.T, gateway string) (int, string) {
	t.Helper()
	return Post(t, gateway+"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"Work ticket T-1001"}]}`)
}

// Post sends body (not empty) to url as JSON with the agent's credential.
func Post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	require.NotEmpty(t, body, "a JSON body")
	resp, got := SendAsAgent(t, url, http.MethodPost, "", body)
	return resp.StatusCode, got
}

// AllowingAuthz stands in for synapse: it allows every request with synapse's own allow
// response (which removes the agent's credential headers) and records what it was shown. Like
// synapse, it seals a grant into an allowed list request (tools/list, resources/list,
// prompts/list) alone, and its response path is synapse's own (synapse/extproc), shown every
// tool but HiddenTool: a list's answer passes through it, rewritten.
type AllowingAuthz struct {
	authv3.UnimplementedAuthorizationServer
	Addr netip.AddrPort

	sealer  *visibility.Sealer
	streams atomic.Int64
	mu      sync.Mutex
	seen    []Check
}

// HiddenTool is the one tool AllowingAuthz's response path takes out of a tools/list.
const HiddenTool = "hidden_tool"

// allowingDecision is the decision id of every check AllowingAuthz allows.
const allowingDecision = "test-decision"

// Check is what one ext_authz check showed: the route's resource, the request's path, the
// Authorization header and every header, one "name: value" a line.
type Check struct {
	Resource, Path, Authorization, AllHeaders string
}

func (a *AllowingAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	httpReq := req.GetAttributes().GetRequest().GetHttp()
	headers := httpReq.GetHeaders()
	var all strings.Builder
	for k, v := range headers {
		fmt.Fprintf(&all, "%s: %s\n", k, v)
	}
	a.mu.Lock()
	a.seen = append(a.seen, Check{
		Resource:      req.GetAttributes().GetContextExtensions()["resource"],
		Path:          httpReq.GetPath(),
		Authorization: headers["authorization"],
		AllHeaders:    all.String(),
	})
	a.mu.Unlock()
	resp := respond.Allowed(allowingDecision, respond.Provenance{})
	resource := req.GetAttributes().GetContextExtensions()["resource"]
	body := httpReq.GetRawBody()
	if len(body) == 0 {
		body = []byte(httpReq.GetBody()) // a gateway that does not pack the body as bytes
	}
	if lists, ok := listRequests(body); strings.HasPrefix(resource, "mcp:") && ok {
		sealed, err := a.sealer.Seal(allowingDecision, visibility.Grant{Kind: resource, Lists: lists}, time.Now())
		if err != nil {
			return nil, fmt.Errorf("seal the grant: %w", err)
		}
		respond.WithGrant(resp, sealed)
	}
	return resp, nil
}

// listRequests are the list requests of a JSON-RPC body as synapse names them in a grant, and
// whether it asks for a list at all, as synapse's mapping reads it.
func listRequests(body []byte) ([]visibility.ListRequest, bool) {
	msgs, _, err := jsonrpc.Decode(body, jsonrpc.Limits{})
	if err != nil {
		return nil, false
	}
	var lists []visibility.ListRequest
	asks := false
	for _, m := range msgs {
		if _, ok := visibility.ListingFor(m.Method); ok {
			asks = true
			if m.Kind == jsonrpc.KindRequest {
				lists = append(lists, visibility.ListRequest{Method: m.Method, ID: m.ID})
			}
		}
	}
	return lists, asks
}

// ResponsePathStreams is how many ext_proc streams the gateway has opened to the stand-in.
func (a *AllowingAuthz) ResponsePathStreams() int64 { return a.streams.Load() }

// countingProcessor is synapse's response path, counting the streams it serves.
type countingProcessor struct {
	*extproc.Server
	streams *atomic.Int64
}

func (p countingProcessor) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	p.streams.Add(1)
	return p.Server.Process(stream)
}

// allButHiddenTool plans every tool as always allowed but HiddenTool, always denied.
var allButHiddenTool = visibility.PlannerFunc(func(_ context.Context, req pdp.PlanRequest) (pdp.Plan, error) {
	if slices.Contains(req.Actions, "tools/call/"+HiddenTool) {
		return pdp.PlanAlwaysDenied, nil // as Cerbos plans several actions: pdp.AllOf
	}
	return pdp.PlanAlwaysAllowed, nil
})

// Checks are the checks so far, oldest first.
func (a *AllowingAuthz) Checks() []Check {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Check(nil), a.seen...)
}

// StartAllowingAuthz serves an AllowingAuthz on 127.0.0.1 until the test ends.
func StartAllowingAuthz(t *testing.T) *AllowingAuthz {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	key := make([]byte, 32)
	_, err = rand.Read(key)
	require.NoError(t, err)
	sealer, err := visibility.NewSealer(key, time.Minute)
	require.NoError(t, err)
	a := &AllowingAuthz{Addr: netip.MustParseAddrPort(ln.Addr().String()), sealer: sealer}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, a)
	extprocv3.RegisterExternalProcessorServer(srv, countingProcessor{
		Server:  &extproc.Server{Sealer: sealer, Planner: allButHiddenTool, Log: slog.New(slog.DiscardHandler)},
		streams: &a.streams,
	})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return a
}
