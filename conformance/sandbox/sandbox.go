// Package sandbox runs a program where the only addresses it can reach are the exits it is
// given: the seed's "the agent runs inside a sandbox with outbound access blocked, so the
// gateway is its only way out".
//
// A sandbox is a network namespace of its own whose only interface is loopback. On it, this
// process listens on each exit's address and forwards what arrives to the same address outside,
// as an HTTP reverse proxy that may refuse a request before it leaves (the STS exit lets only
// the token endpoint through). Nothing else listens there and nothing routes out, so a program
// started in the sandbox that dials anything but an exit is refused by its own kernel. The
// program runs as an unprivileged user: root in the sandbox could join another network
// namespace (setns needs CAP_SYS_ADMIN) and walk out.
//
// How: one goroutine locks itself to an OS thread and moves that thread alone into a new
// network namespace (unshare), creates the exits' listeners there and starts every program
// from it, since a child process is born in the namespace of the thread that forks it. When
// the sandbox closes, the thread goes back to its own namespace before Go may use it for
// anything else; it must not simply end, since a thread's end kills every process it once
// started with a parent-death signal (the harness's components among them). The forwarding
// itself runs on ordinary goroutines, in the namespace this process came from.
// Making a namespace needs CAP_SYS_ADMIN; elsewhere Open fails and says why.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hopguard/hopguard/conformance/netns"
)

// RefusedHeader marks an answer the sandbox gave itself to a request that an exit's Allow
// refused: that request never left the sandbox.
const RefusedHeader = "x-hopguard-sandbox"

// Unprivileged is the user and group a sandboxed program runs as when this process is root:
// nobody, which may not join another namespace, nor read root's files.
const Unprivileged = 65534

// Exit is one way out of the sandbox.
type Exit struct {
	// Name says what the exit leads to ("gateway", "sts"), in logs and refusals.
	Name string
	// Addr is the host:port a sandboxed program dials; the exit listens on it inside the
	// sandbox and forwards to the same address outside, so URLs read the same on both sides.
	Addr string
	// Allow, when set, is asked about every request; one it refuses is answered 403 with
	// RefusedHeader and never leaves.
	Allow func(*http.Request) error
}

// Config is what a sandbox lets out and how.
type Config struct {
	Exits []Exit
	// Transport carries allowed requests out; nil means http.DefaultTransport.
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// Sandbox is one network namespace and its exits. Close it when its programs have ended.
type Sandbox struct {
	logger  *slog.Logger
	dir     string
	servers []*http.Server

	starts chan startRequest
	quit   chan struct{}
	ended  chan struct{}

	mu      sync.Mutex
	started []*os.Process

	closeOnce sync.Once
}

type startRequest struct {
	cmd    *exec.Cmd
	result chan error
}

// Open makes a sandbox with cfg's exits, ready to start programs in.
func Open(ctx context.Context, cfg Config) (*Sandbox, error) {
	if len(cfg.Exits) == 0 {
		return nil, errors.New("sandbox: at least one exit is required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	for _, exit := range cfg.Exits {
		if _, _, err := net.SplitHostPort(exit.Addr); err != nil {
			return nil, fmt.Errorf("sandbox: exit %s: address %q: %w", exit.Name, exit.Addr, err)
		}
	}
	dir, err := os.MkdirTemp("", "hopguard-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: a directory for its programs: %w", err)
	}
	// MkdirTemp makes 0700; the sandboxed user must reach the programs copied here.
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{
		logger: logger,
		dir:    dir,
		starts: make(chan startRequest),
		quit:   make(chan struct{}),
		ended:  make(chan struct{}),
	}
	listeners := make(chan []net.Listener, 1)
	failed := make(chan error, 1)
	go s.hold(cfg.Exits, listeners, failed)
	select {
	case err := <-failed:
		_ = os.RemoveAll(dir)
		return nil, err
	case lns := <-listeners:
		for i, exit := range cfg.Exits {
			srv := &http.Server{
				Handler:           s.forward(exit, transport),
				ReadHeaderTimeout: 10 * time.Second,
				ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
			}
			s.servers = append(s.servers, srv)
			go func() {
				if err := srv.Serve(lns[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
					logger.Warn("sandbox exit stopped", "exit", exit.Name, "err", err)
				}
			}()
		}
		return s, nil
	case <-ctx.Done():
		// hold answers on one of the channels above; let it finish and clean up.
		go func() {
			select {
			case <-failed:
			case lns := <-listeners:
				for _, ln := range lns {
					_ = ln.Close()
				}
				close(s.quit)
			}
			_ = os.RemoveAll(dir)
		}()
		return nil, fmt.Errorf("sandbox: %w", ctx.Err())
	}
}

// hold is the sandbox's thread: it enters a new network namespace, listens on the exits there
// and then starts programs until the sandbox closes, when it goes back to the namespace it
// came from and only then returns the thread to Go's pool.
func (s *Sandbox) hold(exits []Exit, listeners chan<- []net.Listener, failed chan<- error) {
	defer close(s.ended)
	goruntime.LockOSThread()
	back, err := enterNewNamespace()
	if err != nil {
		goruntime.UnlockOSThread()
		failed <- err
		return
	}
	defer s.leave(back)
	if err := netns.LoopbackUp(); err != nil {
		failed <- fmt.Errorf("sandbox: %w", err)
		return
	}
	var lns []net.Listener
	for _, exit := range exits {
		// A socket belongs to the namespace of the thread that creates it: this one's.
		ln, err := net.Listen("tcp", exit.Addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			failed <- fmt.Errorf("sandbox: exit %s: listen on %s inside: %w", exit.Name, exit.Addr, err)
			return
		}
		lns = append(lns, ln)
	}
	listeners <- lns
	for {
		select {
		case req := <-s.starts:
			err := req.cmd.Start()
			if err == nil {
				s.mu.Lock()
				s.started = append(s.started, req.cmd.Process)
				s.mu.Unlock()
			}
			req.result <- err
		case <-s.quit:
			return
		}
	}
}

// leave moves the sandbox's thread back to its namespace and hands it back to Go. Should that
// fail, the thread stays locked and ends with its goroutine, as Go does with a locked thread
// that exits, which is safe but kills every process this thread ever started with a
// parent-death signal (Pdeathsig is per thread): a component of the environment, say.
func (s *Sandbox) leave(back func() error) {
	if err := back(); err != nil {
		s.logger.Error("sandbox: the thread could not go back to its network namespace; it ends", "err", err)
		return
	}
	goruntime.UnlockOSThread()
}

// enterNewNamespace moves the calling thread, which must be locked to its goroutine, into a new
// network namespace and returns how to move it back.
func enterNewNamespace() (back func() error, err error) {
	own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, fmt.Errorf("sandbox: this thread's network namespace: %w", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		_ = own.Close()
		return nil, fmt.Errorf("sandbox: make a network namespace (it needs CAP_SYS_ADMIN, i.e. root): %w", err)
	}
	return func() error {
		defer own.Close()
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("sandbox: go back to this thread's network namespace: %w", err)
		}
		return nil
	}, nil
}

// Command returns a command that runs the program at path, with args, inside the sandbox once
// passed to Start. The program is copied into the sandbox's own directory first, so that the
// unprivileged user it runs as can execute it wherever it was built.
func (s *Sandbox) Command(ctx context.Context, path string, args ...string) (*exec.Cmd, error) {
	copied, err := s.install(path)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, copied, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + s.dir, "TMPDIR=" + s.dir}
	return cmd, nil
}

