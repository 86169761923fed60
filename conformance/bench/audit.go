package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// auditTail reads synapse's audit log (one JSON decision per line) as it grows, to say how many
// decisions each round made and how many of them reused a cached one: the decision cache's hit
// ratio under each mix and load, which the latency and CPU figures depend on.
type auditTail struct {
	path   string
	offset int64
}

// cachedMarker is how the audit log marks a decision that reused a cached one (synapse/audit
// Record.Cached).
const cachedMarker = `"cached":true`

// read returns the decisions written since the last read, and how many were cached. Only whole
// lines count; a line being written is counted at the next read.
func (a *auditTail) read() (decisions, cached uint64, err error) {
	if a == nil {
		return 0, 0, nil
	}
	f, err := os.Open(a.path)
	if err != nil {
		return 0, 0, fmt.Errorf("synapse's audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return 0, 0, fmt.Errorf("synapse's audit log: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, 0, fmt.Errorf("synapse's audit log: %w", err)
	}
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return 0, 0, nil
	}
	lines := data[:end+1]
	a.offset += int64(len(lines))
	return uint64(bytes.Count(lines, []byte{'\n'})), uint64(bytes.Count(lines, []byte(cachedMarker))), nil
}
