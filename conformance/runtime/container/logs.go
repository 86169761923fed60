package container

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// componentLog is a log file several goroutines write to: a component's (its container's
// output, as the process runtime keeps a process's) or the run's containers.log.
type componentLog struct {
	mu   sync.Mutex
	file *os.File
}

func openLog(path string) (*componentLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &componentLog{file: f}, nil
}

func (l *componentLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Write(p)
}

func (l *componentLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Close()
}

// runLogger writes the runtime's lines about one component's container (creating, starting,
// waiting, stopping, removing) to the run's containers.log, so the component's own log holds
// only what the component said. A nil log drops them.
type runLogger struct {
	log       io.Writer
	component string
}

func (l runLogger) printf(format string, v ...any) {
	if l.log == nil {
		return
	}
	line := strings.TrimRight(fmt.Sprintf(format, v...), "\n")
	component := l.component
	if component == "" {
		component = "runtime"
	}
	_, _ = fmt.Fprintf(l.log, "%s %s: %s\n", time.Now().Format(time.RFC3339), component, line)
}

// logFollower copies a container's output into its log from the moment it starts until it
// exits. It reads the engine's log stream itself, not through a context that ends with Start.
type logFollower struct {
	started atomic.Bool
	done    chan struct{}
}

// followLogs is a Spec.Started hook: it starts copying once the container has started, before
// the wait for readiness, so a component that never gets ready has said why in its log. The
// engine's stream multiplexes stdout and stderr; both go to log.
func followLogs(ctx context.Context, log io.Writer, f *logFollower) func(context.Context, *Container) error {
	return func(_ context.Context, c *Container) error {
		rc, err := c.docker.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
		if err != nil {
			return fmt.Errorf("follow logs: %w", err)
		}
		f.started.Store(true)
		go func() {
			defer close(f.done)
			defer rc.Close()
			if _, err := stdcopy.StdCopy(log, log, rc); err != nil && ctx.Err() == nil {
				_, _ = fmt.Fprintf(log, "### reading the container's output failed: %v\n", err)
			}
		}()
		return nil
	}
}

// wait waits until the container's output has been copied (it exited) or ctx ends.
func (f *logFollower) wait(ctx context.Context) {
	if !f.started.Load() {
		return
	}
	select {
	case <-f.done:
	case <-ctx.Done():
	}
}
