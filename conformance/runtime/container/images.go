package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/hopguard/hopguard/conformance/env"
)

// Official images of the third-party tools, the defaults wherever they can be pulled.
var officialImages = map[string]string{
	"cerbos":       "ghcr.io/cerbos/cerbos:0.55.0",
	"envoy":        "envoyproxy/envoy:v1.40.0",
	"agentgateway": "cr.agentgateway.dev/agentgateway:v1.4.1",
}

// LocalImage is the name docker/build-images.sh gives the image of a program ("synapse",
// "cerbos"): hopguard/<name>:dev.
func LocalImage(name string) string { return "hopguard/" + name + ":dev" }

// ProgramName is the short name of a program: the tool ("envoy") or the last element of the
// package path ("./synapse/cmd/synapse" is "synapse").
func ProgramName(p env.Program) (string, error) {
	switch {
	case p.Tool != "":
		return p.Tool, nil
	case p.Package != "":
		return path.Base(p.Package), nil
	default:
		return "", fmt.Errorf("%s: the container runtime runs images, and an executable path has none", p)
	}
}

// ImageEnv is the environment variable that overrides the image of the program called name:
// HOPGUARD_IMAGE_SYNAPSE, HOPGUARD_IMAGE_CERBOS, HOPGUARD_IMAGE_MOCKLLM.
func ImageEnv(name string) string {
	return "HOPGUARD_IMAGE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Images returns the image resolver the runtime uses by default: the variable ImageEnv(name)
// when set, else the tool's official image, else LocalImage(name) for hopguard's own commands.
// lookup reads the environment (os.LookupEnv).
func Images(lookup func(string) (string, bool)) func(env.Program) (Image, error) {
	return func(p env.Program) (Image, error) {
		name, err := ProgramName(p)
		if err != nil {
			return Image{}, err
		}
		variable := ImageEnv(name)
		if ref, ok := lookup(variable); ok {
			if strings.TrimSpace(ref) == "" {
				return Image{}, errors.New(variable + " is set but empty")
			}
			return Image{Ref: ref, Variable: variable}, nil
		}
		if ref, ok := officialImages[name]; ok {
			return Image{Ref: ref, Variable: variable, Official: true}, nil
		}
		return Image{Ref: LocalImage(name), Variable: variable}, nil
	}
}

// Image is the image a component runs, and how to choose another.
type Image struct {
	Ref string
	// Variable overrides it (HOPGUARD_IMAGE_CERBOS).
	Variable string
	// Official is true for an upstream project's own image, which docker/build-images.sh can
	// stand in for where it cannot be pulled.
	Official bool
}

// missingHint tells the user how to get an image onto the engine, for the error the runtime
// returns instead of pulling.
func (i Image) missingHint(name string) string {
	if name == "agentgateway" {
		return fmt.Sprintf("`make tools` installs agentgateway v1.4.1 into bin/ (from HOPGUARD_AGENTGATEWAY=<a binary, or an .xz of one> or from %s where a Docker engine can pull it) and docker/build-images.sh builds %s from it; or `docker pull %s` and set %s to it",
			officialImages[name], LocalImage(name), officialImages[name], i.Variable)
	}
	if i.Official {
		return fmt.Sprintf("`docker pull %s` where a registry is reachable, or build a local stand-in with docker/build-images.sh and set %s=%s",
			i.Ref, i.Variable, LocalImage(name))
	}
	return fmt.Sprintf("build it with docker/build-images.sh, or set %s to an image that is present", i.Variable)
}

// CheckImage says whether the image of program p (as Images(os.LookupEnv) chooses it) is on
// the engine, and if not how to get it there: for choosing what to run before anything starts.
func CheckImage(ctx context.Context, p env.Program) error {
	image, err := Images(os.LookupEnv)(p)
	if err != nil {
		return err
	}
	docker, err := engine(ctx)
	if err != nil {
		return err
	}
	if _, err := docker.ImageInspect(ctx, image.Ref); err != nil {
		if errdefs.IsNotFound(err) {
			name, _ := ProgramName(p)
			return fmt.Errorf("%s: %w; %s", image.Ref, ErrImageNotPresent, image.missingHint(name))
		}
		return fmt.Errorf("inspect image %s: %w", image.Ref, err)
	}
	return nil
}
