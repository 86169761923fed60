package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/internal/version"
)

// setting is one configuration field reachable from a flag and an env var.
type setting struct {
	flag string
	help string
	get  func(*Config) string
	set  func(*Config, string) error
}

// env is the environment variable of a setting: --cerbos-addr is
// SYNAPSE_CERBOS_ADDR.
func (s setting) env() string {
	return "SYNAPSE_" + strings.ToUpper(strings.ReplaceAll(s.flag, "-", "_"))
}

func stringSetting(flag, help string, field func(*Config) *string) setting {
	return setting{
		flag: flag, help: help,
		get: func(c *Config) string { return *field(c) },
		set: func(c *Config, v string) error { *field(c) = v; return nil },
	}
}

func durationSetting(flag, help string, field func(*Config) *time.Duration) setting {
	return setting{
		flag: flag, help: help,
		get: func(c *Config) string { return field(c).String() },
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			*field(c) = d
			return nil
		},
	}
}

func intSetting(flag, help string, field func(*Config) *int) setting {
	return setting{
		flag: flag, help: help,
		get: func(c *Config) string { return strconv.Itoa(*field(c)) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("not a whole number: %q", v)
			}
			*field(c) = n
			return nil
		},
	}
}

// routesFlag is the one setting that repeats; its env var holds a
// comma-separated list.
const routesFlag = "route"

