package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux
// architecture Go runs on (the kernel keeps it fixed for user space whatever its own HZ).
const clockTicks = 100

// Usage is what /proc says about one process at one moment.
type Usage struct {
	// CPU is user plus system time since the process started.
	CPU time.Duration
	// RSS is the resident set; Peak is the largest it has been (VmHWM).
	RSS, Peak uint64
}

// ReadUsage reads the CPU time and memory of pid from /proc.
func ReadUsage(pid int) (Usage, error) {
	return readUsage(filepath.Join("/proc", strconv.Itoa(pid)))
}

func readUsage(dir string) (Usage, error) {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Usage{}, fmt.Errorf("read cpu time: %w", err)
	}
	cpu, err := parseCPU(stat)
	if err != nil {
		return Usage{}, fmt.Errorf("%s/stat: %w", dir, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return Usage{}, fmt.Errorf("read memory: %w", err)
	}
	u := Usage{CPU: cpu}
	if u.RSS, err = statusKB(status, "VmRSS:"); err != nil {
		return Usage{}, fmt.Errorf("%s/status: %w", dir, err)
	}
	if u.Peak, err = statusKB(status, "VmHWM:"); err != nil {
		return Usage{}, fmt.Errorf("%s/status: %w", dir, err)
	}
	return u, nil
}

// parseCPU reads utime + stime (fields 14 and 15) of /proc/<pid>/stat. The command name (field
// 2) is in parentheses and may hold spaces, so fields are counted after its closing one.
func parseCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu ticks %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// statusKB reads a "Key:  1234 kB" line of /proc/<pid>/status, in bytes.
func statusKB(status []byte, key string) (uint64, error) {
	for line := range strings.Lines(string(status)) {
		rest, ok := strings.CutPrefix(line, key)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("%s %q is not a size in kB", key, strings.TrimSpace(rest))
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", key, fields[0], err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}
