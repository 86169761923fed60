package xds

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

// callbacks tell, in the log, when Envoy connected and whether it accepted each resource type,
// and refuse any node other than the one served: a stranger would wait forever on a snapshot
// that is not its own.
type callbacks struct {
	server.CallbackFuncs

	nodeID, version string
	logger          *slog.Logger
	connected       chan struct{}
	connectOnce     sync.Once

	mu       sync.Mutex
	accepted map[string]bool // type URL -> the snapshot's version was acknowledged
}

func newCallbacks(nodeID, version string, logger *slog.Logger) *callbacks {
	return &callbacks{nodeID: nodeID, version: version, logger: logger, connected: make(chan struct{}), accepted: map[string]bool{}}
}

func (c *callbacks) OnStreamOpen(_ context.Context, id int64, typeURL string) error {
	c.logger.Debug("xds stream open", "stream", id, "type", typeURL)
	return nil
}

func (c *callbacks) OnStreamClosed(id int64, node *core.Node) {
	c.logger.Info("xds stream closed", "stream", id, "node", node.GetId())
}

// OnStreamRequest sees every request: the first names the node, later ones acknowledge (the
// version they carry) or reject (error_detail) what was sent before.
func (c *callbacks) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	if node := req.GetNode(); node != nil {
		if node.GetId() != c.nodeID {
			c.logger.Error("xds request from an unknown node refused", "stream", id, "node", node.GetId(), "want", c.nodeID)
			return fmt.Errorf("node %q is not served here (want %q)", node.GetId(), c.nodeID)
		}
		c.markConnected(id, node)
	}
	if detail := req.GetErrorDetail(); detail != nil {
		c.logger.Error("envoy rejected xds resources", "stream", id, "type", req.GetTypeUrl(), "version", req.GetVersionInfo(), "error", detail.GetMessage())
		return nil
	}
	if req.GetVersionInfo() == c.version {
		c.mu.Lock()
		first := !c.accepted[req.GetTypeUrl()]
		c.accepted[req.GetTypeUrl()] = true
		c.mu.Unlock()
		if first {
			c.logger.Info("envoy accepted xds resources", "stream", id, "type", req.GetTypeUrl(), "version", c.version)
		}
	}
	return nil
}

func (c *callbacks) markConnected(id int64, node *core.Node) {
	c.connectOnce.Do(func() {
		close(c.connected)
		c.logger.Info("envoy connected", "stream", id, "node", node.GetId(), "cluster", node.GetCluster(), "envoy", envoyVersion(node))
	})
}

// envoyVersion is "envoy 1.40.0" from the node's user agent.
func envoyVersion(node *core.Node) string {
	v := node.GetUserAgentBuildVersion().GetVersion()
	return fmt.Sprintf("%s %d.%d.%d", node.GetUserAgentName(), v.GetMajorNumber(), v.GetMinorNumber(), v.GetPatch())
}
