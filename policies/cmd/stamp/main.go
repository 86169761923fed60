// Command stamp writes the policy set's version into a Cerbos policy bundle, or checks it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hopguard/hopguard/policies/provenance"
)

const usage = `Usage: stamp [--check] [bundle]

Writes the version of the Cerbos policy bundle (default policies/bundle) into its
` + provenance.File + `: the sha256 of every file that decides
(everything but tests/ and that file). Every resource policy outputs it with every
decision, so synapse's audit records and the agent's hops name the policy set that
decided. Run it after changing a policy (make policy-stamp).

With --check it changes nothing and exits 1 when the written version is stale.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stamp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	check := fs.Bool("check", false, "check the written version instead of writing it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "stamp: one bundle at most, got %d\n", fs.NArg())
		fs.Usage()
		return 2
	}
	dir := "policies/bundle"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	if *check {
		if err := provenance.Check(dir); err != nil {
			fmt.Fprintln(stderr, "stamp:", err)
			return 1
		}
		fmt.Fprintln(stdout, "stamp: the version written in", dir, "is current")
		return 0
	}
	version, err := provenance.Stamp(dir)
	if err != nil {
		fmt.Fprintln(stderr, "stamp:", err)
		return 1
	}
	fmt.Fprintf(stdout, "stamp: %s is %s\n", dir, version)
	return 0
}
