// Package stack is hopguard's environment: real Cerbos serving policies/, synapse in front of
// it, the mock upstreams (LLM, four MCP servers), the STS, and one or more gateways. It says
// which components run, in what order, on which named ports, with which config files and how
// each is known to be ready; a runtime decides where.
package stack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"runtime"

	"github.com/hopguard/hopguard/conformance/env"
)

// Component names. Gateways reach the upstreams by these names through env.Layout.
const (
	Cerbos  = "cerbos"
	STS     = "sts"
	LLM     = "llm"
	Synapse = "synapse"
	// ExpiredSTS signs with the same key as STS but with its clock an hour behind, so every
	// token it issues is genuine and already expired.
	ExpiredSTS = "sts-expired"
	// Postgres holds the task registry the synapse replicas share (Options.SynapseReplicas).
	Postgres = "postgres"
)

// SynapseReplica is the component name of the i-th synapse replica, counted from 1: the first
// is Synapse itself, so that everything addressing "synapse" (its task API, its audit) keeps
// meaning one replica.
func SynapseReplica(i int) string {
	if i <= 1 {
		return Synapse
	}
	return fmt.Sprintf("%s-%d", Synapse, i)
}

// SynapseReplicas are the synapse replicas l declares, in order, the first being Synapse.
func SynapseReplicas(l env.Layout) []string {
	names := []string{Synapse}
	for i := 2; ; i++ {
		if _, ok := l.Lookup(SynapseReplica(i), PortGRPC); !ok {
			return names
		}
		names = append(names, SynapseReplica(i))
	}
}

// SynapseAddrs are the ext_authz addresses of every synapse replica in l: what a gateway
// balances its checks across.
func SynapseAddrs(l env.Layout) []netip.AddrPort {
	var addrs []netip.AddrPort
	for _, name := range SynapseReplicas(l) {
		addrs = append(addrs, l.Addr(name, PortGRPC))
	}
	return addrs
}

// MCPServers are the MCP servers of the environment, each run as the component
// MCPComponent(name): the demo's, and ConformanceServer.
func MCPServers() []string {
	return []string{"tickets", "crm", "payments", "payroll", "knowledge", ConformanceServer}
}

// ConformanceServer is the fixture server of the official MCP conformance framework
// (mockservers/mcpconformance), routed like the demo's servers, on which the MCP transparency
// suite runs the framework directly and through each gateway.
const ConformanceServer = "conformance"

// MCPComponent is the component name of one MCP server.
func MCPComponent(server string) string { return "mcp-" + server }

// Port names.
const (
	PortHTTP  = "http"  // every HTTP server; for a gateway, the front door agents use
	PortGRPC  = "grpc"  // Cerbos's API; synapse's ext_authz service
	PortAdmin = "admin" // synapse's task API; a gateway's admin interface
	PortDebug = "debug" // Cerbos's debug listener, which would otherwise bind :6666 everywhere
	PortSQL   = "sql"   // PostgreSQL
)

// Issuer is the `iss` of the STS's tokens, and the only issuer synapse trusts.
const Issuer = "https://sts.hopguard.local"

// File names inside component directories.
const (
	SigningKeyFile    = "signing-key.pem"
	SynapseConfigFile = "synapse.yaml"
	SynapseAuditFile  = "audit.ndjson"
	// PostgresPasswordFile is the registry role's password, in Postgres's directory.
	PostgresPasswordFile = "password"
	// PostgresDSNFile is the registry's connection string, in each replica's directory.
	PostgresDSNFile = "postgres.dsn"
	// GrantKeyFile is the key the replicas seal list grants with, in each replica's directory.
	GrantKeyFile = "grant.key"
	// PostgresUser is the role synapse connects to the registry as.
	PostgresUser        = "hopguard"
	CerbosDecisionsFile = "decisions.log"
)

