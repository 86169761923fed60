package harness

import (
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/stack"
	"github.com/hopguard/hopguard/mockservers/journal"
	"github.com/hopguard/hopguard/synapse/admin"
	"github.com/hopguard/hopguard/synapse/config"
)

// URL is the base URL of a component's HTTP port, as the test process reaches it.
func (h *Env) URL(component string) (string, error) {
	return h.url(component, stack.PortHTTP)
}

func (h *Env) url(component, port string) (string, error) {
	addr, err := h.Runtime.Endpoint(component, port)
	if err != nil {
		return "", err
	}
	return "http://" + addr.String(), nil
}

// GatewayURL is the front door of a running gateway.
func (h *Env) GatewayURL(gateway string) (string, error) { return h.URL(gateway) }

// STSURL is the STS that issues valid tokens.
func (h *Env) STSURL() (string, error) { return h.URL(stack.STS) }

// ExpiredSTSURL is the STS whose tokens are genuine but already expired.
func (h *Env) ExpiredSTSURL() (string, error) { return h.URL(stack.ExpiredSTS) }

// SynapseAddr is synapse's ext_authz gRPC address (what a gateway's ext_authz calls).
func (h *Env) SynapseAddr() (netip.AddrPort, error) {
	return h.Runtime.Endpoint(stack.Synapse, stack.PortGRPC)
}

// CerbosAddr is Cerbos's gRPC API (CheckResources).
func (h *Env) CerbosAddr() (netip.AddrPort, error) {
	return h.Runtime.Endpoint(stack.Cerbos, stack.PortGRPC)
}

// Admin is a client of synapse's task API.
func (h *Env) Admin() (*admin.Client, error) { return h.AdminOf(stack.Synapse) }

// AdminOf is a client of the task API of one synapse replica (stack.SynapseReplica).
func (h *Env) AdminOf(replica string) (*admin.Client, error) {
	u, err := h.url(replica, stack.PortAdmin)
	if err != nil {
		return nil, err
	}
	return &admin.Client{BaseURL: u, Token: h.Secrets.AdminToken}, nil
}

// SynapseReplicas are the synapse replicas that run, the first being stack.Synapse.
func (h *Env) SynapseReplicas() []string {
	var names []string
	for i := 1; ; i++ {
		if _, ok := h.Description.Component(stack.SynapseReplica(i)); !ok {
			return names
		}
		names = append(names, stack.SynapseReplica(i))
	}
}

// Journal is the journal of a mock upstream: stack.LLM or stack.MCPComponent(server).
func (h *Env) Journal(component string) (*journal.Client, error) {
	u, err := h.URL(component)
	if err != nil {
		return nil, fmt.Errorf("journal of %s: %w", component, err)
	}
	return journal.NewClient(u, nil), nil
}

// JournalsByResource are the journals of the mock upstreams keyed by the resource of their
// route: "llm", "mcp:tickets", ...
func (h *Env) JournalsByResource() (map[string]*journal.Client, error) {
	out := map[string]*journal.Client{}
	llm, err := h.Journal(stack.LLM)
	if err != nil {
		return nil, err
	}
	out["llm"] = llm
	for _, s := range stack.MCPServers() {
		j, err := h.Journal(stack.MCPComponent(s))
		if err != nil {
			return nil, err
		}
		out["mcp:"+s] = j
	}
	return out, nil
}

// Upstreams are the components whose journals record what reached an upstream.
func Upstreams() []string {
	out := []string{stack.LLM}
	for _, s := range stack.MCPServers() {
		out = append(out, stack.MCPComponent(s))
	}
	return out
}

// AuditLogPath is synapse's decision log (NDJSON).
func (h *Env) AuditLogPath() string { return h.AuditLogPathOf(stack.Synapse) }

// AuditLogPathOf is the decision log of one synapse replica: each replica writes its own.
func (h *Env) AuditLogPathOf(replica string) string {
	return filepath.Join(h.Runtime.Dir(), replica, stack.SynapseAuditFile)
}

// CerbosDecisionLogPath is Cerbos's decision log (NDJSON).
func (h *Env) CerbosDecisionLogPath() string {
	return filepath.Join(h.Runtime.Dir(), stack.Cerbos, stack.CerbosDecisionsFile)
}

// LogsDir holds one log file per component.
func (h *Env) LogsDir() string { return filepath.Join(h.Runtime.Dir(), "logs") }

// Behind is the environment as the scenarios see it behind the gateway called gateway: its
// front door, the STSs, the admin API, the journals, the logs and the control of components.
// runID keeps the run's task ids apart from every other run's.
func (h *Env) Behind(gateway, runID string) (scenarios.Env, error) {
	e := scenarios.Env{
		Gateway:   gateway,
		AuditLog:  h.AuditLogPath(),
		CerbosLog: h.CerbosDecisionLogPath(),
		Control:   h.Runtime,
		RunID:     runID,
	}
	var err error
	if e.GatewayURL, err = h.GatewayURL(gateway); err != nil {
		return e, err
	}
	if e.STSURL, err = h.STSURL(); err != nil {
		return e, err
	}
	if e.ExpiredSTSURL, err = h.ExpiredSTSURL(); err != nil {
		return e, err
	}
	if e.Admin, err = h.Admin(); err != nil {
		return e, err
	}
	if e.Journals, err = h.JournalsByResource(); err != nil {
		return e, err
	}
	e.Agent, e.AgentUnsandboxed = h.AgentRunner()
	e.SPIFFESocket, e.DriverSTSURL, e.Unattested = h.SPIFFESocket, h.DriverSTSURL(), h.Unattested
	e.WorkloadSelectors = h.TriageSelectors
	if e.Policies, err = h.Policies(); err != nil {
		return e, err
	}
	return e, nil
}

// Policies is the policy set the environment's Cerbos watches, for the scenarios that change
// it live.
func (h *Env) Policies() (*scenarios.Policies, error) {
	cerbos, err := h.URL(stack.Cerbos)
	if err != nil {
		return nil, err
	}
	return &scenarios.Policies{
		Dir:       stack.PolicyDirIn(h.Runtime.Dir()),
		CerbosURL: cerbos,
		CerbosLog: h.Runtime.LogPath(stack.Cerbos),
		// The stack leaves synapse's decision cache at its default.
		CacheTTL: config.DefaultDecisionCacheTTL,
	}, nil
}