func settings() []setting {
	return []setting{
		stringSetting("grpc-addr", "ext_authz gRPC listen address (host:port)", func(c *Config) *string { return &c.GRPC.ListenAddr }),
		stringSetting("http-addr", "listen address of /healthz, /readyz and /metrics", func(c *Config) *string { return &c.HTTP.ListenAddr }),
		stringSetting("admin-addr", "admin API listen address", func(c *Config) *string { return &c.Admin.ListenAddr }),
		stringSetting("admin-token", "bearer token of the admin API, at least 16 characters (prefer --admin-token-file or the env var)", func(c *Config) *string { return &c.Admin.Token }),
		stringSetting("admin-token-file", "file holding the admin API bearer token", func(c *Config) *string { return &c.Admin.TokenFile }),
		stringSetting("cerbos-addr", "Cerbos gRPC address (host:port)", func(c *Config) *string { return &c.Cerbos.Addr }),
		durationSetting("cerbos-timeout", "deadline of one Cerbos call; past it the request is denied", func(c *Config) *time.Duration { return &c.Cerbos.Timeout }),
		stringSetting("jwks-url", "the STS's JWKS URL (required)", func(c *Config) *string { return &c.Identity.JWKSURL }),
		stringSetting("issuer", "the only trusted token issuer (required)", func(c *Config) *string { return &c.Identity.Issuer }),
		durationSetting("clock-skew", "leeway on token exp, nbf and iat", func(c *Config) *time.Duration { return &c.Identity.ClockSkew }),
		durationSetting("jwks-refresh-interval", "least time between JWKS fetches caused by unknown key ids", func(c *Config) *time.Duration { return &c.Identity.JWKSRefreshInterval }),
		{
			flag: routesFlag,
			help: "route table entry PATH_PREFIX=RESOURCE, repeatable; replaces the file's routes",
			get:  func(c *Config) string { return formatRoutes(c.Routes) },
			set: func(c *Config, v string) error {
				r, err := parseRoutes(strings.Split(v, ","))
				if err != nil {
					return err
				}
				c.Routes = r
				return nil
			},
		},
		stringSetting("task-backend", `task registry: "bbolt" (a file, one synapse) or "postgres" (shared by replicas)`, func(c *Config) *string { return &c.Tasks.Backend }),
		stringSetting("task-db", "task registry database file (bbolt)", func(c *Config) *string { return &c.Tasks.DBPath }),
		stringSetting("task-postgres-dsn-file", "file holding the PostgreSQL connection string of the task registry (postgres)", func(c *Config) *string { return &c.Tasks.PostgresDSNFile }),
		stringSetting("response-path-grant-key-file", "file holding the key (hex, at least 32 bytes) that seals list grants for the response path; every replica must read the same one; empty: a key of this process's own, for one replica", func(c *Config) *string { return &c.ResponsePath.GrantKeyFile }),
		stringSetting("audit", `decision log sink: "stdout" or a file path`, func(c *Config) *string { return &c.Audit.Sink }),
		stringSetting("tracing-otlp-endpoint", "OpenTelemetry collector (OTLP gRPC, host:port) to send a span per check to; empty: no tracing", func(c *Config) *string { return &c.Tracing.OTLPEndpoint }),
		stringSetting("log-level", "operational log level: debug, info, warn, error", func(c *Config) *string { return &c.Log.Level }),
		durationSetting("decision-cache-ttl", "how long a Cerbos decision is reused for an identical check, and so how long a policy change may take to apply; 0 turns the cache off", func(c *Config) *time.Duration { return &c.DecisionCache.TTL }),
		intSetting("decision-cache-size", "most decisions the cache holds", func(c *Config) *int { return &c.DecisionCache.MaxEntries }),
		intSetting("admission-slots", "checks asking Cerbos at once, served to principals in turn when all are taken; 0 turns admission off", func(c *Config) *int { return &c.Admission.Slots }),
		intSetting("admission-max-waiting", "checks of one principal that may wait for a slot or for an identical check's answer; more are denied principal_busy", func(c *Config) *int { return &c.Admission.MaxWaiting }),
		durationSetting("admission-max-wait", "longest wait of a check for a slot or for its principal's budget; past it the check is denied principal_busy", func(c *Config) *time.Duration { return &c.Admission.MaxWait }),
		intSetting("admission-bytes-per-second", "each principal's budget of work asked of Cerbos, in bytes of checks per second; a check over it waits or is denied principal_busy; 0 sets none", func(c *Config) *int { return &c.Admission.BytesPerSecond }),
		intSetting("admission-burst-bytes", "how much of its budget a principal may spend at once; a larger check is charged this much", func(c *Config) *int { return &c.Admission.BurstBytes }),
		intSetting("limits-max-body-bytes", "longest request body synapse decodes; longer is denied body_too_large", func(c *Config) *int { return &c.Limits.MaxBodyBytes }),
		intSetting("limits-max-depth", "deepest nesting of JSON objects and arrays in a body; deeper is denied json_too_deep", func(c *Config) *int { return &c.Limits.MaxDepth }),
		intSetting("limits-max-batch", "most JSON-RPC messages in one MCP batch; more is denied batch_too_large", func(c *Config) *int { return &c.Limits.MaxBatch }),
		intSetting("limits-max-values", "most JSON values in one MCP body; more is denied request_too_complex", func(c *Config) *int { return &c.Limits.MaxValues }),
		intSetting("limits-max-object-members", "most members of one JSON object in a body; more is denied request_too_complex", func(c *Config) *int { return &c.Limits.MaxObjectMembers }),
		intSetting("limits-max-array-elements", "most elements of one JSON array in an MCP body; more is denied request_too_complex", func(c *Config) *int { return &c.Limits.MaxArrayElements }),
		intSetting("limits-max-string-bytes", "longest JSON string (key or value, unescaped) in an MCP body; longer is denied request_too_complex", func(c *Config) *int { return &c.Limits.MaxStringBytes }),
		intSetting("limits-max-check-bytes", "most bytes of checks one request sends Cerbos (an upper bound on their encoding); more is denied request_too_complex", func(c *Config) *int { return &c.Limits.MaxCheckBytes }),
		intSetting("gomaxprocs", "CPUs synapse runs Go code on at once; 0 is Go's choice (the CPUs it may use, cgroup quota included)", func(c *Config) *int { return &c.Runtime.GOMAXPROCS }),
		intSetting("gc-percent", "the garbage collector's target (GOGC); 0 is Go's choice; the GOGC environment variable, when set, wins", func(c *Config) *int { return &c.Runtime.GCPercent }),
	}
}

