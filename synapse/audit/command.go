package audit

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

const commandUsage = `Usage: synapse audit [flags] [FILE]

Prints the records of a synapse decision log (NDJSON, one decision per line)
that match every given filter, unchanged, one per line. FILE defaults to
standard input ("-" also means standard input).

Times are RFC 3339 (2026-01-02T15:04:05Z) or a duration before now (15m, 2h).

Examples:
  synapse audit --task task-1 --effect deny synapse-audit.log
  synapse audit --agent triage --since 10m < synapse-audit.log

Flags:
`

// RunCommand runs `synapse audit` with args (after the subcommand name) and
// returns the process exit code: 0 ok, 1 failure, 2 bad usage.
func RunCommand(args []string, stdin io.Reader, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("synapse audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, commandUsage)
		fs.PrintDefaults()
	}
	var f Filter
	var since, until string
	fs.StringVar(&f.Task, "task", "", "only records of this task id")
	fs.StringVar(&f.Agent, "agent", "", "only records of this agent id")
	fs.StringVar(&f.Effect, "effect", "", "only records with this effect: allow or deny")
	fs.StringVar(&since, "since", "", "only records at or after this time")
	fs.StringVar(&until, "until", "", "only records before this time")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "synapse audit: "+format+"\n", a...)
		return 2
	}
	if f.Effect != "" && f.Effect != EffectAllow && f.Effect != EffectDeny {
		return usageErr("--effect must be allow or deny, not %q", f.Effect)
	}
	var err error
	if f.Since, err = parseTime(since, now); err != nil {
		return usageErr("--since: %v", err)
	}
	if f.Until, err = parseTime(until, now); err != nil {
		return usageErr("--until: %v", err)
	}
	if fs.NArg() > 1 {
		return usageErr("at most one log file, got %d", fs.NArg())
	}

	in := stdin
	if path := fs.Arg(0); path != "" && path != "-" {
		file, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "synapse audit: %v\n", err)
			return 1
		}
		defer file.Close()
		in = file
	}
	st, err := FilterLog(in, stdout, f)
	if err != nil {
		fmt.Fprintf(stderr, "synapse audit: %v\n", err)
		return 1
	}
	if st.Skipped > 0 {
		fmt.Fprintf(stderr, "synapse audit: skipped %d lines that are not decision records\n", st.Skipped)
	}
	return 0
}

func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a positive duration", s)
	}
	return now.Add(-d), nil
}
