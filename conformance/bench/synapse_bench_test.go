package bench

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/app"
	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
	"github.com/hopguard/hopguard/synapse/tasks"
)

// BenchmarkSynapseCheck runs the whole synapse in this process (gRPC server, token
// verification, task registry, audit to a file, Cerbos client) against the real Cerbos, and
// calls Check over gRPC with the benchmark's mix. It is the profile behind `make bench`'s
// figures: go test -bench SynapseCheck -cpuprofile cpu.out ./conformance/bench, then look at
// the frames under synapse's packages (the client's share is in the same profile). With the
// decision cache on, the mix repeats within its TTL and nearly every check is answered from the
// cache without a Cerbos call; cache=off profiles the call to Cerbos.
func BenchmarkSynapseCheck(b *testing.B) {
	b.Run("cache=off", func(b *testing.B) { benchmarkSynapseCheck(b, 0) })
	b.Run("cache=on", func(b *testing.B) { benchmarkSynapseCheck(b, config.DefaultDecisionCacheTTL) })
}

func benchmarkSynapseCheck(b *testing.B, cacheTTL time.Duration) {
	cerbos := cerbostest.Start(b, cerbostest.Options{})
	issuer := identitytest.NewIssuer(b)
	dir := b.TempDir()
	cfg := config.Default()
	cfg.GRPC.ListenAddr, cfg.HTTP.ListenAddr, cfg.Admin.ListenAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Admin.Token = "bench-admin-token-0123456789"
	cfg.Cerbos.Addr = cerbos.GRPCAddr
	cfg.Identity.JWKSURL, cfg.Identity.Issuer = issuer.JWKSURL(), issuer.Issuer
	cfg.Tasks.DBPath = filepath.Join(dir, "tasks.db")
	cfg.Audit.Sink = filepath.Join(dir, "audit.ndjson")
	cfg.DecisionCache.TTL = cacheTTL
	require.NoError(b, cfg.Validate())

	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	synapse, err := app.Start(ctx, cfg, io.Discard, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	b.Cleanup(func() { _ = synapse.Stop(context.Background()) })
	addrs := synapse.Addrs()

	task, err := (&admin.Client{BaseURL: "http://" + addrs.Admin, Token: cfg.Admin.Token}).Create(ctx,
		tasks.NewTask{Principal: benchSubject, AgentID: benchAgentID, TicketID: benchTicket})
	require.NoError(b, err)
	hops := Hops(benchTicket)
	caller := Caller{
		Name:    benchCaller,
		Subject: benchSubject, Roles: []string{benchRole}, AgentID: benchAgentID, HarnessVersion: benchHarnessVersion,
		Task: task, Tokens: map[string]string{}, Sessions: map[string]string{"payments": "s-1", "tickets": "s-2"},
	}
	for _, h := range hops {
		caller.Tokens[h.Resource] = issuer.Mint(b, identitytest.Token{
			Subject: benchSubject, Audience: h.Resource, Roles: caller.Roles, AgentID: benchAgentID,
			HarnessVersion: benchHarnessVersion, TaskID: task.ID, Expiry: time.Now().Add(time.Hour),
		})
	}
	conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(b, err)
	b.Cleanup(func() { _ = conn.Close() })
	mix := SynapseMix(authv3.NewAuthorizationClient(conn), hops, Callers{benchCaller: caller})
	for _, r := range mix {
		require.NoError(b, r.Do(ctx), r.Kind)
	}

	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := mix[(next.Add(1)-1)%uint64(len(mix))]
			if err := r.Do(ctx); err != nil {
				b.Error(r.Kind, err)
				return
			}
		}
	})
}
