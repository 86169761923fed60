package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hopguard/hopguard/conformance/stack"
)

// Published is a running environment as `make up` publishes it (out/up/env.json): every
// endpoint, where its logs and secrets are, and the principals with their tasks, so that a
// script, an agent or the suites (EXTERNAL gateways, Attach) can use it while it runs.
type Published struct {
	// Runtime runs the components ("process", "container").
	Runtime string `json:"runtime"`
	// Network says where the endpoints can be reached: "host", or how to enter the namespace.
	Network string `json:"network"`
	// Dir is the run's directory: component directories and logs/.
	Dir string `json:"dir"`
	// Endpoints are every component's ports: component, then port name, then host:port.
	Endpoints map[string]map[string]string `json:"endpoints"`
	// Gateways are the gateways in front of the stack, each with its front door in Endpoints
	// (port "http"); empty under GATEWAY=none.
	Gateways []string `json:"gateways"`
	// Routes are the path of each resource's route on a gateway: "llm" is "/v1".
	Routes map[string]string `json:"routes"`
	// Upstreams are the mock upstream of each resource: "mcp:tickets" is "mcp-tickets".
	Upstreams map[string]string `json:"upstreams"`
	// Control is the base URL of the control API (stop, restart, ready), bearer AdminTokenFile.
	Control        string `json:"control"`
	AdminTokenFile string `json:"admin_token_file"`
	// SigningKeyFile is the STS's signing key (the security suite forges tokens with it).
	SigningKeyFile    string      `json:"signing_key_file"`
	AuditLog          string      `json:"audit_log"`
	CerbosDecisionLog string      `json:"cerbos_decision_log"`
	Logs              string      `json:"logs"`
	Principals        []Principal `json:"principals"`
}

// Principal is one of the environment's principals with the task `make up` made for it.
type Principal struct {
	Name         string `json:"name"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AgentID      string `json:"agent_id"`
	Roles        string `json:"roles"`
	TaskID       string `json:"task_id"`
	Ticket       string `json:"ticket"`
}

// Publish describes the running environment h; control is the control API's base URL.
func Publish(h *Env, control, adminTokenFile string, principals []Principal) (Published, error) {
	p := Published{
		Runtime:           h.RuntimeName,
		Network:           "host",
		Dir:               h.Runtime.Dir(),
		Endpoints:         map[string]map[string]string{},
		Routes:            map[string]string{"llm": "/v1"},
		Upstreams:         map[string]string{"llm": stack.LLM},
		Control:           control,
		AdminTokenFile:    adminTokenFile,
		SigningKeyFile:    filepath.Join(h.Runtime.Dir(), stack.STS, stack.SigningKeyFile),
		AuditLog:          h.AuditLogPath(),
		CerbosDecisionLog: h.CerbosDecisionLogPath(),
		Logs:              h.LogsDir(),
		Principals:        principals,
	}
	for _, server := range stack.MCPServers() {
		p.Routes["mcp:"+server] = "/mcp/" + server
		p.Upstreams["mcp:"+server] = stack.MCPComponent(server)
	}
	for _, c := range h.Description.Components {
		if _, down := h.Runtime.NotRunning()[c.Name]; down {
			continue
		}
		ports := map[string]string{}
		for _, port := range c.Ports {
			addr, err := h.Runtime.Endpoint(c.Name, port)
			if err != nil {
				return Published{}, err
			}
			ports[port] = addr.String()
		}
		p.Endpoints[c.Name] = ports
	}
	for _, g := range h.Gateways {
		p.Gateways = append(p.Gateways, g.Name())
	}
	return p, nil
}

// URL is the base URL of a component's HTTP port ("" when it has none).
func (p Published) URL(component string) string {
	if addr := p.Endpoints[component][stack.PortHTTP]; addr != "" {
		return "http://" + addr
	}
	return ""
}

// Write writes p as JSON to path, readable by its owner only: it names the admin token's file.
func (p Published) Write(path string) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("publish the environment: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("publish the environment: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("publish the environment: %w", err)
	}
	return nil
}

// ReadPublished reads what `make up` published at path, and checks it names what the suites
// and the agent need.
func ReadPublished(path string) (Published, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Published{}, fmt.Errorf("read the environment `make up` published (is it running?): %w", err)
	}
	var p Published
	if err := json.Unmarshal(data, &p); err != nil {
		return Published{}, fmt.Errorf("read %s: %w", path, err)
	}
	var missing []string
	for _, c := range []string{stack.Synapse, stack.STS, stack.ExpiredSTS, stack.Cerbos, stack.LLM} {
		if len(p.Endpoints[c]) == 0 {
			missing = append(missing, c)
		}
	}
	for _, s := range stack.MCPServers() {
		if len(p.Endpoints[stack.MCPComponent(s)]) == 0 {
			missing = append(missing, stack.MCPComponent(s))
		}
	}
	if p.Control == "" || p.AdminTokenFile == "" {
		missing = append(missing, "control", "admin_token_file")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Published{}, fmt.Errorf("%s: %w: %v", path, errIncomplete, missing)
	}
	return p, nil
}

var errIncomplete = errors.New("the published environment lacks")
