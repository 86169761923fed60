package version

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ParseCommand parses a command's flags, fs holding the --version flag of Flag in showVersion,
// and says whether the command is done before it starts, with its exit code: --help (0; fs has
// printed the usage), a bad flag (2; fs has said why), --version (0, after the version line on
// stdout) or positional arguments (2). name prefixes the messages.
func ParseCommand(fs *flag.FlagSet, showVersion *bool, name string, args []string, stdout, stderr io.Writer) (exit int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if *showVersion {
		fmt.Fprintln(stdout, Line(name))
		return 0, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q (see --help)\n", name, fs.Args())
		return 2, true
	}
	return 0, false
}