const usageHeader = `Usage: synapse [flags]
       synapse audit [flags] [FILE]   (filter a decision log; see synapse audit --help)
       synapse --version              (print the version line and exit)

synapse is hopguard's Envoy ext_authz gRPC server. For every request a gateway
holds, it verifies the caller's per-resource token, looks up its task, asks
Cerbos whether the principal may do what the request asks (model call, MCP
message, tool call with its arguments) and answers allow or a structured
denial. It fails closed: any error denies.

Configuration comes from, in rising precedence: defaults, the YAML file given
by --config (or SYNAPSE_CONFIG), SYNAPSE_* environment variables, flags. Each
flag's variable is its name in upper case with dashes as underscores, e.g.
--cerbos-addr is SYNAPSE_CERBOS_ADDR. See synapse/config/example.yaml.

Listeners: gRPC ext_authz (--grpc-addr); HTTP /healthz, /readyz (ready only
while Cerbos answers) and /metrics (--http-addr); the admin API
(--admin-addr: POST /v1/tasks, GET /v1/tasks, GET /v1/tasks/{id},
POST /v1/tasks/{id}/revoke, with "Authorization: Bearer <admin token>").
Once listening it prints one line: synapse listening grpc=... http=... admin=...

Flags:
`

// ErrVersion is what Load returns when --version is given: the caller prints
// the version line; nothing else was read.
var ErrVersion = errors.New("version requested")

// Load builds the configuration from args (without the program name) and the
// environment, and validates it, the admin token included (its file is read).
// It returns flag.ErrHelp after printing the help to out when asked for it,
// and ErrVersion when asked for --version.
func Load(args []string, getenv func(string) string, out io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("synapse", flag.ContinueOnError)
	fs.SetOutput(out)
	defaults := Default()
	configPath := fs.String("config", "", "YAML configuration file (env SYNAPSE_CONFIG)")
	showVersion := version.Flag(fs)
	var routes routeFlag
	raw := map[string]*string{}
	for _, s := range settings() {
		if s.flag == routesFlag {
			fs.Var(&routes, s.flag, s.help+" (env "+s.env()+", comma-separated)")
			continue
		}
		v := new(string)
		raw[s.flag] = v
		fs.StringVar(v, s.flag, s.get(defaults), s.help+" (env "+s.env()+")")
	}
	fs.Usage = func() {
		fmt.Fprint(out, usageHeader)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *showVersion {
		return nil, ErrVersion
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only; did you mean `synapse audit`?)", fs.Args())
	}

	cfg := Default()
	if *configPath == "" {
		*configPath = getenv("SYNAPSE_CONFIG")
	}
	if *configPath != "" {
		if err := loadFile(*configPath, cfg); err != nil {
			return nil, err
		}
	}
	for _, s := range settings() {
		v := getenv(s.env())
		if v == "" {
			continue
		}
		if err := s.set(cfg, v); err != nil {
			return nil, fmt.Errorf("%s: %w", s.env(), err)
		}
	}
	var flagErr error
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings() {
			if s.flag != f.Name || flagErr != nil {
				continue
			}
			value := routes.String()
			if s.flag != routesFlag {
				value = *raw[s.flag]
			}
			if err := s.set(cfg, value); err != nil {
				flagErr = fmt.Errorf("--%s: %w", s.flag, err)
			}
		}
	})
	if flagErr != nil {
		return nil, flagErr
	}
	if err := check(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadFile reads a YAML configuration over the defaults and validates it, the
// admin token included, as Load does.
func LoadFile(path string) (*Config, error) {
	cfg := Default()
	if err := loadFile(path, cfg); err != nil {
		return nil, err
	}
	if err := check(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// check validates cfg, then reads the admin token: a token file that is
// missing, unreadable or too short is a configuration error, reported before
// anything starts, not a failure of the running server.
func check(cfg *Config) error {
	err := cfg.Validate()
	if err == nil {
		_, err = cfg.AdminToken()
	}
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	return nil
}

func loadFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	// A misspelt key must not silently fall back to a default.
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	return nil
}

type routeFlag []string

func (r *routeFlag) String() string     { return strings.Join(*r, ",") }
func (r *routeFlag) Set(v string) error { *r = append(*r, v); return nil }

func parseRoutes(entries []string) ([]Route, error) {
	var routes []Route
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		prefix, resource, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("want PATH_PREFIX=RESOURCE, got %q", e)
		}
		routes = append(routes, Route{PathPrefix: strings.TrimSpace(prefix), Resource: strings.TrimSpace(resource)})
	}
	return routes, nil
}

func formatRoutes(routes []Route) string {
	parts := make([]string, len(routes))
	for i, r := range routes {
		parts[i] = r.PathPrefix + "=" + r.Resource
	}
	return strings.Join(parts, ",")
}
