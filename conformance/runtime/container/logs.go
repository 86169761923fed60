package container

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// componentLog is a component's log file: its container's output and testcontainers' own lines
// about it (creating, starting, waiting), as the process runtime keeps a process's output.
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

// Printf makes it testcontainers' logger for this component.
func (l *componentLog) Printf(format string, v ...any) {
	_, _ = fmt.Fprintf(l, "### testcontainers: "+strings.TrimRight(format, "\n")+"\n", v...)
}

func (l *componentLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Close()
}

// logFollower copies a container's output into its log from the moment it starts until it
// exits. It reads the engine's log stream itself, not through a context that ends with Start.
type logFollower struct {
	started atomic.Bool
	done    chan struct{}
}

// followLogs is a lifecycle hook that starts copying once the container has started, before
// the wait for readiness, so a component that never gets ready has said why in its log.
func followLogs(ctx context.Context, docker client.APIClient, log io.Writer, f *logFollower) testcontainers.ContainerLifecycleHooks {
	return testcontainers.ContainerLifecycleHooks{
		PostStarts: []testcontainers.ContainerHook{func(_ context.Context, c testcontainers.Container) error {
			rc, err := docker.ContainerLogs(ctx, c.GetContainerID(), client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
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
		}},
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
