package container

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContextHost(t *testing.T) {
	config := t.TempDir()
	t.Setenv("DOCKER_CONFIG", config)
	t.Setenv("DOCKER_CONTEXT", "")
	assert.Empty(t, contextHost(), "no config: the default")

	writeContext := func(name, host string) {
		digest := sha256.Sum256([]byte(name))
		dir := filepath.Join(config, "contexts", "meta", hex.EncodeToString(digest[:]))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "meta.json"),
			[]byte(`{"Name":"`+name+`","Endpoints":{"docker":{"Host":"`+host+`","SkipTLSVerify":false}}}`), 0o644))
	}
	writeContext("rootless", "unix:///run/user/1000/docker.sock")
	writeContext("remote", "tcp://10.0.0.1:2375")

	require.NoError(t, os.WriteFile(filepath.Join(config, "config.json"), []byte(`{"currentContext":"rootless"}`), 0o644))
	assert.Equal(t, "unix:///run/user/1000/docker.sock", contextHost(), "the config's current context")
	t.Setenv("DOCKER_CONTEXT", "remote")
	assert.Equal(t, "tcp://10.0.0.1:2375", contextHost(), "DOCKER_CONTEXT first")
	t.Setenv("DOCKER_CONTEXT", "default")
	assert.Empty(t, contextHost(), "the default context is the client's default")
	t.Setenv("DOCKER_CONTEXT", "unknown")
	assert.Empty(t, contextHost(), "an unknown context falls back to the default")
}
