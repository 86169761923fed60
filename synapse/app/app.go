// Package app wires synapse together and runs it: listeners, servers,
// readiness and graceful shutdown. Tests start it in-process.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/hopguard/hopguard/internal/version"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/audit"
	"github.com/hopguard/hopguard/synapse/authz"
	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/extproc"
	"github.com/hopguard/hopguard/synapse/identity"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/metrics"
	"github.com/hopguard/hopguard/synapse/pdp"
	"github.com/hopguard/hopguard/synapse/server"
	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore"
	"github.com/hopguard/hopguard/synapse/tracing"
	"github.com/hopguard/hopguard/synapse/visibility"
)

// readinessInterval is how often Cerbos is probed for /readyz and gRPC health.
const readinessInterval = time.Second

// shutdownGrace bounds the graceful part of a shutdown; in-flight checks
// that take longer are cut off (and the gateway denies them).
const shutdownGrace = 10 * time.Second

// Addrs are the addresses synapse listens on (ports resolved).
type Addrs struct {
	GRPC  string
	HTTP  string
	Admin string
}

// App is a running synapse.
type App struct {
	addrs Addrs
	log   *slog.Logger

	cancel   context.CancelFunc
	grpc     *grpc.Server
	health   *health.Server
	http     *http.Server
	admin    *http.Server
	closers  []func() error
	serveErr chan error
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
}

