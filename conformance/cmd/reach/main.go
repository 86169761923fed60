// Command reach tries to reach each target it is given and prints, per attempt, one JSON line
// saying how far it got. The security suite runs it inside the agent's sandbox
// (conformance/sandbox) to show that nothing but the gateway and the STS's token endpoint
// answers there.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hopguard/hopguard/conformance/sandbox/reach"
	"github.com/hopguard/hopguard/internal/version"
)

const usage = `Usage: reach [--timeout 2s] < attempts.json
       reach --version

Reads a JSON array of attempts from stdin, each
  {"name": "...", "kind": "tcp"|"http", "target": "host:port", "method": "GET", "path": "/"}
  {"name": "...", "kind": "spiffe", "target": "unix:///path/to/workload.sock", "audience": "..."}
tries them in order (a TCP connection, one HTTP request, or a JWT-SVID from the SPIFFE
Workload API) and writes one JSON line per attempt on stdout: the attempt, "connected", the
HTTP "status", the SPIFFE "identity" and "svid" given, and the error that stopped it.
Exit code 0 when every attempt was made (whatever came of it), 1 on unreadable attempts, 2 on
a bad command line.

`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reach", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	timeout := fs.Duration("timeout", 2*time.Second, "bound on each attempt")
	showVersion := version.Flag(fs)
	if code, done := version.ParseCommand(fs, showVersion, "reach", args, stdout, stderr); done {
		return code
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "reach: --timeout must be positive\n")
		return 2
	}
	var attempts []reach.Attempt
	dec := json.NewDecoder(io.LimitReader(stdin, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&attempts); err != nil {
		fmt.Fprintf(stderr, "reach: read the attempts from stdin: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	for _, o := range reach.Try(ctx, attempts, *timeout) {
		if err := enc.Encode(o); err != nil {
			fmt.Fprintf(stderr, "reach: %v\n", err)
			return 1
		}
	}
	return 0
}
