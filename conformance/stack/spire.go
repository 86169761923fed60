package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/hopguard/hopguard/conformance/binaries"
	"github.com/hopguard/hopguard/conformance/env"
)

// SPIRE's components: the server, the trust domain's authority, and the agent, which attests
// the workloads of this machine and serves them the Workload API.
const (
	SPIREServer = "spire-server"
	SPIREAgent  = "spire-agent"
	// PortHealth is SPIRE's health listener (/ready).
	PortHealth = "health"
)

// The trust domain and what lives in it.
const (
	TrustDomain = "hopguard.local"
	// NodeID is the SPIFFE ID of this machine's SPIRE agent, the parent of every workload.
	NodeID = "spiffe://" + TrustDomain + "/node"
	// TriageID is the autonomous triage agent's SPIFFE ID: its principal at the STS.
	TriageID = "spiffe://" + TrustDomain + "/ns/agents/sa/triage"
	// STSID is the STS's own SPIFFE ID: a workload too, so that the Workload API gives it the
	// JWT bundle it verifies the triage agent's JWT-SVIDs with.
	STSID = "spiffe://" + TrustDomain + "/sts"
)

// File names in SPIRE's component directories.
const (
	spireServerConf = "server.conf"
	spireAgentConf  = "agent.conf"
	spireAPISocket  = "api.sock"
	joinTokenFile   = "join-token"
	// WorkloadSocketFile is the Workload API's socket in the agent's directory.
	WorkloadSocketFile = "workload.sock"
)

// maxSocketPath is the longest path a unix socket may have on Linux (sun_path, 108 bytes with
// its terminating NUL).
const maxSocketPath = 107

// Workload is a registration entry: the SPIFFE ID SPIRE's agent gives a process that shows all
// of Selectors, and no other.
type Workload struct {
	ID        string
	Selectors []string
}

// BinaryWorkload is the workload id for a process that runs as uid from the executable binary,
// byte for byte: the selectors of SPIRE's unix workload attestor for its user and the sha256 of
// its executable.
func BinaryWorkload(id string, uid int, binary string) (Workload, error) {
	sum, err := fileSHA256(binary)
	if err != nil {
		return Workload{}, fmt.Errorf("workload %s: %w", id, err)
	}
	return ExecutableWorkload(id, uid, sum), nil
}

// ExecutableWorkload is the workload id for a process that runs as uid from an executable whose
// sha256 is sum (hex): a container's, whose binary is in its image.
func ExecutableWorkload(id string, uid int, sum string) Workload {
	return Workload{ID: id, Selectors: []string{"unix:uid:" + strconv.Itoa(uid), "unix:sha256:" + sum}}
}

// SPIREOptions turn SPIRE on in an environment.
type SPIREOptions struct {
	// Workloads are the registration entries, asked for once SPIRE's server is ready (the
	// binaries are built by then).
	Workloads func(context.Context) ([]Workload, error)
}

// SocketsFit says whether SPIRE's unix sockets fit under runDir, the run's directory: a socket
// path may be 107 bytes at most, and a deep checkout can make them longer.
func SocketsFit(runDir string) error {
	return socketsFit(filepath.Join(runDir, SPIREAgent, WorkloadSocketFile), filepath.Join(runDir, SPIREServer, spireAPISocket))
}

func socketsFit(sockets ...string) error {
	for _, socket := range sockets {
		if len(socket) > maxSocketPath {
			return fmt.Errorf("the socket path %s is longer than the %d bytes a unix socket may have: run from a shorter directory", socket, maxSocketPath)
		}
	}
	return nil
}

// WorkloadSocket is the address of the Workload API in a running environment.
func WorkloadSocket(l env.Layout) string {
	return "unix://" + filepath.Join(l.Dir(SPIREAgent), WorkloadSocketFile)
}

func spireServer(opts SPIREOptions) env.Component {
	return env.Component{
		Name:    SPIREServer,
		Program: env.Program{Tool: "spire-server"},
		Ports:   []string{PortGRPC, PortHealth},
		Files: []env.File{{Name: spireServerConf, Render: func(l env.Layout) ([]byte, error) {
			return render(serverConf, l, SPIREServer)
		}}},
		Args: func(l env.Layout) []string {
			return []string{"run", "-config", filepath.Join(l.Dir(SPIREServer), spireServerConf)}
		},
		Ready: env.Probe{Kind: env.ProbeHTTP, Port: PortHealth, Path: "/ready"},
		AfterReady: func(ctx context.Context, l env.Layout) error {
			return register(ctx, l, opts)
		},
	}
}

func spireAgent() env.Component {
	return env.Component{
		Name:    SPIREAgent,
		Program: env.Program{Tool: "spire-agent"},
		Ports:   []string{PortHealth},
		Files: []env.File{{Name: spireAgentConf, Render: func(l env.Layout) ([]byte, error) {
			return render(agentConf, l, SPIREAgent)
		}}},
		Args: func(l env.Layout) []string {
			return []string{"run", "-config", filepath.Join(l.Dir(SPIREAgent), spireAgentConf)}
		},
		Ready: env.Probe{Kind: env.ProbeHTTP, Port: PortHealth, Path: "/ready"},
		// It attests a workload by what /proc says of the process on the Workload API's socket.
		InspectsProcesses: true,
	}
}