// Start builds synapse from cfg, binds its listeners, probes Cerbos once and
// starts serving. It writes the ready line to stdout. Stop must be called.
func Start(ctx context.Context, cfg *config.Config, stdout io.Writer, log *slog.Logger) (_ *App, err error) {
	a := &App{log: log, serveErr: make(chan error, 3)}
	defer func() {
		if err != nil {
			_ = a.closeAll()
		}
	}()

	token, err := cfg.AdminToken()
	if err != nil {
		return nil, err
	}
	routes := routeTable(cfg.Routes)
	if err := routes.Validate(); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}

	store, err := openTasks(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, store.Close)

	auditLog, err := audit.Open(cfg.Audit.Sink)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, auditLog.Close)

	cerbos, err := pdp.Dial(cfg.Cerbos.Addr, cfg.Cerbos.Timeout)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, cerbos.Close)

	keys := identity.NewKeySet(identity.KeySetConfig{
		URL:                cfg.Identity.JWKSURL,
		MinRefreshInterval: cfg.Identity.JWKSRefreshInterval,
	})
	m := metrics.New()
	cache, err := decisionCache(cfg.DecisionCache)
	if err != nil {
		return nil, err
	}
	// The readiness probe needs the gRPC health server, which needs the service: the service
	// reads the probe's state through this closure, set before anything is served.
	var readiness *server.Readiness
	budget, err := budgetOf(cfg.Admission)
	if err != nil {
		return nil, err
	}
	// Allowed lists' grants go from ext_authz to ext_proc, the response path, sealed into the
	// request: whichever replica the gateway sends the answer to opens them with the shared key.
	sealer, err := grantSealer(cfg, log)
	if err != nil {
		return nil, err
	}
	tracer, stopTracing, err := tracing.Setup(ctx, tracing.Config{
		OTLPEndpoint: cfg.Tracing.OTLPEndpoint, Insecure: cfg.Tracing.Insecure, SampleRatio: cfg.Tracing.SampleRatio, Version: version.Line("synapse"),
	})
	if err != nil {
		return nil, err
	}
	// Flushes the last spans on the way out, bounded.
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return stopTracing(ctx)
	})

	svc, err := authz.New(authz.Options{
		Tracer:    tracer.Tracer("github.com/hopguard/hopguard/synapse"),
		Routes:    routes,
		Limits:    cfg.Limits.Mapping(),
		Tokens:    identity.NewVerifier(keys, cfg.Identity.Issuer, cfg.Identity.ClockSkew),
		Tasks:     store,
		PDP:       cerbos,
		Audit:     auditLog,
		Metrics:   m,
		Log:       log,
		Cache:     cache,
		Admission: admission(cfg.Admission),
		Budget:    budget,
		Sealer:    sealer,
		PDPReady: func() error {
			return readiness.Err()
		},
	})
	if err != nil {
		return nil, err
	}
	adminHandler, err := admin.NewHandler(store, token, log)
	if err != nil {
		return nil, err
	}

	a.grpc, a.health = server.NewGRPC(svc, svc.FailClosed, log)
	planner, err := listPlanner(cerbos, cfg.DecisionCache)
	if err != nil {
		return nil, err
	}
	hints, err := visibility.NewHints(listHints)
	if err != nil {
		return nil, err
	}
	extprocv3.RegisterExternalProcessorServer(a.grpc, &extproc.Server{
		Sealer: sealer, Planner: planner, Hints: hints, Log: log, Limits: cfg.Limits.Mapping().JSONRPC(), Audit: auditLog, NewID: authz.NewDecisionID, Metrics: m,
	})
	readiness = server.NewReadiness(cerbos, a.health, readinessInterval, log)
	a.http = newHTTPServer(server.NewHTTPHandler(readiness.Err, m.Handler()))
	a.admin = newHTTPServer(adminHandler)

	grpcL, err := listen(ctx, "grpc", cfg.GRPC.ListenAddr)
	if err != nil {
		return nil, err
	}
	httpL, err := listen(ctx, "http", cfg.HTTP.ListenAddr)
	if err != nil {
		_ = grpcL.Close()
		return nil, err
	}
	adminL, err := listen(ctx, "admin", cfg.Admin.ListenAddr)
	if err != nil {
		_ = grpcL.Close()
		_ = httpL.Close()
		return nil, err
	}
	a.addrs = Addrs{GRPC: grpcL.Addr().String(), HTTP: httpL.Addr().String(), Admin: adminL.Addr().String()}

	// One probe before the ready line, so that a harness that reads the line
	// finds /readyz already true when Cerbos is up.
	readiness.Probe(ctx)
	probeCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.goServe("grpc", func() error { return a.grpc.Serve(grpcL) })
	a.goServe("http", func() error { return a.http.Serve(httpL) })
	a.goServe("admin", func() error { return a.admin.Serve(adminL) })
	a.wg.Go(func() { readiness.Run(probeCtx) })

	log.Info("synapse started", "grpc", a.addrs.GRPC, "http", a.addrs.HTTP, "admin", a.addrs.Admin,
		"cerbos", cfg.Cerbos.Addr, "decision_cache_ttl", cfg.DecisionCache.TTL, "gomaxprocs", runtime.GOMAXPROCS(0), "audit", cfg.Audit.Sink, "tasks", cfg.Tasks.DBPath, "routes", len(routes))
	fmt.Fprintf(stdout, "synapse listening grpc=%s http=%s admin=%s\n", a.addrs.GRPC, a.addrs.HTTP, a.addrs.Admin)
	return a, nil
}

// listPlanner plans the items of a list for the response path: through a cache of plans that
// follows the decision cache's settings (on with it, the same TTL and size), since a plan is
// reused on exactly the grounds a decision is.
func listPlanner(cerbos visibility.Planner, conf config.DecisionCacheConf) (visibility.Planner, error) {
	if conf.TTL <= 0 {
		return cerbos, nil
	}
	return visibility.NewCachedPlanner(cerbos, conf.TTL, conf.MaxEntries)
}

// listHints is how many lists' hints the response path keeps (visibility.Hints): one per
// principal, server and list method, a few hundred bytes each.
const listHints = 4096

// decisionCache is the cache conf asks for, nil when it is off.
func decisionCache(conf config.DecisionCacheConf) (*authz.DecisionCache, error) {
	if conf.TTL <= 0 {
		return nil, nil
	}
	return authz.NewDecisionCache(conf.TTL, conf.MaxEntries)
}

// admission is the admission control conf asks for, nil when it is off.
func admission(conf config.AdmissionConf) *authz.Admission {
	if conf.Slots <= 0 {
		return nil
	}
	return &authz.Admission{Slots: conf.Slots, MaxWaiting: conf.MaxWaiting, MaxWait: conf.MaxWait}
}

