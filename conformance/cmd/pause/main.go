// Command pause holds a network namespace for a run's containers, as a Kubernetes pod's pause
// container does: the container runtime starts it first with no network but loopback, every
// component's container joins its namespace, and so does the test driver. It does nothing but
// wait, and exits 0 on SIGTERM or SIGINT.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hopguard/hopguard/internal/version"
)

const usage = `Usage: pause
       pause --version

Waits until SIGTERM or SIGINT, then exits 0. The container runtime of hopguard's conformance
harness (conformance/runtime/container) runs it in the container that holds a run's network
namespace; it takes no arguments and opens nothing. --version prints the version line on
stdout and exits 0.
`

func main() {
	if code, done := answer(os.Args[1:], os.Stdout, os.Stderr); done {
		os.Exit(code)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}

// answer handles a command line that asks for something other than waiting (--help, --version,
// anything unexpected) and returns the exit code and done; with no arguments it returns
// done false: wait.
func answer(args []string, stdout, stderr io.Writer) (code int, done bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch arg := args[0]; {
	case len(args) == 1 && (arg == "-version" || arg == "--version"):
		fmt.Fprintln(stdout, version.Line("pause"))
		return 0, true
	case arg == "-h" || arg == "--help" || arg == "-help":
		fmt.Fprint(stderr, usage)
		return 0, true
	default:
		fmt.Fprintf(stderr, "pause: unexpected arguments %q\n", args)
		fmt.Fprint(stderr, usage)
		return 2, true
	}
}