// Secrets are generated per run; nothing of them is checked in or reused.
type Secrets struct {
	// AdminToken guards synapse's task API.
	AdminToken string
	// SigningKeyPEM is the STS's P-256 key (PKCS#8), shared by STS and ExpiredSTS.
	SigningKeyPEM []byte
	// PostgresPassword is the task registry's role's password, when PostgreSQL runs.
	PostgresPassword string
	// GrantKey is the key, in hex, every replica seals and opens list grants with.
	GrantKey string
}

// NewSecrets generates fresh secrets.
func NewSecrets() (Secrets, error) {
	token := make([]byte, 24)
	if _, err := rand.Read(token); err != nil {
		return Secrets{}, fmt.Errorf("generate admin token: %w", err)
	}
	password := make([]byte, 24)
	if _, err := rand.Read(password); err != nil {
		return Secrets{}, fmt.Errorf("generate registry password: %w", err)
	}
	grantKey := make([]byte, 32)
	if _, err := rand.Read(grantKey); err != nil {
		return Secrets{}, fmt.Errorf("generate grant key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Secrets{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Secrets{}, fmt.Errorf("encode signing key: %w", err)
	}
	return Secrets{
		AdminToken:       hex.EncodeToString(token),
		SigningKeyPEM:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		PostgresPassword: hex.EncodeToString(password),
		GrantKey:         hex.EncodeToString(grantKey),
	}, nil
}

// Options shape one environment.
type Options struct {
	Secrets Secrets
	// Gateways are the gateway components, started last; each must declare the port PortHTTP.
	Gateways []env.Component
	// SPIRE, when set, runs SPIRE's server and agent before the STS, which then takes the
	// triage workload's identity from its JWT-SVID only (spire.go); nil leaves the workload a
	// client secret.
	SPIRE *SPIREOptions
	// SynapseReplicas is how many synapse replicas run. Up to one runs synapse alone, its task
	// registry a bbolt file. Two or more share one registry in PostgreSQL (component Postgres,
	// started before them), and every gateway balances its checks across them: the shape of a
	// deployment that survives losing a replica.
	SynapseReplicas int
}

// New returns the environment description.
func New(opts Options) (env.Environment, error) {
	if len(opts.Secrets.AdminToken) < 16 || len(opts.Secrets.SigningKeyPEM) == 0 {
		return env.Environment{}, errors.New("stack: secrets are missing (use NewSecrets)")
	}
	components := []env.Component{cerbos()}
	if opts.SPIRE != nil {
		components = append(components, spireServer(*opts.SPIRE), spireAgent())
	}
	components = append(components,
		sts(STS, 0, opts.Secrets, opts.SPIRE != nil),
		sts(ExpiredSTS, -1, opts.Secrets, false),
		llm(),
	)
	for _, server := range MCPServers() {
		components = append(components, mcpServer(server))
	}
	if opts.SynapseReplicas < 2 {
		components = append(components, synapse(Synapse, opts.Secrets, false))
	} else {
		components = append(components, postgres(opts.Secrets))
		for i := 1; i <= opts.SynapseReplicas; i++ {
			components = append(components, synapse(SynapseReplica(i), opts.Secrets, true))
		}
	}
	components = append(components, opts.Gateways...)
	return env.Environment{Components: components}, nil
}

func cerbos() env.Component {
	return env.Component{
		Name:    Cerbos,
		Program: env.Program{Tool: "cerbos"},
		Ports:   []string{PortHTTP, PortGRPC, PortDebug},
		Args: func(l env.Layout) []string {
			root := l.ModuleRoot()
			return []string{
				"server",
				// warn drops the gRPC access log's per-call "Handled request" line (~1 KB of JSON
				// per check, 7 % of Cerbos's CPU in BENCHMARKS.md's profile); the decision log,
				// which is the audit contract, is not a log level and stays.
				"--log-level=warn",
				"--config=" + filepath.Join(root, "policies", "cerbos.yaml"),
				"--debug-listen-addr=" + l.Addr(Cerbos, PortDebug).String(),
				"--set=server.httpListenAddr=" + l.Addr(Cerbos, PortHTTP).String(),
				"--set=server.grpcListenAddr=" + l.Addr(Cerbos, PortGRPC).String(),
				// Its own copy of the bundle, which it watches: a run changes policies live there
				// (PolicyDir), never in the source tree.
				"--set=storage.disk.directory=" + PolicyDir(l),
				"--set=audit.file.path=" + filepath.Join(l.Dir(Cerbos), CerbosDecisionsFile),
			}
		},
		Trees: []env.Tree{{Name: policyTree, From: func(l env.Layout) string { return filepath.Join(l.ModuleRoot(), "policies", "bundle") }}},
		Env:   cerbosEnv,
		Ready: env.Probe{Kind: env.ProbeHTTP, Port: PortHTTP, Path: "/_cerbos/health"},
	}
}

// policyTree is the run's copy of policies/bundle in Cerbos's directory.
const policyTree = "policies"

// PolicyDirIn is PolicyDir in the running environment whose directory is runDir.
func PolicyDirIn(runDir string) string { return filepath.Join(runDir, Cerbos, policyTree) }

// PolicyDir is the policy bundle the run's Cerbos watches (policies/cerbos.yaml sets
// watchForChanges): a copy of policies/bundle made when the run starts, which a policy change
// is written into, each file by a rename (policies/provenance.WriteFile), and which a restart
// of Cerbos keeps.
func PolicyDir(l env.Layout) string { return filepath.Join(l.Dir(Cerbos), policyTree) }

// cerbosEnv tunes Cerbos's Go runtime without touching a decision: every check allocates a
// fresh request, validators and a decision log entry, and at GOGC=100 the collector took 12 % of
// its CPU; GOGC=200 cut its CPU per check by 19 % in BENCHMARKS.md's profile runs, for a larger
// heap, which GOMEMLIMIT keeps from growing past what a PDP of these policies should need.
var cerbosEnv = []string{"GOGC=200", "GOMEMLIMIT=512MiB"}

// sts is the STS; clockHours shifts its clock (ExpiredSTS issues tokens already expired). With
// attested, SPIFFE workloads prove themselves to it with JWT-SVIDs from SPIRE's Workload API.
func sts(name string, clockHours int, secrets Secrets, attested bool) env.Component {
	var reaches []string
	if attested {
		reaches = []string{SPIREAgent} // its Workload API's socket
	}
	return env.Component{
		Name:    name,
		Program: env.Program{Package: "./mockservers/cmd/mocksts"},
		Ports:   []string{PortHTTP},
		Files: []env.File{{Name: SigningKeyFile, Render: func(env.Layout) ([]byte, error) {
			return secrets.SigningKeyPEM, nil
		}}},
		Args: func(l env.Layout) []string {
			args := []string{
				"--addr=" + l.Addr(name, PortHTTP).String(),
				"--issuer=" + Issuer,
				"--key-file=" + filepath.Join(l.Dir(name), SigningKeyFile),
				fmt.Sprintf("--clock-offset=%dh", clockHours),
			}
			if attested {
				args = append(args, "--spiffe-socket="+WorkloadSocket(l))
			}
			return args
		},
		Ready:   env.Probe{Kind: env.ProbeHTTP, Port: PortHTTP, Path: "/.well-known/jwks.json"},
		Reaches: reaches,
	}
}

func llm() env.Component {
	return env.Component{
		Name:    LLM,
		Program: env.Program{Package: "./mockservers/cmd/mockllm"},
		Ports:   []string{PortHTTP},
		Args:    func(l env.Layout) []string { return []string{"--addr=" + l.Addr(LLM, PortHTTP).String()} },
		Ready:   env.Probe{Kind: env.ProbeHTTP, Port: PortHTTP, Path: "/_journal"},
	}
}

func mcpServer(server string) env.Component {
	name := MCPComponent(server)
	if server == ConformanceServer {
		return env.Component{
			Name:    name,
			Program: env.Program{Package: "./mockservers/cmd/mockmcpconformance"},
			Ports:   []string{PortHTTP},
			Args: func(l env.Layout) []string {
				// Istio forwards the route's virtual host name; loopback names pass anyway.
				return []string{"--addr=" + l.Addr(name, PortHTTP).String(), "--allow-host=" + server + ".mcp.hopguard.local"}
			},
			Ready: env.Probe{Kind: env.ProbeHTTP, Port: PortHTTP, Path: "/_journal"},
		}
	}
	return env.Component{
		Name:    name,
		Program: env.Program{Package: "./mockservers/cmd/mockmcp"},
		Ports:   []string{PortHTTP},
		Args: func(l env.Layout) []string {
			return []string{"--server=" + server, "--addr=" + l.Addr(name, PortHTTP).String()}
		},
		Ready: env.Probe{Kind: env.ProbeHTTP, Port: PortHTTP, Path: "/_journal"},
	}
}

// synapse is the synapse replica called name; shared puts its task registry in Postgres.
func synapse(name string, secrets Secrets, shared bool) env.Component {
	files := []env.File{{Name: SynapseConfigFile, Render: func(l env.Layout) ([]byte, error) {
		return synapseConfig(l, name, secrets.AdminToken, shared)
	}}}
	if shared {
		files = append(files, env.File{Name: PostgresDSNFile, Render: func(l env.Layout) ([]byte, error) {
			return []byte(PostgresDSN(l, secrets.PostgresPassword)), nil
		}}, env.File{Name: GrantKeyFile, Render: func(env.Layout) ([]byte, error) {
			return []byte(secrets.GrantKey), nil
		}})
	}
	return env.Component{
		Name:    name,
		Program: env.Program{Package: "./synapse/cmd/synapse"},
		Ports:   []string{PortGRPC, PortHTTP, PortAdmin},
		Files:   files,
		Args: func(l env.Layout) []string {
			return []string{"--config=" + filepath.Join(l.Dir(name), SynapseConfigFile)}
		},
		Env: synapseEnv(runtime.NumCPU()),
		// Ready only once Cerbos answers it.
		Ready: env.Probe{Kind: env.ProbeHTTP, Port: PortHTTP, Path: "/readyz"},
	}
}

// postgres is PostgreSQL holding the replicas' task registry: hopguard's pgserver initialises
// its cluster in its directory on the first start (the role PostgresUser with the run's
// password, password authentication only) and keeps it across restarts, as a database server's
// data outlives the server.
func postgres(secrets Secrets) env.Component {
	return env.Component{
		Name:    Postgres,
		Program: env.Program{Package: "./conformance/cmd/pgserver"},
		Ports:   []string{PortSQL},
		Files: []env.File{{Name: PostgresPasswordFile, Render: func(env.Layout) ([]byte, error) {
			return []byte(secrets.PostgresPassword), nil
		}}},
		Args: func(l env.Layout) []string {
			dir := l.Dir(Postgres)
			return []string{
				"--addr=" + l.Addr(Postgres, PortSQL).String(),
				"--data-dir=" + filepath.Join(dir, "data"),
				"--user=" + PostgresUser,
				"--password-file=" + filepath.Join(dir, PostgresPasswordFile),
				// make tools' install on the host; the image has Debian's own path.
				"--bin-path=" + filepath.Join(l.ModuleRoot(), "bin", "postgresql", "bin") + ":/usr/lib/postgresql/15/bin",
			}
		},
		Ready: env.Probe{Kind: env.ProbeTCP, Port: PortSQL},
	}
}

// PostgresDSN is the connection string of the replicas' task registry in l. TLS is off: the
// connection never leaves the loopback interface, and the password is the run's own.
func PostgresDSN(l env.Layout, password string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(PostgresUser, password),
		Host:     l.Addr(Postgres, PortSQL).String(),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return u.String()
}