// budgetOf is each principal's budget of Cerbos work that conf asks for, nil when it sets none.
func budgetOf(conf config.AdmissionConf) (*authz.Budget, error) {
	if conf.BytesPerSecond <= 0 {
		return nil, nil
	}
	return authz.NewBudget(conf.BytesPerSecond, conf.BurstBytes, conf.MaxWait, conf.BudgetPrincipals())
}

// Addrs returns the bound addresses.
func (a *App) Addrs() Addrs { return a.addrs }

// Wait blocks until a server fails (returning its error) or ctx ends (nil).
func (a *App) Wait(ctx context.Context) error {
	select {
	case err := <-a.serveErr:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Stop shuts down gracefully: health goes NOT_SERVING, in-flight checks
// finish (within ctx and shutdownGrace), then everything is closed.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, shutdownGrace)
		defer cancel()
		if a.cancel != nil {
			a.cancel()
		}
		a.health.Shutdown()

		var errs []error
		stopped := make(chan struct{})
		go func() {
			a.grpc.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			a.grpc.Stop()
			<-stopped
		}
		for name, srv := range map[string]*http.Server{"http": a.http, "admin": a.admin} {
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shut down %s server: %w", name, err))
			}
		}
		a.wg.Wait()
		errs = append(errs, a.closeAll())
		a.stopErr = errors.Join(errs...)
		a.log.Info("synapse stopped")
	})
	return a.stopErr
}

func (a *App) goServe(name string, serve func() error) {
	a.wg.Go(func() {
		err := serve()
		if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
			return
		}
		a.serveErr <- fmt.Errorf("%s server: %w", name, err)
	})
}

// closeAll closes in reverse order of opening.
func (a *App) closeAll() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// Run starts synapse and serves until ctx ends (SIGINT/SIGTERM in main),
// then stops gracefully.
func Run(ctx context.Context, cfg *config.Config, stdout io.Writer, log *slog.Logger) error {
	a, err := Start(ctx, cfg, stdout, log)
	if err != nil {
		return err
	}
	serveErr := a.Wait(ctx)
	stopErr := a.Stop(context.WithoutCancel(ctx))
	return errors.Join(serveErr, stopErr)
}

func listen(ctx context.Context, name, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	return l, nil
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

func routeTable(routes []config.Route) mapping.RouteTable {
	t := make(mapping.RouteTable, len(routes))
	for i, r := range routes {
		t[i] = mapping.Route{PathPrefix: r.PathPrefix, Resource: r.Resource}
	}
	return t
}

// grantsTTL is how long a list's sealed grant opens (synapse/visibility.Sealer): it outlasts any
// upstream the gateways wait for, and bounds how long a grant would serve should it ever be
// replayed.
const grantsTTL = 2 * time.Minute

// grantSealer seals with the key cfg names, or, with none, with a key of this process's own: the
// grants it seals open here alone, which serves one replica, and not several.
func grantSealer(cfg *config.Config, log *slog.Logger) (*visibility.Sealer, error) {
	key, err := cfg.GrantKey()
	if err != nil {
		return nil, err
	}
	if key == nil {
		key = make([]byte, config.MinGrantKeyBytes)
		_, _ = rand.Read(key) // never fails (crypto/rand, Go 1.24+)
		log.Info("response path: no responsePath.grantKeyFile, so this synapse seals list grants with a key of its own; " +
			"with several replicas, give every one the same key file, or a list whose answer reaches another replica than its check is withheld")
	}
	return visibility.NewSealer(key, grantsTTL)
}

// taskRegistry is a task registry synapse closes on shutdown.
type taskRegistry interface {
	tasks.Registry
	Close() error
}

// openTasks opens the task registry cfg names: bbolt's file, or PostgreSQL, shared by replicas.
func openTasks(ctx context.Context, cfg *config.Config) (taskRegistry, error) {
	if cfg.Tasks.Backend != config.TasksPostgres {
		return tasks.Open(cfg.Tasks.DBPath)
	}
	dsn, err := cfg.PostgresDSN()
	if err != nil {
		return nil, err
	}
	return pgstore.Open(ctx, dsn)
}
