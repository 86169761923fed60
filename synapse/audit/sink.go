package audit

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Log writes Records as NDJSON to a writer. It is safe for concurrent use.
type Log struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	// lines recycles encoding buffers (*[]byte) between writes.
	lines sync.Pool
}

// SinkStdout is the sink spec that writes to standard output.
const SinkStdout = "stdout"

// NewLog writes to w; closing the Log does not close w.
func NewLog(w io.Writer) *Log { return &Log{w: w} }

// Discard is a Log that writes nowhere, for tests.
func Discard() *Log { return NewLog(io.Discard) }

// Open returns the Log for a sink spec: "stdout", or the path of a file that
// is appended to (created with mode 0600).
func Open(spec string) (*Log, error) {
	if spec == "" || spec == SinkStdout {
		return NewLog(os.Stdout), nil
	}
	f, err := os.OpenFile(spec, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return &Log{w: f, closer: f}, nil
}

// Write appends one record. The line goes out in a single write so that
// concurrent writers (even other processes appending to the same file) never
// interleave within a line. It takes no context on purpose: a decision is
// logged even when the request that caused it was cancelled.
func (l *Log) Write(r Record) error {
	buf, _ := l.lines.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	defer func() {
		// An unusually long record is not kept, so one outlier does not pin its buffer.
		if cap(*buf) <= maxPooledLine {
			l.lines.Put(buf)
		}
	}()
	line, err := appendRecord((*buf)[:0], &r)
	*buf = line
	if err != nil {
		return fmt.Errorf("encode audit record %s: %w", r.DecisionID, err)
	}
	line = append(line, '\n')
	*buf = line
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(line); err != nil {
		return fmt.Errorf("write audit record %s: %w", r.DecisionID, err)
	}
	return nil
}

// maxPooledLine is the largest encoding buffer kept for reuse.
const maxPooledLine = 64 << 10

// Close closes the file sink; it is a no-op for stdout and writers.
func (l *Log) Close() error {
	if l.closer == nil {
		return nil
	}
	if err := l.closer.Close(); err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	return nil
}
