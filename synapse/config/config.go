// Package config is synapse's configuration: a YAML file, overridden by
// SYNAPSE_* environment variables, overridden by flags; defaults for
// everything that can have one, and Validate for the rest.
package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hopguard/hopguard/synapse/mapping"
)

// Config is everything synapse needs to run.
type Config struct {
	GRPC     ListenConf   `yaml:"grpc"`
	HTTP     ListenConf   `yaml:"http"`
	Admin    AdminConf    `yaml:"admin"`
	Cerbos   CerbosConf   `yaml:"cerbos"`
	Identity IdentityConf `yaml:"identity"`
	// Routes map request path prefixes to resources, for gateways that send
	// no context extensions (Istio). When a gateway does send the resource,
	// it must agree with this table.
	Routes []Route   `yaml:"routes"`
	Tasks  TasksConf `yaml:"tasks"`
	Audit  AuditConf `yaml:"audit"`
	Log    LogConf   `yaml:"log"`
	// DecisionCache reuses Cerbos's decisions for identical checks (synapse/authz, cache.go).
	DecisionCache DecisionCacheConf `yaml:"decisionCache"`
	// Admission bounds the checks asking Cerbos at once, served to principals in turn
	// (synapse/authz, admission.go).
	Admission AdmissionConf `yaml:"admission"`
	// Runtime tunes the Go runtime synapse runs on.
	Runtime RuntimeConf `yaml:"runtime"`
	// Limits bound the work one request may cause before Cerbos is asked, and what Cerbos is
	// asked (synapse/mapping, limits.go).
	Limits LimitsConf `yaml:"limits"`
	// Tracing sends a span per check to an OpenTelemetry collector (synapse/tracing).
	Tracing TracingConf `yaml:"tracing"`
	// ResponsePath configures the filtering of list answers (synapse/extproc).
	ResponsePath ResponsePathConf `yaml:"responsePath"`
}

// ResponsePathConf configures the response path, which shows an agent only the tools, documents
// and prompts it may use.
type ResponsePathConf struct {
	// GrantKeyFile is a file holding the key, in hex, that seals an allowed list's grant into the
	// request for the response path: at least MinGrantKeyBytes random bytes
	// (`openssl rand -hex 32`). A gateway may send a request's check to one replica and its
	// answer to another, so every replica must read the same key; a grant sealed under another
	// key withholds the list. Empty: synapse makes a key of its own at start, which serves one
	// replica only. Read at start, like tasks.postgresDSNFile.
	GrantKeyFile string `yaml:"grantKeyFile"`
}

// LimitsConf bounds what one request may cost. A request over a limit is denied as soon as the
// limit is passed while its body is read (body_too_large, json_too_deep, batch_too_large, or
// request_too_complex), without asking Cerbos. MaxBodyBytes, MaxDepth, MaxObjectMembers and
// MaxCheckBytes hold on both planes, the others on the MCP plane, whose body becomes Cerbos
// attributes.
type LimitsConf struct {
	MaxBodyBytes     int `yaml:"maxBodyBytes"`     // longest body decoded
	MaxDepth         int `yaml:"maxDepth"`         // deepest nesting of objects and arrays
	MaxBatch         int `yaml:"maxBatch"`         // most JSON-RPC messages in one batch
	MaxValues        int `yaml:"maxValues"`        // most JSON values in one MCP body
	MaxObjectMembers int `yaml:"maxObjectMembers"` // most members of one object, on both planes
	MaxArrayElements int `yaml:"maxArrayElements"` // most elements of one array
	MaxStringBytes   int `yaml:"maxStringBytes"`   // longest string, key or value, unescaped
	// MaxCheckBytes bounds a request's checks as Cerbos receives them; at most
	// mapping.MaxCheckBytesCeiling, so that a request always fits what Cerbos accepts.
	MaxCheckBytes int `yaml:"maxCheckBytes"`
}

