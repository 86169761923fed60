package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/moby/client"
)

// shared is the one Docker Engine API client of this process: a client is an HTTP client over
// the engine's socket, safe for concurrent use, and negotiates the API version once.
var shared = sync.OnceValues(func() (*client.Client, error) {
	opts := []client.Opt{client.FromEnv} // DOCKER_HOST, DOCKER_API_VERSION, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
	if os.Getenv(client.EnvOverrideHost) == "" {
		if host := engineHost(); host != "" {
			opts = append(opts, client.WithHost(host))
		}
	}
	// The API version is negotiated with the engine on the first request (the client's
	// default): the highest both speak, 1.41 with Docker 20.10.
	return client.New(opts...)
})

// engine returns the client of the Docker engine once the engine has answered, with the API
// version negotiated.
func engine(ctx context.Context) (*client.Client, error) {
	docker, err := shared()
	if err != nil {
		return nil, fmt.Errorf("connect to the Docker engine: %w", err)
	}
	if _, err := docker.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("connect to the Docker engine at %s: %w", docker.DaemonHost(), err)
	}
	return docker, nil
}

// engineHost is where the engine listens when DOCKER_HOST does not say: the endpoint of the
// Docker CLI's current context (DOCKER_CONTEXT, else the config's currentContext) when that is
// not "default"; else the default socket when it exists; else a rootless engine's or Docker
// Desktop's socket when one exists. Empty means the client's default.
func engineHost() string {
	if host := contextHost(); host != "" {
		return host
	}
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		return ""
	}
	var candidates []string
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "docker.sock"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates,
			filepath.Join(home, ".docker", "run", "docker.sock"),
			filepath.Join(home, ".docker", "desktop", "docker.sock"))
	}
	for _, sock := range candidates {
		if info, err := os.Stat(sock); err == nil && info.Mode()&os.ModeSocket != 0 {
			return "unix://" + sock
		}
	}
	return ""
}

// contextHost is the Docker endpoint of the Docker CLI's current context, empty for the
// default context or when it cannot be read.
func contextHost() string {
	configDir := os.Getenv("DOCKER_CONFIG")
	if configDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		configDir = filepath.Join(home, ".docker")
	}
	name := os.Getenv("DOCKER_CONTEXT")
	if name == "" {
		var config struct {
			CurrentContext string `json:"currentContext"`
		}
		raw, err := os.ReadFile(filepath.Join(configDir, "config.json"))
		if err != nil || json.Unmarshal(raw, &config) != nil {
			return ""
		}
		name = config.CurrentContext
	}
	if name == "" || name == "default" {
		return ""
	}
	digest := sha256.Sum256([]byte(name))
	raw, err := os.ReadFile(filepath.Join(configDir, "contexts", "meta", hex.EncodeToString(digest[:]), "meta.json"))
	if err != nil {
		return ""
	}
	var meta struct {
		Endpoints map[string]struct {
			Host string `json:"Host"`
		} `json:"Endpoints"`
	}
	if json.Unmarshal(raw, &meta) != nil {
		return ""
	}
	return meta.Endpoints["docker"].Host
}
