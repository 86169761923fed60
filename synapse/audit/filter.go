package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// maxLineBytes bounds one log line; records are well under 64 KiB.
const maxLineBytes = 1 << 20

// Filter selects records. Zero fields match everything.
type Filter struct {
	Task   string
	Agent  string
	Effect string
	// Since and Until bound the record time: Since <= time < Until.
	Since time.Time
	Until time.Time
}

// Match reports whether r passes the filter.
func (f Filter) Match(r Record) bool {
	switch {
	case f.Task != "" && r.Task != f.Task:
		return false
	case f.Agent != "" && r.AgentID != f.Agent:
		return false
	case f.Effect != "" && r.Effect != f.Effect:
		return false
	case !f.Since.IsZero() && r.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !r.Time.Before(f.Until):
		return false
	}
	return true
}

// Stats counts what FilterLog saw.
type Stats struct {
	Matched int
	// Skipped counts lines that are not records (e.g. a line cut short by a
	// crash); they are left out, not fatal.
	Skipped int
}

// FilterLog copies the lines of r whose record matches f to w, unchanged.
func FilterLog(r io.Reader, w io.Writer, f Filter) (Stats, error) {
	var st Stats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil || rec.DecisionID == "" {
			st.Skipped++
			continue
		}
		if !f.Match(rec) {
			continue
		}
		st.Matched++
		// line aliases the scanner's buffer: never append to it.
		if _, err := bw.Write(line); err != nil {
			return st, fmt.Errorf("write filtered records: %w", err)
		}
		if err := bw.WriteByte('\n'); err != nil {
			return st, fmt.Errorf("write filtered records: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("read audit log: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write filtered records: %w", err)
	}
	return st, nil
}