// Mapping returns the limits as synapse/mapping takes them.
func (l LimitsConf) Mapping() mapping.Limits {
	return mapping.Limits{
		MaxBodyBytes: l.MaxBodyBytes, MaxDepth: l.MaxDepth, MaxBatch: l.MaxBatch, MaxValues: l.MaxValues,
		MaxObjectMembers: l.MaxObjectMembers, MaxArrayElements: l.MaxArrayElements,
		MaxStringBytes: l.MaxStringBytes, MaxCheckBytes: l.MaxCheckBytes,
	}
}

func defaultLimits() LimitsConf {
	d := mapping.DefaultLimits()
	return LimitsConf{
		MaxBodyBytes: d.MaxBodyBytes, MaxDepth: d.MaxDepth, MaxBatch: d.MaxBatch, MaxValues: d.MaxValues,
		MaxObjectMembers: d.MaxObjectMembers, MaxArrayElements: d.MaxArrayElements,
		MaxStringBytes: d.MaxStringBytes, MaxCheckBytes: d.MaxCheckBytes,
	}
}

// validate requires every limit to be set: a limit of 0 would read as "off" to a reader of
// the configuration, and no limit is ever off.
func (l LimitsConf) validate() []error {
	var errs []error
	for _, f := range []struct {
		name  string
		value int
	}{
		{"maxBodyBytes", l.MaxBodyBytes}, {"maxDepth", l.MaxDepth}, {"maxBatch", l.MaxBatch},
		{"maxValues", l.MaxValues}, {"maxObjectMembers", l.MaxObjectMembers},
		{"maxArrayElements", l.MaxArrayElements}, {"maxStringBytes", l.MaxStringBytes},
		{"maxCheckBytes", l.MaxCheckBytes},
	} {
		if f.value <= 0 {
			errs = append(errs, fmt.Errorf("limits.%s: must be positive, got %d", f.name, f.value))
		}
	}
	if l.MaxCheckBytes > mapping.MaxCheckBytesCeiling {
		errs = append(errs, fmt.Errorf("limits.maxCheckBytes: must be at most %d, so that every request fits the %d bytes Cerbos accepts, got %d",
			mapping.MaxCheckBytesCeiling, mapping.CerbosMaxRequestBytes, l.MaxCheckBytes))
	}
	return errs
}

// DecisionCacheConf bounds the decision cache. A decision is reused only for a check whose every
// input to Cerbos is the same (principal, roles and attributes, the task and its status as read
// on this very check, every resource with its attributes and action), so a revoked task is never
// served from it; what it can serve stale is a policy change, for at most TTL.
type DecisionCacheConf struct {
	// TTL is how long a decision is reused, and so the bound on how long a policy change may
	// take to apply to a check already cached. 0 turns the cache off.
	TTL time.Duration `yaml:"ttl"`
	// MaxEntries bounds the cache's size; the least recently used entry goes first.
	MaxEntries int `yaml:"maxEntries"`
}

// AdmissionConf keeps one principal's flood of checks from delaying everyone else's.
type AdmissionConf struct {
	// Slots is how many checks may ask Cerbos at once; when all are taken, the freed ones go to
	// the waiting principals in turn. 0 turns admission off.
	Slots int `yaml:"slots"`
	// MaxWaiting is how many checks of one principal may wait for a slot, or for the answer of
	// an identical check asking Cerbos; more are denied principal_busy.
	MaxWaiting int `yaml:"maxWaiting"`
	// MaxWait bounds a check's wait for a slot, and for its principal's budget; past it the
	// check is denied principal_busy.
	MaxWait time.Duration `yaml:"maxWait"`
	// BytesPerSecond is each principal's budget of work asked of Cerbos: the bytes of its
	// checks (attributes, ids, actions) per second. A check that would overspend waits for the
	// budget, up to MaxWait, or is denied principal_busy. 0 sets no budget.
	BytesPerSecond int `yaml:"bytesPerSecond"`
	// BurstBytes is how much of the budget a principal may spend at once; a larger check is
	// charged this much.
	BurstBytes int `yaml:"burstBytes"`
}

// budgetPrincipals is how many principals' budgets synapse keeps at once; one forgotten for
// lack of room starts again with a full budget.
const budgetPrincipals = 10_000

