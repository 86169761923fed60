package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hopguard/hopguard/conformance/gateways"
	"github.com/hopguard/hopguard/conformance/netns"
	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/runtime/container"
)

// RuntimeEnv names the runtime a run uses: "process" (the default) or "container".
const RuntimeEnv = "HOPGUARD_RUNTIME"

// ContainerRuntime runs every component in a container of its image
// (conformance/runtime/container): official images for Cerbos, Envoy and agentgateway, and
// hopguard/<command>:dev for hopguard's own, each overridable by HOPGUARD_IMAGE_<NAME>.
// Nothing is pulled: docker/build-images.sh builds the images locally. Run inside the sandbox
// that Isolate made, every container joins the sandbox's loopback-only network namespace;
// otherwise they share the host's network.
func ContainerRuntime(c RuntimeConfig) (runtime.Runtime, error) {
	return container.New(container.Options{Dir: c.Dir, ModuleRoot: c.ModuleRoot, Observe: c.Observe, NetworkHolder: netns.Current().Holder})
}

// RuntimeByName returns the constructor of the runtime called name ("" is the process
// runtime); an unknown name yields a constructor that fails saying which names exist.
func RuntimeByName(name string) func(RuntimeConfig) (runtime.Runtime, error) {
	switch name {
	case "", "process":
		return ProcessRuntime
	case "container":
		return ContainerRuntime
	default:
		return func(RuntimeConfig) (runtime.Runtime, error) {
			return nil, fmt.Errorf("%s=%q: %w", RuntimeEnv, name, CheckRuntimeName(name))
		}
	}
}

// CheckRuntimeName says whether RuntimeByName knows the runtime called name, and if not, which
// names it does know.
func CheckRuntimeName(name string) error {
	switch name {
	case "", "process", "container":
		return nil
	}
	return fmt.Errorf("no runtime %q: want process or container", name)
}

// RuntimeNameFromEnv is the runtime $HOPGUARD_RUNTIME names, "process" when it is unset. The
// conformance suite, the security suite and the demo run on it; gateways.All needs it before
// the runtime exists, and RuntimeByName of it makes the runtime, so both agree.
func RuntimeNameFromEnv() string {
	if name := os.Getenv(RuntimeEnv); name != "" {
		return name
	}
	return "process"
}

// RuntimeFromEnv is RuntimeByName(RuntimeNameFromEnv()), for Options.NewRuntime.
func RuntimeFromEnv() func(RuntimeConfig) (runtime.Runtime, error) {
	return RuntimeByName(RuntimeNameFromEnv())
}

// ReportDir is where the suites run on the runtime called runtimeName keep their reports and
// environments: <module>/out/conformance for the process runtime, and a directory of its own
// below it for any other (out/conformance/container), so that `make test`, which runs the
// suites on both, keeps both reports.
func ReportDir(moduleRoot, runtimeName string) string {
	dir := filepath.Join(moduleRoot, "out", "conformance")
	if runtimeName == "process" {
		return dir
	}
	return filepath.Join(dir, runtimeName)
}

// CanStart says whether gateway g can start on the runtime called runtimeName, as far as can be
// told before anything starts: its component can be described here and, on the container
// runtime, its image is on the engine. The demo chooses its default gateway by it.
func CanStart(ctx context.Context, runtimeName string, g gateways.Gateway) error {
	c, err := g.Component(ctx)
	if err != nil {
		return err
	}
	if runtimeName == "container" {
		return container.CheckImage(ctx, c.Program)
	}
	return nil
}
