// Package agentrun runs hopguard's agent binary where the seed puts it: inside a sandbox
// (conformance/sandbox) whose only ways out are the gateway and the STS's token endpoint. The
// hops and the result come back from the agent's --json output, so a scenario reads them as if
// it had called loop.Run itself.
package agentrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hopguard/hopguard/agent/cli"
	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/narrate"
	"github.com/hopguard/hopguard/conformance/sandbox"
)

// Package is the agent command, for a harness to build.
const Package = "./agent/cmd/agent"

// Runner runs the agent binary in a sandbox of its own for each run.
type Runner struct {
	// Binary is the built agent command (Package).
	Binary string
	Logger *slog.Logger
}

// Run runs the agent on cfg in a new sandbox and returns what it did. As with loop.Run, the
// error is nil exactly when the run succeeded. cfg.HTTPClient's transport carries the
// sandbox's requests out, and cfg.OnHop hears of each hop as the agent reports it.
func (r Runner) Run(ctx context.Context, cfg loop.Config) (loop.Result, error) {
	failed := func(err error) (loop.Result, error) {
		return loop.Result{Outcome: loop.Failed, Reason: err.Error()}, err
	}
	exits, err := Exits(cfg)
	if err != nil {
		return failed(err)
	}
	args, env, err := cli.Command(cfg)
	if err != nil {
		return failed(err)
	}
	var transport http.RoundTripper
	if cfg.HTTPClient != nil {
		transport = cfg.HTTPClient.Transport
	}
	sb, err := sandbox.Open(ctx, sandbox.Config{Exits: exits, Transport: transport, Logger: r.Logger})
	if err != nil {
		return failed(err)
	}
	defer sb.Close()

	cmd, err := sb.Command(ctx, r.Binary, args...)
	if err != nil {
		return failed(err)
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return failed(fmt.Errorf("agent run: %w", err))
	}
	stderr := &tail{max: 8 << 10}
	cmd.Stderr = stderr
	if err := sb.Start(cmd); err != nil {
		return failed(fmt.Errorf("start the agent in its sandbox: %w", err))
	}
	res, readErr := narrate.ReadJSON(stdout, cfg.OnHop)
	_, _ = io.Copy(io.Discard, stdout) // what follows a bad line, so that Wait returns
	waitErr := cmd.Wait()
	if readErr != nil {
		res.Outcome = loop.Failed
		res.Reason = readErr.Error()
		return res, fmt.Errorf("the agent in its sandbox: %w (%v; its stderr: %s)", readErr, waitErr, strings.TrimSpace(stderr.String()))
	}
	if res.Outcome == loop.Success {
		return res, nil
	}
	return res, fmt.Errorf("the agent's run ended %s: %s", res.Outcome, res.Reason)
}

// Exits are the ways out of an agent's sandbox for cfg: each address the gateway's URLs name,
// letting everything through (the gateway decides), and the STS's, letting through only a POST
// to its token endpoint.
func Exits(cfg loop.Config) ([]sandbox.Exit, error) {
	var exits []sandbox.Exit
	seen := map[string]bool{}
	for _, raw := range []string{cfg.GatewayURL, cfg.LLMURL, strings.ReplaceAll(cfg.MCPURLTemplate, loop.ServerPlaceholder, "server")} {
		if raw == "" {
			continue
		}
		addr, _, err := address(raw)
		if err != nil {
			return nil, fmt.Errorf("the agent's gateway: %w", err)
		}
		if !seen[addr] {
			seen[addr] = true
			exits = append(exits, sandbox.Exit{Name: "gateway", Addr: addr})
		}
	}
	if len(exits) == 0 {
		return nil, errors.New("the agent's sandbox needs a gateway URL")
	}
	addr, path, err := address(cfg.STSURL)
	if err != nil {
		return nil, fmt.Errorf("the agent's STS: %w", err)
	}
	if path == "" || path == "/" {
		path = loop.DefaultTokenPath
	}
	if !seen[addr] {
		exits = append(exits, sandbox.Exit{Name: "the STS's token endpoint", Addr: addr, Allow: onlyPost(path)})
	}
	return exits, nil
}

// onlyPost lets through a POST to path and nothing else.
func onlyPost(path string) func(*http.Request) error {
	return func(r *http.Request) error {
		if r.Method != http.MethodPost || r.URL.Path != path {
			return fmt.Errorf("only POST %s leaves for the STS, not %s %s", path, r.Method, r.URL.Path)
		}
		return nil
	}
}

// address is the host:port and path of an http URL.
func address(raw string) (addr, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	if u.Scheme != "http" || u.Host == "" {
		return "", "", fmt.Errorf("%q: a sandbox's exits take http://host:port URLs", raw)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port), u.Path, nil
}

// tail keeps the last max bytes written to it: the end of the agent's log, for an error.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }
