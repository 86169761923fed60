// Command istio-xds serves Istio's own translation of hopguard's Istio manifests
// (gateway-configs/istio) to one upstream Envoy over ADS, on a run's ports.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hopguard/hopguard/conformance/xds"
	"github.com/hopguard/hopguard/gateway-configs/istio"
	"github.com/hopguard/hopguard/internal/version"
)

const usage = `istio-xds serves Istio's translation of hopguard's Istio manifests to one Envoy.

The listeners, routes, clusters and endpoints are what Istio's pilot generated for an ingress
gateway from gateway-configs/istio/*.yaml (gateway-configs/istio/generated), with only the
changes upstream Envoy and this run's ports need; each change is logged at start. They are
served over ADS (gRPC, state of the world) to the node --node-id, which must bootstrap with
ads_config pointing here; any other node is refused. gRPC health (grpc.health.v1) reports
SERVING once the snapshot is in place. Every address must be loopback.

Once bound it prints "listening on HOST:PORT" on stdout. SIGINT or SIGTERM stops it.

Usage: istio-xds --gateway ADDR --synapse ADDR... --llm ADDR --mcp NAME=ADDR... [flags]
       istio-xds --version

Flags:
`

// DefaultNodeID is the node id the snapshot is served to.
const DefaultNodeID = "hopguard-istio-gateway"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "istio-xds:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("istio-xds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:18000", "loopback `host:port` the xDS server listens on; port 0 picks a free port")
	nodeID := fs.String("node-id", DefaultNodeID, "the Envoy node `id` served")
	var p istio.Params
	fs.Func("gateway", "loopback `host:port` the gateway's listener binds (the agents' front door)", addrFlag(&p.Listen))
	fs.Func("synapse", "loopback `host:port` of synapse's ext_authz gRPC service, repeatable: one per replica, which the gateway balances its checks across", func(v string) error {
		a, err := netip.ParseAddrPort(v)
		if err != nil {
			return err
		}
		p.Synapse = append(p.Synapse, a)
		return nil
	})
	fs.Func("llm", "loopback `host:port` of the model upstream", addrFlag(&p.LLM))
	fs.Func("mcp", "MCP server `name=host:port`, repeatable; exactly the servers the Istio config routes to", func(v string) error {
		name, a, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("%q: want NAME=HOST:PORT", v)
		}
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return err
		}
		p.MCPServers = append(p.MCPServers, istio.MCPServer{Name: name, Addr: ap})
		return nil
	})
	level := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	showVersion := version.Flag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.Line("istio-xds"))
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	listen, err := netip.ParseAddrPort(*addr)
	if err != nil || !listen.Addr().IsLoopback() {
		return fmt.Errorf("--addr %q: want a loopback host:port", *addr)
	}

	res, changes, err := istio.Build(p)
	if err != nil {
		return err
	}
	for _, c := range changes {
		logger.Info("changed from pilot's output", "resource", c.Resource, "what", c.What, "why", c.Why)
	}
	srv, err := xds.New(ctx, xds.Config{NodeID: *nodeID, Version: "1", Resources: res.ByType(), Logger: logger})
	if err != nil {
		return err
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", listen.String())
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "listening on %s\n", lis.Addr())
	logger.Info("serving Istio's translation over ADS", "addr", lis.Addr().String(), "node", *nodeID,
		"listeners", len(res.Listeners), "routes", len(res.Routes), "clusters", len(res.Clusters), "endpoints", len(res.Endpoints))
	return srv.Serve(ctx, lis)
}

func addrFlag(dst *netip.AddrPort) func(string) error {
	return func(v string) error {
		a, err := netip.ParseAddrPort(v)
		if err != nil {
			return err
		}
		*dst = a
		return nil
	}
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