// Start starts cmd inside the sandbox, as Unprivileged when this process is root. cmd.Env is
// what the program gets: nothing of this process's environment leaks in unless set there.
func (s *Sandbox) Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if os.Getuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: Unprivileged, Gid: Unprivileged, Groups: []uint32{}}
	}
	result := make(chan error, 1)
	select {
	case s.starts <- startRequest{cmd: cmd, result: result}:
		return <-result
	case <-s.ended:
		return errors.New("sandbox: closed")
	}
}

// Close stops the exits, kills any program still running in the sandbox and ends the
// namespace.
func (s *Sandbox) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
		}
		close(s.quit)
		<-s.ended
		s.mu.Lock()
		for _, p := range s.started {
			_ = p.Kill() // one that has ended already says so; nothing to do
		}
		s.mu.Unlock()
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: remove %s: %w", s.dir, err))
		}
	})
	return errors.Join(errs...)
}

// install copies the program at path into the sandbox's directory, readable and executable by
// everyone.
func (s *Sandbox) install(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("sandbox: the program to run: %w", err)
	}
	defer src.Close()
	dst := filepath.Join(s.dir, filepath.Base(path))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return "", fmt.Errorf("sandbox: copy %s in: %w", path, err)
	}
	if _, err := io.Copy(out, src); err != nil {
		_ = out.Close()
		return "", fmt.Errorf("sandbox: copy %s in: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("sandbox: copy %s in: %w", path, err)
	}
	return dst, nil
}

// forward is an exit: the request goes out to the same address unchanged, after Allow.
func (s *Sandbox) forward(exit Exit, transport http.RoundTripper) http.Handler {
	proxy := &httputil.ReverseProxy{
		// Rewrite, unlike Director, adds no X-Forwarded-* headers: the gateway sees the request
		// the program sent, less its hop-by-hop headers.
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = exit.Addr
		},
		Transport:     transport,
		FlushInterval: -1, // server-sent events (MCP) pass through as they come
		ErrorLog:      slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The sandbox does not invent an answer for an upstream that gave none: the
			// program sees its connection fail, as it would have without the sandbox.
			s.logger.Debug("sandbox exit: no answer from outside", "exit", exit.Name, "path", r.URL.Path, "err", err)
			panic(http.ErrAbortHandler)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exit.Allow != nil {
			if err := exit.Allow(r); err != nil {
				s.logger.Info("sandbox refused a request", "exit", exit.Name, "method", r.Method, "path", r.URL.Path, "why", err)
				w.Header().Set(RefusedHeader, "refused")
				http.Error(w, fmt.Sprintf("the sandbox lets nothing but %s out this way: %v", exit.Name, err), http.StatusForbidden)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})
}

// Available says whether a sandbox can be made here, by making a network namespace and
// leaving it at once, and says why not when it cannot.
func Available() error {
	result := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		back, err := enterNewNamespace()
		if err != nil {
			goruntime.UnlockOSThread()
			result <- err
			return
		}
		if err := back(); err != nil {
			result <- err // the thread stays locked and ends with this goroutine
			return
		}
		goruntime.UnlockOSThread()
		result <- nil
	}()
	return <-result
}