// register mints the agent's join token and registers every workload, on the server's admin
// socket, with SPIRE's own CLI.
func register(ctx context.Context, l env.Layout, opts SPIREOptions) error {
	out, err := SPIREServerCommand(ctx, l.Dir(SPIREServer), "token", "generate", "-spiffeID", NodeID, "-ttl", "600")
	if err != nil {
		return err
	}
	token, ok := strings.CutPrefix(strings.TrimSpace(out), "Token: ")
	if !ok || token == "" {
		return fmt.Errorf("spire-server token generate said %q, not a token", out)
	}
	if err := os.WriteFile(filepath.Join(l.Dir(SPIREServer), joinTokenFile), []byte(token), 0o600); err != nil {
		return fmt.Errorf("keep the join token: %w", err)
	}
	if opts.Workloads == nil {
		return nil
	}
	workloads, err := opts.Workloads(ctx)
	if err != nil {
		return fmt.Errorf("the workloads SPIRE attests: %w", err)
	}
	for _, w := range workloads {
		if err := RegisterWorkload(ctx, l.Dir(SPIREServer), w); err != nil {
			return err
		}
	}
	return nil
}

// RegisterWorkload registers w with the SPIRE server whose directory is serverDir. SPIRE's agent
// learns of it at its next sync, within seconds.
func RegisterWorkload(ctx context.Context, serverDir string, w Workload) error {
	args := []string{"entry", "create", "-parentID", NodeID, "-spiffeID", w.ID}
	for _, s := range w.Selectors {
		args = append(args, "-selector", s)
	}
	if _, err := SPIREServerCommand(ctx, serverDir, args...); err != nil {
		return fmt.Errorf("register %s: %w", w.ID, err)
	}
	return nil
}

// SPIREServerCommand runs spire-server's CLI with args (a subcommand and its flags) against the
// admin socket of the server whose directory is serverDir, and returns what it printed.
func SPIREServerCommand(ctx context.Context, serverDir string, args ...string) (string, error) {
	cli, err := binaries.Tool("spire-server")
	if err != nil {
		return "", err
	}
	return spireCLI(ctx, cli, append(args, "-socketPath", filepath.Join(serverDir, spireAPISocket))...)
}

func spireCLI(ctx context.Context, cli string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("spire-server %s: %w: %s", strings.Join(args[:min(3, len(args))], " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// spireConfig is what SPIRE's config files are rendered from.
type spireConfig struct {
	ServerDir, AgentDir     string
	ServerAddr, ServerPort  string
	HealthAddr, HealthPort  string
	TrustDomain, JoinToken  string
	WorkloadSocket, APISock string
}

func render(t *template.Template, l env.Layout, component string) ([]byte, error) {
	server, health := l.Addr(SPIREServer, PortGRPC), l.Addr(component, PortHealth)
	c := spireConfig{
		ServerDir: l.Dir(SPIREServer), AgentDir: l.Dir(SPIREAgent),
		ServerAddr: server.Addr().String(), ServerPort: strconv.Itoa(int(server.Port())),
		HealthAddr: health.Addr().String(), HealthPort: strconv.Itoa(int(health.Port())),
		TrustDomain:    TrustDomain,
		WorkloadSocket: filepath.Join(l.Dir(SPIREAgent), WorkloadSocketFile),
		APISock:        filepath.Join(l.Dir(SPIREServer), spireAPISocket),
	}
	if err := socketsFit(c.WorkloadSocket, c.APISock); err != nil {
		return nil, err
	}
	if component == SPIREAgent {
		token, err := os.ReadFile(filepath.Join(l.Dir(SPIREServer), joinTokenFile))
		if err != nil {
			return nil, fmt.Errorf("the join token %s minted: %w", SPIREServer, err)
		}
		c.JoinToken = string(token)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, c); err != nil {
		return nil, errors.New("render " + t.Name() + ": " + err.Error())
	}
	return b.Bytes(), nil
}

// healthChecks is the health listener both SPIRE configs end with: /ready is the readiness probe.
const healthChecks = `{{define "health"}}health_checks {
  listener_enabled = true
  bind_address = "{{.HealthAddr}}"
  bind_port = "{{.HealthPort}}"
  live_path = "/live"
  ready_path = "/ready"
}
{{end}}`

// serverConf: the trust domain's authority, its data in its own directory, keys in memory,
// agents attested by a one-time join token (the one node attestation that needs nothing of the
// platform: this is one machine).
var serverConf = template.Must(template.Must(template.New(spireServerConf).Parse(healthChecks)).Parse(`server {
  bind_address = "{{.ServerAddr}}"
  bind_port = "{{.ServerPort}}"
  socket_path = "{{.APISock}}"
  trust_domain = "{{.TrustDomain}}"
  data_dir = "{{.ServerDir}}/data"
  log_level = "WARN"
  default_jwt_svid_ttl = "5m"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "{{.ServerDir}}/data/datastore.sqlite3"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
{{template "health" .}}`))

// agentConf: attested by the server's join token, on loopback (insecure_bootstrap: it takes the
// server's bundle on first contact, which loopback inside the run's own namespace allows), the
// Workload API on a unix socket, workloads attested by uid and executable (discover_workload_path
// gives the unix:sha256 selector).
var agentConf = template.Must(template.Must(template.New(spireAgentConf).Parse(healthChecks)).Parse(`agent {
  data_dir = "{{.AgentDir}}/data"
  log_level = "WARN"
  server_address = "{{.ServerAddr}}"
  server_port = "{{.ServerPort}}"
  socket_path = "{{.WorkloadSocket}}"
  trust_domain = "{{.TrustDomain}}"
  insecure_bootstrap = true
  join_token = "{{.JoinToken}}"
}
plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {
      discover_workload_path = true
    }
  }
}
{{template "health" .}}`))
