// Command pause holds a network namespace for a run's containers, as a Kubernetes pod's pause
// container does: the container runtime starts it first with no network but loopback, every
// component's container joins its namespace, and so does the test driver. It does nothing but
// wait, and exits 0 on SIGTERM or SIGINT.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage: pause

Waits until SIGTERM or SIGINT, then exits 0. The container runtime of hopguard's conformance
harness (conformance/runtime/container) runs it in the container that holds a run's network
namespace; it takes no arguments and opens nothing.
`

func main() {
	if len(os.Args) > 1 {
		code := 2
		if arg := os.Args[1]; arg == "-h" || arg == "--help" || arg == "-help" {
			code = 0
		} else {
			fmt.Fprintf(os.Stderr, "pause: unexpected arguments %q\n", os.Args[1:])
		}
		fmt.Fprint(os.Stderr, usage)
		os.Exit(code)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}
