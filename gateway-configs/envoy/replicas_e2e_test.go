package envoy_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hopguard/hopguard/agent/denial"
	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/gateway-configs/envoy"
	"github.com/hopguard/hopguard/gateway-configs/internal/providertest"
	"github.com/hopguard/hopguard/synapse/respond"
)

// TestChecksAreBalancedAcrossSynapseReplicas runs the real Envoy on a rendering with two
// synapse replicas (stand-ins that allow every check and report their gRPC health as synapse
// does). Consecutive checks alternate between the replicas; a replica that reports NOT_SERVING
// leaves the rotation at its next health check without a check failing, and comes back once it
// reports SERVING; with every replica NOT_SERVING (as when Cerbos is unreachable) both are asked
// again, so that each answers its own denial; a replica that stops leaves the rotation after at
// most a check or two that fail closed, and comes back once it listens again.
func TestChecksAreBalancedAcrossSynapseReplicas(t *testing.T) {
	envoyBin, err := binaries.Tool("envoy")
	if err != nil {
		t.Skipf("not run: real Envoy not available: %v", err)
	}
	if !providertest.RunHereIsolatedIfPossible(t) {
		return
	}
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
	}))
	t.Cleanup(llm.Close)
	var order checkOrder
	one, two := startReplica(t, "one", &order), startReplica(t, "two", &order)
	p := envoy.Params{
		Listen: providertest.FreeAddr(t), Admin: providertest.FreeAddr(t),
		Synapse: []netip.AddrPort{one.addr, two.addr},
		LLM:     netip.MustParseAddrPort(strings.TrimPrefix(llm.URL, "http://")),
	}
	rendered, err := envoy.Render(p)
	require.NoError(t, err)
	gw := gatewayClient{url: providertest.StartEnvoy(t, envoyBin, rendered, p.Listen, p.Admin).URL}

	// Envoy is ready once the first round of health checks is done: both replicas are in.
	alternates := func(t *testing.T) {
		t.Helper()
		before := order.len()
		for range 6 {
			assert.Equal(t, http.StatusOK, gw.call(t))
		}
		got := order.since(before)
		require.Len(t, got, 6, "one check per request")
		for i := 1; i < len(got); i++ {
			assert.NotEqual(t, got[i-1], got[i], "consecutive checks land on different replicas: %v", got)
		}
	}
	alternates(t)
	// alternatesSoon waits for the rotation to take both replicas again (a health check round
	// away), then requires it to alternate.
	alternatesSoon := func(t *testing.T) {
		t.Helper()
		gw.waitUntilOn(t, &order, "one")
		gw.waitUntilOn(t, &order, "two")
		alternates(t)
	}

	// NOT_SERVING: synapse from the start of a graceful stop, or a replica that cannot reach
	// Cerbos. It still answers, so no check fails on the way out.
	two.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	gw.waitUntilOnlyOn(t, &order, "one", 0)
	two.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	alternatesSoon(t)

	// Every replica NOT_SERVING, as when Cerbos is unreachable: fewer than half are healthy, so
	// Envoy asks every replica again (its panic threshold) and each answers for itself.
	for _, r := range []*replica{one, two} {
		r.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	time.Sleep(healthRounds)
	alternatesSoon(t)
	for _, r := range []*replica{one, two} {
		r.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	}
	// Both are back in at their next health check; until then Envoy still asks either.
	time.Sleep(healthRounds)

	// A replica that stops: the first check that fails there ejects it, if its health check has
	// not taken it out already. A check that fails is denied, never let through.
	two.stop()
	gw.waitUntilOnlyOn(t, &order, "one", 2)
	two.start(t)
	alternatesSoon(t)
}

// healthRounds is long enough for two rounds of health checks, one a second.
const healthRounds = 2500 * time.Millisecond

// rotationDeadline bounds the wait for a replica to leave or rejoin the rotation. A health
// check runs every second; the bound is generous because these machines are shared, and it is
// a wait for an event, not a measure of speed.
const rotationDeadline = 15 * time.Second