// BudgetPrincipals is how many principals' budgets synapse keeps at once.
func (AdmissionConf) BudgetPrincipals() int { return budgetPrincipals }

// RuntimeConf tunes the Go runtime.
type RuntimeConf struct {
	// GOMAXPROCS is how many CPUs synapse runs Go code on at once. 0 leaves Go's own choice,
	// which since Go 1.25 is the CPUs the process may use, cgroup quota included; set it lower
	// to leave cores to Cerbos and the gateway on a shared machine.
	GOMAXPROCS int `yaml:"gomaxprocs"`
	// GCPercent is the garbage collector's target (GOGC): how much the heap grows past the live
	// heap before the next collection. Every check allocates afresh and keeps nothing, so the
	// live heap stays small and a higher target trades a few MiB for less collection: at 200,
	// synapse answered 10 % more cached checks per second at saturation and spent a little less
	// CPU per check at 1000/s than at Go's 100, for 3 MiB more (BENCHMARKS.md). 0 leaves Go's
	// own (the GOGC environment variable, else 100); the GOGC environment variable, when set,
	// wins over this setting.
	GCPercent int `yaml:"gcPercent"`
}

// DefaultGCPercent is synapse's default garbage collector target (RuntimeConf.GCPercent).
const DefaultGCPercent = 200

// ListenConf is a listener address.
type ListenConf struct {
	// ListenAddr is host:port; port 0 picks a free port (the chosen address
	// is printed on the ready line).
	ListenAddr string `yaml:"listenAddr"`
}

// AdminConf configures the admin API (tasks).
type AdminConf struct {
	ListenAddr string `yaml:"listenAddr"`
	// Token is the bearer token the admin API requires. Prefer TokenFile:
	// a token in a file or the environment stays out of `ps`.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"tokenFile"`
}

// CerbosConf says where the PDP is.
type CerbosConf struct {
	// Addr is the Cerbos gRPC API, host:port.
	Addr string `yaml:"addr"`
	// Timeout bounds one CheckResources call; past it the request is denied.
	Timeout time.Duration `yaml:"timeout"`
}

// IdentityConf says which tokens to trust.
type IdentityConf struct {
	// JWKSURL is the STS's key set, e.g. http://127.0.0.1:8080/.well-known/jwks.json.
	JWKSURL string `yaml:"jwksURL"`
	// Issuer is the only accepted `iss`.
	Issuer string `yaml:"issuer"`
	// ClockSkew is the leeway on exp, nbf and iat.
	ClockSkew time.Duration `yaml:"clockSkew"`
	// JWKSRefreshInterval is the least time between two JWKS fetches caused
	// by tokens with an unknown key id.
	JWKSRefreshInterval time.Duration `yaml:"jwksRefreshInterval"`
}

// Route maps a path prefix to a resource (llm, mcp:payments, ...).
type Route struct {
	PathPrefix string `yaml:"pathPrefix"`
	Resource   string `yaml:"resource"`
}

// The task registry's backends.
const (
	// TasksBBolt is the embedded registry, one file: a single synapse.
	TasksBBolt = "bbolt"
	// TasksPostgres is a registry on PostgreSQL that several synapse replicas share.
	TasksPostgres = "postgres"
)

// TasksConf configures the task registry.
type TasksConf struct {
	// Backend is TasksBBolt (the default) or TasksPostgres.
	Backend string `yaml:"backend"`
	// DBPath is the bbolt file of the embedded registry.
	DBPath string `yaml:"dbPath"`
	// PostgresDSNFile is a file holding the PostgreSQL connection string
	// ("postgres://user:password@host:5432/db?sslmode=..."): a file, since it may hold a password.
	PostgresDSNFile string `yaml:"postgresDSNFile"`
}

// TracingConf configures OpenTelemetry traces.
type TracingConf struct {
	// OTLPEndpoint is the collector's OTLP gRPC address (host:port); empty: no tracing.
	OTLPEndpoint string `yaml:"otlpEndpoint"`
	// Insecure sends spans without TLS (a collector on loopback or in the pod).
	Insecure bool `yaml:"insecure"`
	// SampleRatio is the share of the traces synapse starts itself that it records (0 to 1);
	// a trace the gateway sampled is always recorded.
	SampleRatio float64 `yaml:"sampleRatio"`
}

