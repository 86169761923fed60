package config_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/mapping"
)

const token = "0123456789abcdef-admin"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

var required = []string{"--admin-token", token, "--jwks-url", "http://127.0.0.1:8080/jwks", "--issuer", "https://sts.hopguard.local"}

func TestLoadDefaults(t *testing.T) {
	cfg, err := config.Load(required, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9191", cfg.GRPC.ListenAddr)
	assert.Equal(t, "127.0.0.1:9192", cfg.HTTP.ListenAddr)
	assert.Equal(t, "127.0.0.1:9193", cfg.Admin.ListenAddr)
	assert.Equal(t, "127.0.0.1:3593", cfg.Cerbos.Addr)
	assert.Equal(t, 200*time.Millisecond, cfg.Cerbos.Timeout)
	assert.Equal(t, 30*time.Second, cfg.Identity.ClockSkew)
	assert.Equal(t, "./synapse-tasks.db", cfg.Tasks.DBPath)
	assert.Equal(t, "stdout", cfg.Audit.Sink)
	assert.Equal(t, 200, cfg.Runtime.GCPercent)
	assert.Empty(t, cfg.Routes)
}

func TestLoadPrecedenceFileEnvFlags(t *testing.T) {
	path := writeFile(t, "synapse.yaml", `
grpc: {listenAddr: 127.0.0.1:7001}
http: {listenAddr: 127.0.0.1:7002}
admin: {listenAddr: 127.0.0.1:7003, token: from-the-file-0123456789}
cerbos: {addr: 127.0.0.1:7004, timeout: 1s}
identity: {jwksURL: "http://127.0.0.1:8080/jwks", issuer: file-issuer, clockSkew: 10s}
routes:
  - {pathPrefix: /mcp/crm, resource: "mcp:crm"}
tasks: {dbPath: /tmp/file.db}
audit: {sink: /tmp/audit.log}
log: {level: debug}
`)
	cfg, err := config.Load(
		[]string{"--config", path, "--cerbos-timeout", "750ms", "--route", "/v1/=llm", "--route", "/mcp/payments=mcp:payments"},
		env(map[string]string{"SYNAPSE_ISSUER": "env-issuer", "SYNAPSE_CERBOS_TIMEOUT": "2s", "SYNAPSE_CERBOS_ADDR": "127.0.0.1:7005"}),
		&bytes.Buffer{},
	)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7001", cfg.GRPC.ListenAddr, "file")
	assert.Equal(t, "from-the-file-0123456789", cfg.Admin.Token, "file")
	assert.Equal(t, "env-issuer", cfg.Identity.Issuer, "env over file")
	assert.Equal(t, "127.0.0.1:7005", cfg.Cerbos.Addr, "env over file")
	assert.Equal(t, 750*time.Millisecond, cfg.Cerbos.Timeout, "flag over env")
	assert.Equal(t, 10*time.Second, cfg.Identity.ClockSkew)
	assert.Equal(t, []config.Route{{PathPrefix: "/v1/", Resource: "llm"}, {PathPrefix: "/mcp/payments", Resource: "mcp:payments"}}, cfg.Routes, "flags replace the file's routes")
	assert.Equal(t, "debug", cfg.Log.Level)
}

func TestLoadConfigFromEnvAndRoutesFromEnv(t *testing.T) {
	path := writeFile(t, "synapse.yaml", "identity: {jwksURL: 'http://127.0.0.1:1/jwks', issuer: i}\n")
	cfg, err := config.Load(nil, env(map[string]string{
		"SYNAPSE_CONFIG": path, "SYNAPSE_ADMIN_TOKEN": token, "SYNAPSE_ROUTE": "/v1/=llm, /mcp/crm=mcp:crm",
	}), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []config.Route{{PathPrefix: "/v1/", Resource: "llm"}, {PathPrefix: "/mcp/crm", Resource: "mcp:crm"}}, cfg.Routes)
}

// The shipped example loads as shipped, through the command's own config step
// (flags, file, env, Validate, the admin token file read), run from the
// repository root as its header says.
func TestExampleConfigLoadsAsShipped(t *testing.T) {
	t.Chdir("../..")
	cfg, err := config.Load([]string{"--config", "synapse/config/example.yaml"}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Len(t, cfg.Routes, 6)
	assert.Equal(t, "synapse/config/example-admin-token", cfg.Admin.TokenFile)
	token, err := cfg.AdminToken()
	require.NoError(t, err)
	assert.Equal(t, config.ExampleAdminToken, token)

	cfg, err = config.LoadFile("synapse/config/example.yaml")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9193", cfg.Admin.ListenAddr)
}

// The example's public token is refused once the admin API listens beyond
// loopback, from the file as from the inline setting.
func TestExampleTokenOnlyOnLoopback(t *testing.T) {
	t.Chdir("../..")
	example := []string{"--config", "synapse/config/example.yaml"}
	for _, addr := range []string{"127.0.0.1:9193", "[::1]:9193", "localhost:9193"} {
		_, err := config.Load(append(example, "--admin-addr", addr), env(nil), &bytes.Buffer{})
		require.NoError(t, err, addr)
	}
	for _, addr := range []string{"0.0.0.0:9193", "10.0.0.5:9193", "[::]:9193", "synapse.internal:9193"} {
		_, err := config.Load(append(example, "--admin-addr", addr), env(nil), &bytes.Buffer{})
		require.ErrorContains(t, err, "admin.tokenFile: the example's public token is accepted only on a loopback admin.listenAddr", addr)
	}
	_, err := config.Load([]string{"--admin-token", config.ExampleAdminToken, "--admin-addr", "0.0.0.0:9193",
		"--jwks-url", "http://127.0.0.1:8080/jwks", "--issuer", "i"}, env(nil), &bytes.Buffer{})
	require.ErrorContains(t, err, "admin.token: the example's public token")
}

// A token file that is missing or too short fails the config step, before
// anything starts: the admin API is never open.
func TestLoadReadsTheAdminTokenFile(t *testing.T) {
	base := []string{"--jwks-url", "http://127.0.0.1:8080/jwks", "--issuer", "i"}
	_, err := config.Load(append(base, "--admin-token-file", "no-such-admin-token"), env(nil), &bytes.Buffer{})
	require.ErrorContains(t, err, "invalid configuration")
	require.ErrorContains(t, err, "admin.tokenFile: open no-such-admin-token")
	require.ErrorContains(t, err, "a relative path is read from the working directory")

	_, err = config.Load(append(base, "--admin-token-file", writeFile(t, "short", "abc\n")), env(nil), &bytes.Buffer{})
	require.ErrorContains(t, err, "admin.tokenFile: the token must be at least 16 characters")

	cfg, err := config.Load(append(base, "--admin-token-file", writeFile(t, "token", token+"\n")), env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	got, err := cfg.AdminToken()
	require.NoError(t, err)
	assert.Equal(t, token, got)
}

func TestLoadVersion(t *testing.T) {
	// --version wins over everything else, even a configuration that could not load.
	_, err := config.Load([]string{"--version", "--config", "/nonexistent.yaml"}, env(nil), &bytes.Buffer{})
	require.ErrorIs(t, err, config.ErrVersion)
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		file string
		want []string
	}{
		{"nothing set", nil, "", []string{"admin.token: required", "identity.jwksURL: required", "identity.issuer: required"}},
		{"misspelt key", nil, "cerbos: {adress: x}\n", []string{"field adress not found"}},
		{"bad values", append(append([]string{}, required...),
			"--grpc-addr", "nohost", "--http-addr", ":9192", "--cerbos-timeout", "0s", "--clock-skew", "1h",
			"--route", "mcp=mcp:crm", "--log-level", "chatty", "--audit", ""),
			"", []string{"grpc.listenAddr: want host:port", "http.listenAddr: want an explicit host", "cerbos.timeout: must be positive",
				"identity.clockSkew: must be between", "routes[0].pathPrefix: must start with /", "log.level", "audit.sink: required"}},
		{"short token", []string{"--admin-token", "short", "--jwks-url", "http://x/j", "--issuer", "i"}, "", []string{"at least 16 characters"}},
		{"token twice", append(append([]string{}, required...), "--admin-token-file", "/tmp/x"), "", []string{"token or tokenFile, not both"}},
		{"jwks not http", []string{"--admin-token", token, "--jwks-url", "file:///etc/passwd", "--issuer", "i"}, "", []string{"absolute http(s) URL"}},
		{"same port twice", append(append([]string{}, required...), "--http-addr", "127.0.0.1:9191"), "", []string{"used by two listeners"}},
		{"duplicate route", append(append([]string{}, required...), "--route", "/a=x", "--route", "/a=y"), "", []string{"listed twice"}},
		{"route syntax", append(append([]string{}, required...), "--route", "/a"), "", []string{"want PATH_PREFIX=RESOURCE"}},
		{"bad duration", append(append([]string{}, required...), "--clock-skew", "soon"), "", []string{"--clock-skew"}},
		{"positional", append(append([]string{}, required...), "serve"), "", []string{"unexpected arguments"}},
		{"negative gc percent", append(append([]string{}, required...), "--gc-percent", "-1"), "", []string{"runtime.gcPercent: must be 0"}},
		{"negative budget", append(append([]string{}, required...), "--admission-bytes-per-second", "-1"), "", []string{"admission.bytesPerSecond: must be 0"}},
		{"budget without a burst", append(append([]string{}, required...), "--admission-burst-bytes", "0"), "", []string{"burstBytes must be positive while a budget is set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, "c.yaml", tt.file)}, args...)
			}
			_, err := config.Load(args, env(nil), &bytes.Buffer{})
			require.Error(t, err)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestHelpExplains(t *testing.T) {
	var out bytes.Buffer
	_, err := config.Load([]string{"--help"}, env(nil), &out)
	require.True(t, errors.Is(err, flag.ErrHelp))
	for _, want := range []string{"ext_authz", "SYNAPSE_CERBOS_ADDR", "-jwks-url", "synapse audit", "/readyz", "fails closed", "-route", "-version", "synapse --version"} {
		assert.Contains(t, out.String(), want)
	}
}

func TestAdminTokenFromFile(t *testing.T) {
	cfg := config.Default()
	cfg.Admin.TokenFile = writeFile(t, "token", token+"\n")
	got, err := cfg.AdminToken()
	require.NoError(t, err)
	assert.Equal(t, token, got)

	cfg.Admin.TokenFile = writeFile(t, "short", "abc\n")
	_, err = cfg.AdminToken()
	require.ErrorContains(t, err, "at least 16")

	cfg.Admin.TokenFile = filepath.Join(t.TempDir(), "missing")
	_, err = cfg.AdminToken()
	require.ErrorContains(t, err, "admin.tokenFile")
}

func TestLimitsDefaultsAndOverrides(t *testing.T) {
	cfg, err := config.Load(required, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, mapping.DefaultLimits(), cfg.Limits.Mapping(), "every limit at mapping's default")

	path := writeFile(t, "synapse.yaml", "limits: {maxValues: 500, maxObjectMembers: 50, maxCheckBytes: 65536}\n")
	cfg, err = config.Load(append([]string{"--config", path, "--limits-max-object-members", "60"}, required...),
		env(map[string]string{"SYNAPSE_LIMITS_MAX_ARRAY_ELEMENTS": "70", "SYNAPSE_LIMITS_MAX_OBJECT_MEMBERS": "55"}), &bytes.Buffer{})
	require.NoError(t, err)
	got := cfg.Limits.Mapping()
	assert.Equal(t, 500, got.MaxValues, "from the file")
	assert.Equal(t, 70, got.MaxArrayElements, "from the env")
	assert.Equal(t, 60, got.MaxObjectMembers, "the flag over the env over the file")
	assert.Equal(t, 65536, got.MaxCheckBytes)
	assert.Equal(t, mapping.DefaultMaxStringBytes, got.MaxStringBytes, "untouched")
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"zero", []string{"--limits-max-values", "0"}, "limits.maxValues: must be positive"},
		{"negative", []string{"--limits-max-string-bytes", "-1"}, "limits.maxStringBytes: must be positive"},
		{"past what Cerbos accepts", []string{"--limits-max-check-bytes", "3145729"}, "limits.maxCheckBytes: must be at most 3145728"},
		{"not a number", []string{"--limits-max-depth", "deep"}, "--limits-max-depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(append(append([]string{}, required...), tt.args...), env(nil), &bytes.Buffer{})
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := config.Load(append(append([]string{}, required...), "--limits-max-check-bytes", "3145728"), env(nil), &bytes.Buffer{})
	require.NoError(t, err, "the ceiling itself is allowed")
}

func TestGrantKey(t *testing.T) {
	const hexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	tests := []struct {
		name    string
		file    string // "" names no file; "-" a file that does not exist
		want    []byte
		wantErr string
	}{
		{name: "unset: synapse makes its own", file: ""},
		{name: "hex", file: hexKey, want: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}},
		{name: "hex with a newline, as openssl writes it", file: " " + hexKey + "\n"},
		{name: "longer", file: hexKey + hexKey},
		{name: "missing file", file: "-", wantErr: "responsePath.grantKeyFile"},
		{name: "too short", file: hexKey[:62], wantErr: "holds 31 bytes, at least 32"},
		{name: "not hex", file: "this is a passphrase, not a key of thirty-two bytes", wantErr: "must hold the key in hex"},
		{name: "raw bytes", file: string([]byte{0x8f, 0x01, 0xfe, 0x33}) + hexKey[8:], wantErr: "must hold the key in hex"},
		{name: "empty", file: "\n", wantErr: "holds 0 bytes"},
		{name: "a placeholder", file: "0000000000000000000000000000000000000000000000000000000000000000", wantErr: "one byte repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			switch tt.file {
			case "":
			case "-":
				cfg.ResponsePath.GrantKeyFile = filepath.Join(t.TempDir(), "missing")
			default:
				cfg.ResponsePath.GrantKeyFile = writeFile(t, "grant-key", tt.file)
			}
			got, err := cfg.GrantKey()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			switch {
			case tt.file == "":
				assert.Nil(t, got)
			case tt.want != nil:
				assert.Equal(t, tt.want, got)
			default:
				assert.GreaterOrEqual(t, len(got), config.MinGrantKeyBytes)
			}
		})
	}
}

// TestGrantKeyFileFromEveryLayer: the key file is a setting like any other, and Load does not
// read it (synapse reads it at start, as the PostgreSQL DSN's): a config naming a file that only
// the pod has still loads.
func TestGrantKeyFileFromEveryLayer(t *testing.T) {
	path := writeFile(t, "synapse.yaml", "responsePath: {grantKeyFile: /var/run/secrets/hopguard/grant-key}\n")
	cfg, err := config.Load(append([]string{"--config", path}, required...), env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "/var/run/secrets/hopguard/grant-key", cfg.ResponsePath.GrantKeyFile)

	cfg, err = config.Load(required, env(map[string]string{"SYNAPSE_RESPONSE_PATH_GRANT_KEY_FILE": "/from/env"}), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "/from/env", cfg.ResponsePath.GrantKeyFile)

	cfg, err = config.Load(append([]string{"--response-path-grant-key-file", "/from/flag"}, required...),
		env(map[string]string{"SYNAPSE_RESPONSE_PATH_GRANT_KEY_FILE": "/from/env"}), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "/from/flag", cfg.ResponsePath.GrantKeyFile)
}
