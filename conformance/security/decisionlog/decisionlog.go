// Package decisionlog reads the two decision logs of a run: synapse's audit log (one NDJSON
// record per ext_authz decision) and Cerbos's decision log (one NDJSON entry per
// CheckResources call, carrying synapse's decision id in its metadata). Both are read from an
// offset, so a test reads only what its own traffic wrote.
package decisionlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hopguard/hopguard/synapse/audit"
)

// Size is the length of the file at path, 0 when it does not exist yet: the offset from which
// a later read sees only newer lines.
func Size(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("decision log: %w", err)
	}
	return fi.Size(), nil
}

// Synapse returns synapse's records from offset on, and the offset after the last complete
// line (a line still being written is left for the next read): synapse's own reader.
func Synapse(path string, offset int64) ([]audit.Record, int64, error) {
	return audit.ReadLog(path, offset)
}

// CerbosEntry is one decision of Cerbos's log: one CheckResources call.
type CerbosEntry struct {
	CallID string
	// DecisionIDs are the values of the x-hopguard-decision-id metadata synapse sent.
	DecisionIDs []string
	// RequestIDs are the request ids of the call's inputs (synapse uses its decision id).
	RequestIDs []string
}

type cerbosLine struct {
	Kind           string `json:"log.kind"`
	CallID         string `json:"callId"`
	CheckResources struct {
		Inputs []struct {
			RequestID string `json:"requestId"`
		} `json:"inputs"`
	} `json:"checkResources"`
	Metadata map[string]struct {
		Values []string `json:"values"`
	} `json:"metadata"`
}

// DecisionIDKey is the gRPC metadata key under which synapse sends its decision id.
const DecisionIDKey = "x-hopguard-decision-id"

// Cerbos returns Cerbos's decision entries from offset on (access log entries are skipped), and
// the offset after the last complete line.
func Cerbos(path string, offset int64) ([]CerbosEntry, int64, error) {
	var out []CerbosEntry
	end, err := readLines(path, offset, func(line []byte) error {
		var l cerbosLine
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("cerbos decision log entry: %w", err)
		}
		if l.Kind != "decision" {
			return nil
		}
		e := CerbosEntry{CallID: l.CallID, DecisionIDs: l.Metadata[DecisionIDKey].Values}
		for _, in := range l.CheckResources.Inputs {
			e.RequestIDs = append(e.RequestIDs, in.RequestID)
		}
		out = append(out, e)
		return nil
	})
	return out, end, err
}

func readLines(path string, offset int64, each func([]byte) error) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return offset, nil
	}
	if err != nil {
		return offset, fmt.Errorf("decision log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, fmt.Errorf("decision log %s: %w", path, err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	end := offset
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return end, nil // an unterminated line is still being written
		}
		if err != nil {
			return end, fmt.Errorf("decision log %s: %w", path, err)
		}
		end += int64(len(line))
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		if err := each(line); err != nil {
			return end, fmt.Errorf("%s at byte %d: %w", path, end, err)
		}
	}
}
