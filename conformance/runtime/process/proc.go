package process

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime"
)

// proc is one started component process.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{} // closed when the process has exited

	ready        env.Probe
	readyAddr    netip.AddrPort
	readyTimeout time.Duration

	mu      sync.Mutex
	waitErr error
}

var _ runtime.Instance = (*proc)(nil)

// PID implements runtime.Instance.
func (p *proc) PID(context.Context) (int, error) { return p.cmd.Process.Pid, nil }

func (p *proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return errors.New("exit status 0")
	}
	return p.waitErr
}

// exec renders the component's files, then starts its process in a new process group with its
// output appended to its log file.
func (l *launcher) exec(c env.Component) (*proc, error) {
	prepared, err := l.layout.Prepare(c)
	if err != nil {
		return nil, err
	}
	path, err := l.opts.Resolve(c.Program)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", c.Program, err)
	}

	logPath := l.layout.LogPath(c.Name)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fmt.Fprintf(log, "### %s: %s %s\n", time.Now().Format(time.RFC3339), path, strings.Join(prepared.Args, " "))

	cmd := exec.Command(path, prepared.Args...)
	cmd.Dir = prepared.Dir
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
	p := &proc{
		cmd:          cmd,
		logPath:      logPath,
		log:          log,
		done:         make(chan struct{}),
		ready:        c.Ready,
		readyAddr:    l.layout.ReadyAddr(c),
		readyTimeout: l.opts.ReadyTimeout,
	}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// AwaitReady implements runtime.Instance; a process that exits first fails it at once.
func (p *proc) AwaitReady(ctx context.Context) error {
	err := runtime.WaitReady(ctx, p.ready, p.readyAddr, p.readyTimeout, p.done)
	if errors.Is(err, runtime.ErrExited) {
		return fmt.Errorf("%w (%v); %s", err, p.exitErr(), runtime.LastLines(p.logPath))
	}
	if err != nil {
		return fmt.Errorf("%w; %s", err, runtime.LastLines(p.logPath))
	}
	return nil
}

// Stop implements runtime.Instance: SIGTERM to the process group, then SIGKILL if it has not
// exited in time.
func (p *proc) Stop(ctx context.Context, grace time.Duration) error {
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
