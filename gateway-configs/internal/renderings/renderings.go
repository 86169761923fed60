// Package renderings writes a gateway's committed renderings: the generators that go generate
// runs in gateway-configs/envoy and gateway-configs/agentgateway are each one call of Main.
package renderings

import (
	"fmt"
	"os"
)

// Write renders each of examples, by file name, with render and writes it to that file (in
// the current folder, the package's own under go generate).
func Write[P any](examples map[string]P, render func(P) ([]byte, error)) error {
	for file, params := range examples {
		config, err := render(params)
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, config, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Main is Write for a command's main: on an error it prints it and exits 1.
func Main[P any](examples map[string]P, render func(P) ([]byte, error)) {
	if err := Write(examples, render); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
