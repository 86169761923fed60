// Package binaries finds the programs an environment runs: the real third-party binaries that
// `make tools` installs (Cerbos, Envoy) and hopguard's own Go commands, built once per run.
package binaries

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BinDirEnv names the directory of the installed third-party binaries; the Makefile exports it.
const BinDirEnv = "HOPGUARD_BIN"

// ModuleRoot returns the directory of hopguard's go.mod, searching upward from the working
// directory (tests run in their package's directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/hopguard/hopguard\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no hopguard go.mod above the working directory")
		}
		dir = parent
	}
}

// Dir is where the third-party binaries are installed: $HOPGUARD_BIN when set, else
// <module root>/bin.
func Dir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

// Tool returns the path of an installed third-party binary (e.g. "envoy") in Dir. The error
// says how to install it.
func Tool(name string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s is not installed in %s (run `make tools`): %w", name, dir, err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s in %s is not an executable file (run `make tools`)", name, dir)
	}
	return path, nil
}

// Build compiles hopguard's main packages (import paths relative to the module root, e.g.
// "./synapse/cmd/synapse") into outDir with one `go build`, so the build cache is shared and
// the cost is paid once per run. It returns each package's binary path, keyed by the package.
func Build(ctx context.Context, outDir string, pkgs ...string) (map[string]string, error) {
	if len(pkgs) == 0 {
		return map[string]string{}, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", outDir, err)
	}
	args := append([]string{"build", "-o", outDir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, GoCommand(), args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, stderr.String())
	}
	paths := make(map[string]string, len(pkgs))
	for _, pkg := range pkgs {
		path := filepath.Join(outDir, filepath.Base(pkg))
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("go build %s produced no %s: %w", pkg, path, err)
		}
		paths[pkg] = path
	}
	return paths, nil
}

// goCommand is the go binary that runs this build: $GOROOT/bin/go when the environment names
// one (go test and go run set it), else whatever "go" is on PATH.
// DownloadModules fetches the modules of hopguard's main module while the network is there: the
// harness builds hopguard's commands inside a network namespace (conformance/netns), where
// `go build` cannot reach the module proxy. With a warm cache it only checks.
func DownloadModules(ctx context.Context) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, GoCommand(), "mod", "download")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("download Go modules before entering a network namespace (it has no network): %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// GoCommand is the go command to run: the one of $GOROOT (go test and go run set it) when it is
// there, else go from PATH.
func GoCommand() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if path := filepath.Join(root, "bin", "go"); fileExists(path) {
			return path
		}
	}
	return "go"
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
