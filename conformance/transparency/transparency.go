// Package transparency is the official MCP conformance framework (@modelcontextprotocol/conformance)
// run against hopguard's fixture server directly and through each gateway, proving governance
// transparent to MCP: whatever the fixture passes directly it must pass behind a gateway too, save
// for the gateway behaviours a caller names as known.
//
// Find locates the framework that `make tools` installs, Framework.Run runs its active server suite
// against one target and reads the per-scenario results, and Compare lays the runs side by side.
package transparency

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LogName is the file in a run's output directory that holds the framework's stdout and stderr.
const LogName = "framework.log"

// preloadName is the file the embedded preload module is written to.
const preloadName = "authorization.mjs"

//go:embed authorization.mjs
var preloadSource []byte

// waitDelay bounds how long Run waits for the framework's output after the process is gone or
// killed, so that a stuck grandchild cannot hold a cancelled run open.
const waitDelay = 5 * time.Second

// logTailBytes is how much of the framework's log an error quotes.
const logTailBytes = 2 << 10

// Framework is an installed MCP conformance framework: the Node.js that runs it, its CLI script,
// and the directory whose node_modules holds it and its dependencies.
type Framework struct {
	Node, CLI, Dir string
}

// Find returns the framework that `make tools` (conformance/tools/node.sh) installs into binDir.
// The error says what is missing and how to install it; callers report the suite "not run" with it.
func Find(binDir string) (Framework, error) {
	if binDir == "" {
		return Framework{}, errors.New("MCP conformance framework: no bin directory given (run `make tools`)")
	}
	dir := filepath.Join(binDir, "mcp-conformance")
	f := Framework{
		Node: filepath.Join(binDir, "node22", "bin", "node"),
		CLI:  filepath.Join(dir, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js"),
		Dir:  dir,
	}
	if err := isExecutable(f.Node); err != nil {
		return Framework{}, fmt.Errorf("MCP conformance framework: Node.js 22 is not installed in %s (run `make tools`): %w", binDir, err)
	}
	if err := isFile(f.CLI); err != nil {
		return Framework{}, fmt.Errorf("MCP conformance framework is not installed in %s (run `make tools`): %w", binDir, err)
	}
	// The preload resolves undici from here; without it every request would go out unauthenticated.
	if err := isFile(filepath.Join(dir, "node_modules", "undici", "package.json")); err != nil {
		return Framework{}, fmt.Errorf("MCP conformance framework in %s lacks undici (run `make tools`): %w", dir, err)
	}
	return f, nil
}

func isFile(path string) error {
	_, err := regularFile(path)
	return err
}

func isExecutable(path string) error {
	info, err := regularFile(path)
	if err != nil {
		return err
	}
	if info.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

func regularFile(path string) (os.FileInfo, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return info, nil
}

// Target is one MCP endpoint the suite runs against: the fixture itself or a gateway in front of it.
type Target struct {
	// Name labels the target in logs and errors, e.g. "direct" or a gateway's name.
	Name string
	// URL is the MCP endpoint, e.g. http://127.0.0.1:18110/mcp.
	URL string
	// Authorization is the whole Authorization header value sent on every request, e.g.
	// "Bearer x"; empty sends none.
	Authorization string
}

// Run runs the framework's active server suite once against t and returns the result of every
// scenario, sorted by name. outDir receives the framework's per-scenario results and LogName; an
// existing outDir is removed first, so that only this run's results are read.
//
// Failing checks are results, not errors (the framework then exits 1). The error is for a run that
// did not happen or did not finish: the framework could not start, died, was cut short by ctx, or
// wrote no result. It quotes the end of the framework's log; ReadResults still reads whatever a
// cut-short run wrote.
func (f Framework) Run(ctx context.Context, t Target, outDir string, logf func(string, ...any)) ([]ScenarioResult, error) {
	return f.run(ctx, t, outDir, []string{"--suite", "active"}, "the framework's active server suite", logf)
}

// RunScenario runs one scenario of the suite against t, alone, into outDir (removed first):
// after a suite run cut short, it tells the scenario that hangs behind a gateway from those that
// did not get their turn.
func (f Framework) RunScenario(ctx context.Context, t Target, scenario, outDir string, logf func(string, ...any)) (ScenarioResult, error) {
	results, err := f.run(ctx, t, outDir, []string{"--scenario", scenario}, "scenario "+scenario, logf)
	if err != nil {
		return ScenarioResult{}, err
	}
	for _, r := range results {
		if r.Scenario == scenario {
			return r, nil
		}
	}
	return ScenarioResult{}, fmt.Errorf("MCP conformance run of %s against %s: no result for it", scenario, t.Name)
}

func (f Framework) run(ctx context.Context, t Target, outDir string, which []string, what string, logf func(string, ...any)) ([]ScenarioResult, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if t.URL == "" {
		return nil, fmt.Errorf("MCP conformance run against %s: no URL", t.Name)
	}
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return nil, fmt.Errorf("MCP conformance run against %s: %w", t.Name, err)
	}
	if err := os.RemoveAll(outDir); err != nil {
		return nil, fmt.Errorf("MCP conformance run against %s: remove old results: %w", t.Name, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("MCP conformance run against %s: %w", t.Name, err)
	}
	preloadDir, err := os.MkdirTemp("", "mcp-conformance-preload-")
	if err != nil {
		return nil, fmt.Errorf("MCP conformance run against %s: %w", t.Name, err)
	}
	defer os.RemoveAll(preloadDir)
	preload := filepath.Join(preloadDir, preloadName)
	if err := os.WriteFile(preload, preloadSource, 0o644); err != nil {
		return nil, fmt.Errorf("MCP conformance run against %s: write the preload module: %w", t.Name, err)
	}
	logPath := filepath.Join(outDir, LogName)
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("MCP conformance run against %s: %w", t.Name, err)
	}
	defer log.Close()

	cmd := f.command(ctx, t, preload, outDir, which)
	cmd.Stdout, cmd.Stderr = log, log
	logf("MCP conformance: running %s against %s (%s)", what, t.Name, t.URL)
	start := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)

	if err := ranToTheEnd(ctx, runErr); err != nil {
		return nil, fmt.Errorf("MCP conformance run against %s (%s) after %v: %w; %s", t.Name, t.URL, elapsed, err, logTail(logPath))
	}
	results, err := ReadResults(outDir)
	if err != nil {
		return nil, fmt.Errorf("MCP conformance run against %s (%s): %w; %s", t.Name, t.URL, err, logTail(logPath))
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("MCP conformance run against %s (%s): the framework wrote no result in %s; %s", t.Name, t.URL, outDir, logTail(logPath))
	}
	passed := 0
	for _, r := range results {
		if r.Passed {
			passed++
		}
	}
	logf("MCP conformance against %s: %d of %d scenarios passed in %v (log: %s)", t.Name, passed, len(results), elapsed, logPath)
	return results, nil
}