// AuditConf configures the decision log.
type AuditConf struct {
	// Sink is "stdout" or a file path (appended to).
	Sink string `yaml:"sink"`
}

// LogConf configures synapse's own (operational) log, written to stderr.
type LogConf struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
}

// Default returns the configuration with every default filled in. The
// admin token, the JWKS URL and the issuer have none.
func Default() *Config {
	return &Config{
		GRPC:          ListenConf{ListenAddr: "127.0.0.1:9191"},
		HTTP:          ListenConf{ListenAddr: "127.0.0.1:9192"},
		Admin:         AdminConf{ListenAddr: "127.0.0.1:9193"},
		Cerbos:        CerbosConf{Addr: "127.0.0.1:3593", Timeout: 200 * time.Millisecond},
		Identity:      IdentityConf{ClockSkew: 30 * time.Second, JWKSRefreshInterval: 10 * time.Second},
		Tasks:         TasksConf{Backend: TasksBBolt, DBPath: "./synapse-tasks.db"},
		Audit:         AuditConf{Sink: "stdout"},
		Log:           LogConf{Level: "info"},
		DecisionCache: DecisionCacheConf{TTL: DefaultDecisionCacheTTL, MaxEntries: 10000},
		Admission:     AdmissionConf{Slots: 16, MaxWaiting: 256, MaxWait: 250 * time.Millisecond, BytesPerSecond: 1 << 20, BurstBytes: 128 << 10},
		Limits:        defaultLimits(),
		Runtime:       RuntimeConf{GCPercent: DefaultGCPercent},
	}
}

// DefaultDecisionCacheTTL is the decision cache's default TTL: short enough that a policy change
// applies within seconds, long enough that an agent's repeated hops (the same model call, the same
// MCP housekeeping) reach Cerbos once per TTL.
const DefaultDecisionCacheTTL = 2 * time.Second

// maxDecisionCacheTTL bounds how long a policy change can stay unapplied.
const maxDecisionCacheTTL = 5 * time.Minute

// MinAdminTokenLen keeps guessable admin tokens out.
const MinAdminTokenLen = 16

// maxClockSkew bounds the leeway: a large skew makes expired tokens live on.
const maxClockSkew = 5 * time.Minute