// gatewayClient sends the agent's requests over one kept-alive connection, so that one Envoy
// worker, whose round robin is its own, picks every replica.
type gatewayClient struct {
	url    string
	client http.Client
}

// call sends one model request and returns its status.
func (g *gatewayClient) call(t *testing.T) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, g.url+"/v1/models", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+providertest.AgentToken)
	resp, err := g.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a check that fails is denied")
		assert.Equal(t, []string{"deny"}, resp.Header.Values(denial.DecisionHeader))
		assert.Equal(t, []string{respond.CodeAuthzUnavailable}, resp.Header.Values(respond.HeaderCode))
	}
	return resp.StatusCode
}

// waitUntilOnlyOn sends requests until ten checks in a row land on the replica called name and
// are allowed, within rotationDeadline; at most maxFailed of them may fail closed on the way.
func (g *gatewayClient) waitUntilOnlyOn(t *testing.T, order *checkOrder, name string, maxFailed int) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(rotationDeadline)
	failed, inARow := 0, 0
	for inARow < 10 {
		require.True(t, time.Now().Before(deadline), "checks still reach other replicas than %s after %s: %v", name, rotationDeadline, order.since(0))
		before := order.len()
		status := g.call(t)
		got := order.since(before)
		switch {
		case status != http.StatusOK:
			failed++
			inARow = 0
		case len(got) == 1 && got[0] == name:
			inARow++
		default:
			inARow = 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("only %s answered after %s; %d checks failed closed on the way", name, time.Since(start).Round(time.Millisecond), failed)
	assert.LessOrEqual(t, failed, maxFailed, "checks that failed closed before the replica left the rotation")
}

// waitUntilOn sends requests until one's check lands on the replica called name, within
// rotationDeadline.
func (g *gatewayClient) waitUntilOn(t *testing.T, order *checkOrder, name string) {
	t.Helper()
	deadline := time.Now().Add(rotationDeadline)
	for {
		before := order.len()
		assert.Equal(t, http.StatusOK, g.call(t))
		if got := order.since(before); len(got) == 1 && got[0] == name {
			return
		}
		require.True(t, time.Now().Before(deadline), "no check reached %s within %s", name, rotationDeadline)
		time.Sleep(50 * time.Millisecond)
	}
}

// checkOrder is which replica answered each check, in order, across the replicas.
type checkOrder struct {
	mu    sync.Mutex
	names []string
}

func (o *checkOrder) add(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.names = append(o.names, name)
}

func (o *checkOrder) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.names)
}

// since are the replicas of the checks after the first n.
func (o *checkOrder) since(n int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.names[n:]...)
}

// replica stands in for one synapse replica on a fixed address, which it can leave and take
// again: it allows every check and notes it in the shared order, and serves grpc.health.v1
// as synapse does, SERVING until told otherwise.
type replica struct {
	name   string
	addr   netip.AddrPort
	order  *checkOrder
	health *health.Server
	srv    *grpc.Server
}

func startReplica(t *testing.T, name string, order *checkOrder) *replica {
	t.Helper()
	r := &replica{name: name, addr: providertest.FreeAddr(t), order: order}
	r.start(t)
	t.Cleanup(r.stop)
	return r
}

func (r *replica) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", r.addr.String())
	require.NoError(t, err)
	r.srv = grpc.NewServer()
	authv3.RegisterAuthorizationServer(r.srv, allowing{r})
	r.health = health.NewServer()
	r.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(r.srv, r.health)
	go func() { _ = r.srv.Serve(ln) }()
}

func (r *replica) stop() { r.srv.Stop() }

// allowing is a replica's ext_authz service.
type allowing struct{ r *replica }

func (a allowing) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	a.r.order.add(a.r.name)
	return respond.Allowed("dec-"+a.r.name, respond.Provenance{}), nil
}