// command builds the framework's invocation: Node with the preload module, so that every request
// carries t.Authorization.
func (f Framework) command(ctx context.Context, t Target, preload, outDir string, which []string) *exec.Cmd {
	// A file URL, as --import takes a module specifier and a bare path is not one everywhere.
	preloadURL := (&url.URL{Scheme: "file", Path: preload}).String()
	args := append([]string{"--import", preloadURL, f.CLI, "server", "--url", t.URL, "-o", outDir}, which...)
	cmd := exec.CommandContext(ctx, f.Node, args...)
	cmd.Env = append(os.Environ(),
		"MCP_CONFORMANCE_DIR="+f.Dir,
		"MCP_CONFORMANCE_AUTHORIZATION="+t.Authorization,
		// The log is read by people in files, not on a terminal.
		"NO_COLOR=1",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group, so that cancelling reaches anything the framework spawned.
		Setpgid: true,
		// A harness that dies without cleaning up (kill -9) takes the framework with it.
		Pdeathsig: syscall.SIGKILL,
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	return cmd
}

// ranToTheEnd tells a finished suite (exit 0, or 1 for failing checks) from a run that was cut
// short or never started.
func ranToTheEnd(ctx context.Context, runErr error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("cut short: %w", ctxErr)
	}
	if runErr == nil {
		return nil
	}
	var exit *exec.ExitError
	if errors.As(runErr, &exit) && exit.ExitCode() == 1 {
		return nil
	}
	return fmt.Errorf("the framework did not finish: %w", runErr)
}

// logTail describes the end of the framework's log for an error message.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("its log is unreadable: %v", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("its log is unreadable: %v", err)
	}
	offset := max(info.Size()-logTailBytes, 0)
	buf, err := io.ReadAll(io.NewSectionReader(f, offset, info.Size()-offset))
	if err != nil {
		return fmt.Sprintf("its log is unreadable: %v", err)
	}
	tail := strings.TrimSpace(string(buf))
	if tail == "" {
		return fmt.Sprintf("its log %s is empty", path)
	}
	if offset > 0 {
		tail = "…" + tail
	}
	return fmt.Sprintf("its log %s ends:\n%s", path, tail)
}
