package harness

import (
	"fmt"
	"os"

	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/runtime/container"
)

// RuntimeEnv names the runtime a run uses: "process" (the default) or "container".
const RuntimeEnv = "HOPGUARD_RUNTIME"

// ContainerRuntime runs every component in a container of its image on the host's network
// (conformance/runtime/container): official images for Cerbos, Envoy and agentgateway, and
// hopguard/<command>:dev for hopguard's own, each overridable by HOPGUARD_IMAGE_<NAME>.
// Nothing is pulled: docker/build-images.sh builds the images locally.
func ContainerRuntime(c RuntimeConfig) (runtime.Runtime, error) {
	return container.New(container.Options{Dir: c.Dir, ModuleRoot: c.ModuleRoot, Observe: c.Observe})
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
			return nil, fmt.Errorf("%s=%q: want process or container", RuntimeEnv, name)
		}
	}
}

// RuntimeFromEnv is RuntimeByName of $HOPGUARD_RUNTIME, for Options.NewRuntime.
func RuntimeFromEnv() func(RuntimeConfig) (runtime.Runtime, error) {
	return RuntimeByName(os.Getenv(RuntimeEnv))
}
