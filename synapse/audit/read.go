package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ReadLog returns the records of the audit log at path from byte offset on, and the offset after
// the last complete line: a line still being written (no newline yet) is left for the next
// read, so a reader that follows a live log passes the returned offset back in. A log that does
// not exist yet has no records. A complete line that is not a record is an error: synapse
// writes whole lines only.
func ReadLog(path string, offset int64) ([]Record, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, offset, nil
	}
	if err != nil {
		return nil, offset, fmt.Errorf("read audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, offset, fmt.Errorf("read audit log %s: %w", path, err)
	}
	var out []Record
	r := bufio.NewReaderSize(f, 64<<10)
	end := offset
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out, end, nil
		}
		if err != nil {
			return out, end, fmt.Errorf("read audit log %s: %w", path, err)
		}
		end += int64(len(line))
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return out, end, fmt.Errorf("audit log %s at byte %d: %w", path, end, err)
		}
		out = append(out, rec)
	}
}
