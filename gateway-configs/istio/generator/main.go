// Command generator translates hopguard's Istio manifests with Istio's own pilot, offline, and
// writes the xDS resources istiod would push to the ingress gateway as JSON files
// (listeners.json, routes.json, clusters.json, endpoints.json).
//
// It lives in a module of its own because pilot is a heavy build (minutes, gigabytes) that the
// main module must not pay for; the main module reads only the JSON it writes.
//
//	cd gateway-configs/istio/generator
//	go run .            # regenerate ../generated from ../*.yaml
//	go test ./...       # fail if ../generated is not what pilot makes of ../*.yaml today
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/hopguard/hopguard/gateway-configs/istio/generator/manifests"
	"github.com/hopguard/hopguard/gateway-configs/istio/generator/translate"
)

func main() {
	manifestDir := flag.String("manifests", "..", "directory holding mesh.yaml and the Istio manifests")
	outDir := flag.String("out", filepath.Join("..", "generated"), "directory to write the xDS JSON files to")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: go run . [flags]

Runs Istio's pilot translation over the manifests and writes the listeners, routes, clusters and
endpoints it would push to the ingress gateway, one JSON file per type, to the output directory.

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *manifestDir, *outDir); err != nil {
		slog.Error("generate Istio xDS", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, manifestDir, outDir string) error {
	files, err := Generate(manifestDir)
	if err != nil {
		return err
	}
	// A translation is not interruptible; stop before touching the output if asked to.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := os.WriteFile(filepath.Join(outDir, name), files[name], 0o644); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", name, err))
			continue
		}
		slog.Info("wrote", "file", filepath.Join(outDir, name), "bytes", len(files[name]))
	}
	return errors.Join(errs...)
}

// Generate loads the manifests in dir, translates them with pilot and renders the JSON files.
func Generate(dir string) (map[string][]byte, error) {
	set, err := manifests.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load manifests: %w", err)
	}
	res, err := translate.Translate(translate.Input{MeshYAML: set.MeshYAML, Configs: set.ConfigString()})
	if err != nil {
		return nil, err
	}
	return res.Files()
}
