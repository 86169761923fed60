package security_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// childProcess finds the process this test binary started (the runtime starts every component
// as its child) whose command line holds arg. Only such a process is ever signalled.
func childProcess(arg string) (int, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	me := os.Getpid()
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		ppid, _, err := procStat(pid)
		if err != nil || ppid != me {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(cmdline, []byte{0}) {
			if string(a) == arg {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no child process has the argument %q", arg)
}

// procStat returns a process's parent and its state ('R', 'S', 'T' for stopped, ...).
func procStat(pid int) (ppid int, state byte, err error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, 0, errors.New("malformed stat")
	}
	fields := bytes.Fields(raw[i+1:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, errors.New("malformed stat")
	}
	ppid, err = strconv.Atoi(string(fields[1]))
	return ppid, fields[0][0], err
}
