package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hopguard/hopguard/conformance/env"
)

// proc is one started component process.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{} // closed when the process has exited

	mu      sync.Mutex
	waitErr error
}

func (p *proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return errors.New("exit status 0")
	}
	return p.waitErr
}

// launch renders the component's files, then starts its process in a new process group with
// its output appended to its log file.
func (e *environment) launch(c env.Component) (*proc, error) {
	dir := e.layout.Dir(c.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	refs := &referenceChecker{layout: e.layout}
	for _, f := range c.Files {
		data, err := f.Render(refs)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", f.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.Name, err)
		}
	}
	var args []string
	if c.Args != nil {
		args = c.Args(refs)
	}
	if len(refs.missing) > 0 {
		return nil, fmt.Errorf("the description refers to undeclared ports %s", strings.Join(refs.missing, ", "))
	}
	path, err := e.opts.Resolve(c.Program)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", c.Program, err)
	}

	logPath := filepath.Join(e.opts.Dir, "logs", c.Name+".log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fmt.Fprintf(log, "### %s: %s %s\n", time.Now().Format(time.RFC3339), path, strings.Join(args, " "))

	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group, so that stopping it reaches anything it forked.
		Setpgid: true,
		// If the harness dies without cleaning up (kill -9, a crashed test), so does the component.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("exec %s: %w", path, err)
	}
	p := &proc{cmd: cmd, logPath: logPath, log: log, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, then SIGKILL if it has not exited in time.
func (p *proc) stop(ctx context.Context, grace time.Duration) error {
	defer p.log.Close()
	pgid := p.cmd.Process.Pid
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", pgid, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		// The leader is gone; make sure nothing it started outlives it.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pgid, err)
	}
	<-p.done
	return nil
}

// tail returns the last n lines of a log file, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	var lines []string
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