// Validate reports every problem at once, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	for _, l := range []struct{ name, addr string }{
		{"grpc.listenAddr", c.GRPC.ListenAddr},
		{"http.listenAddr", c.HTTP.ListenAddr},
		{"admin.listenAddr", c.Admin.ListenAddr},
		{"cerbos.addr", c.Cerbos.Addr},
	} {
		if err := checkHostPort(l.addr); err != nil {
			add("%s: %w", l.name, err)
		}
	}
	if err := distinctListeners(c.GRPC.ListenAddr, c.HTTP.ListenAddr, c.Admin.ListenAddr); err != nil {
		add("listeners: %w", err)
	}
	switch {
	case c.Admin.Token != "" && c.Admin.TokenFile != "":
		add("admin: set token or tokenFile, not both")
	case c.Admin.Token == "" && c.Admin.TokenFile == "":
		add("admin.token: required (or admin.tokenFile): the admin API is never open")
	case c.Admin.Token != "" && len(c.Admin.Token) < MinAdminTokenLen:
		add("admin.token: must be at least %d characters", MinAdminTokenLen)
	}
	if c.Cerbos.Timeout <= 0 {
		add("cerbos.timeout: must be positive, got %s", c.Cerbos.Timeout)
	}
	if err := checkURL(c.Identity.JWKSURL); err != nil {
		add("identity.jwksURL: %w", err)
	}
	if c.Identity.Issuer == "" {
		add("identity.issuer: required: the one issuer whose tokens are trusted")
	}
	if c.Identity.ClockSkew < 0 || c.Identity.ClockSkew > maxClockSkew {
		add("identity.clockSkew: must be between 0 and %s, got %s", maxClockSkew, c.Identity.ClockSkew)
	}
	if c.Identity.JWKSRefreshInterval <= 0 {
		add("identity.jwksRefreshInterval: must be positive, got %s", c.Identity.JWKSRefreshInterval)
	}
	seen := map[string]bool{}
	for i, r := range c.Routes {
		switch {
		case !strings.HasPrefix(r.PathPrefix, "/"):
			add("routes[%d].pathPrefix: must start with /, got %q", i, r.PathPrefix)
		case seen[r.PathPrefix]:
			add("routes[%d].pathPrefix: %q is listed twice", i, r.PathPrefix)
		}
		seen[r.PathPrefix] = true
		if r.Resource == "" {
			add("routes[%d].resource: required", i)
		}
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		add("tracing.sampleRatio: between 0 and 1, got %v", c.Tracing.SampleRatio)
	}
	switch c.Tasks.Backend {
	case TasksBBolt:
		if c.Tasks.DBPath == "" {
			add("tasks.dbPath: required with the bbolt backend")
		}
	case TasksPostgres:
		if c.Tasks.PostgresDSNFile == "" {
			add("tasks.postgresDSNFile: required with the postgres backend")
		}
	default:
		add("tasks.backend: %q or %q, got %q", TasksBBolt, TasksPostgres, c.Tasks.Backend)
	}
	if c.Audit.Sink == "" {
		add(`audit.sink: required: "stdout" or a file path`)
	}
	if c.DecisionCache.TTL < 0 || c.DecisionCache.TTL > maxDecisionCacheTTL {
		add("decisionCache.ttl: must be between 0 (off) and %s, got %s", maxDecisionCacheTTL, c.DecisionCache.TTL)
	}
	if c.DecisionCache.TTL > 0 && c.DecisionCache.MaxEntries <= 0 {
		add("decisionCache.maxEntries: must be positive while the cache is on, got %d", c.DecisionCache.MaxEntries)
	}
	if c.Admission.Slots < 0 {
		add("admission.slots: must be 0 (off) or positive, got %d", c.Admission.Slots)
	}
	if c.Admission.Slots > 0 && (c.Admission.MaxWaiting <= 0 || c.Admission.MaxWait <= 0) {
		add("admission: maxWaiting and maxWait must be positive while admission is on, got %d and %s", c.Admission.MaxWaiting, c.Admission.MaxWait)
	}
	if c.Admission.BytesPerSecond < 0 {
		add("admission.bytesPerSecond: must be 0 (no budget) or positive, got %d", c.Admission.BytesPerSecond)
	}
	if c.Admission.BytesPerSecond > 0 && (c.Admission.MaxWait <= 0 || c.Admission.BurstBytes <= 0) {
		add("admission: maxWait and burstBytes must be positive while a budget is set, got %s and %d", c.Admission.MaxWait, c.Admission.BurstBytes)
	}
	errs = append(errs, c.Limits.validate()...)
	if c.Runtime.GOMAXPROCS < 0 {
		add("runtime.gomaxprocs: must be 0 (Go's choice) or positive, got %d", c.Runtime.GOMAXPROCS)
	}
	if c.Runtime.GCPercent < 0 {
		add("runtime.gcPercent: must be 0 (Go's choice) or positive, got %d", c.Runtime.GCPercent)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: must be debug, info, warn or error, got %q", c.Log.Level)
	}
	return errors.Join(errs...)
}

// ExampleAdminToken is the admin token of the shipped example configuration, in
// synapse/config/example-admin-token. It is public: everyone who can read the repository knows
// it. The example ships it so that `synapse --config synapse/config/example.yaml` runs as shipped
// on a developer's machine, and synapse accepts it only while the admin API listens on a
// loopback address, so a copy of the example that is moved to a reachable address fails to
// start instead of serving the task API behind a published token. Never use it in production:
// make a token of your own (e.g. `openssl rand -hex 32 > admin-token`).
//
// Why not an admin API that is off unless configured: it is how tasks are made, and a synapse
// without tasks denies every request, so such an example would start and do nothing useful;
// and a configuration that names no token at all still refuses to start (Validate), which keeps
// a forgotten token a loud error rather than a quietly missing API.
const ExampleAdminToken = "EXAMPLE-ONLY-public-admin-token-NOT-FOR-PRODUCTION"

// AdminToken returns the admin token, reading TokenFile when it is set. It fails when the file
// cannot be read, when its token is too short, and when the token is ExampleAdminToken on an
// admin address that is not loopback.
func (c *Config) AdminToken() (string, error) {
	token, field := c.Admin.Token, "admin.token"
	if c.Admin.TokenFile != "" {
		field = "admin.tokenFile"
		b, err := os.ReadFile(c.Admin.TokenFile)
		if err != nil {
			if !filepath.IsAbs(c.Admin.TokenFile) {
				if wd, wdErr := os.Getwd(); wdErr == nil {
					err = fmt.Errorf("%w (a relative path is read from the working directory, %s)", err, wd)
				}
			}
			return "", fmt.Errorf("%s: %w", field, err)
		}
		token = strings.TrimSpace(string(b))
		if len(token) < MinAdminTokenLen {
			return "", fmt.Errorf("%s: the token must be at least %d characters", field, MinAdminTokenLen)
		}
	}
	if token == ExampleAdminToken && !isLoopback(c.Admin.ListenAddr) {
		return "", fmt.Errorf("%s: the example's public token is accepted only on a loopback admin.listenAddr, not %q: make a token of your own", field, c.Admin.ListenAddr)
	}
	return token, nil
}

// MinGrantKeyBytes is the least key ResponsePath.GrantKeyFile may hold (AES-256's size;
// synapse/visibility.MinGrantKeyBytes).
const MinGrantKeyBytes = 32

// GrantKey returns the key ResponsePath.GrantKeyFile holds, nil when it names no file. It fails
// when the file cannot be read or holds anything but at least MinGrantKeyBytes in hex.
func (c *Config) GrantKey() ([]byte, error) {
	const field = "responsePath.grantKeyFile"
	if c.ResponsePath.GrantKeyFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.ResponsePath.GrantKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %s must hold the key in hex (e.g. `openssl rand -hex 32`): %w", field, c.ResponsePath.GrantKeyFile, err)
	}
	if len(key) < MinGrantKeyBytes {
		return nil, fmt.Errorf("%s: %s holds %d bytes, at least %d needed (e.g. `openssl rand -hex 32`)", field, c.ResponsePath.GrantKeyFile, len(key), MinGrantKeyBytes)
	}
	// Randomness cannot be checked, but a placeholder left in place can: one byte repeated.
	if bytes.Count(key, key[:1]) == len(key) {
		return nil, fmt.Errorf("%s: %s holds one byte repeated, not a random key (e.g. `openssl rand -hex 32`)", field, c.ResponsePath.GrantKeyFile)
	}
	return key, nil
}

// PostgresDSN returns the task registry's PostgreSQL connection string, read from
// Tasks.PostgresDSNFile.
func (c *Config) PostgresDSN() (string, error) {
	b, err := os.ReadFile(c.Tasks.PostgresDSNFile)
	if err != nil {
		return "", fmt.Errorf("tasks.postgresDSNFile: %w", err)
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return "", fmt.Errorf("tasks.postgresDSNFile: %s is empty", c.Tasks.PostgresDSNFile)
	}
	return dsn, nil
}

// isLoopback reports whether the host of addr (host:port) is a loopback address or localhost.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if host == "" {
		return fmt.Errorf("want an explicit host in %q (e.g. 127.0.0.1)", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

func distinctListeners(addrs ...string) error {
	seen := map[string]bool{}
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(a); err == nil && port == "0" {
			continue
		}
		if seen[a] {
			return fmt.Errorf("%s is used by two listeners", a)
		}
		seen[a] = true
	}
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("required: the STS's JWKS URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an absolute http(s) URL, got %q", s)
	}
	return nil
}
