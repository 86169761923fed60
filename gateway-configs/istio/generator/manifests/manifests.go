// Package manifests reads hopguard's Istio manifests (gateway-configs/istio/*.yaml) and parses
// every document strictly into istio.io/api types: an unknown field, kind or version is an error,
// because Istio's own loaders would drop it silently and the gateway would run without it.
package manifests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	meshconfig "istio.io/api/mesh/v1alpha1"
)

// The files of gateway-configs/istio. Every *.yaml there must be one of these: a new manifest
// that nobody parses would otherwise never reach the translation.
const (
	MeshFile   = "mesh.yaml"
	RoutesFile = "synapse-routes.yaml"
)

// ConfigFiles hold the Istio config resources, in the order they are fed to pilot.
var ConfigFiles = []string{
	"gateway.yaml",
	"virtualservice.yaml",
	"serviceentries.yaml",
	"destinationrule.yaml",
	"authorizationpolicy.yaml",
	"envoyfilter.yaml",
}

// Set is everything pilot needs to translate: the MeshConfig and the config resources.
type Set struct {
	// MeshYAML is mesh.yaml as written; pilot applies its own defaults to it.
	MeshYAML string
	// Mesh is MeshYAML parsed strictly.
	Mesh *meshconfig.MeshConfig
	// Objects are the config resources in file order, then document order.
	Objects []Object
	// Routes is synapse's route table for this gateway.
	Routes RouteTable
}

// Load reads and strictly parses every manifest in dir.
func Load(dir string) (*Set, error) {
	if err := checkNoStrayFiles(dir); err != nil {
		return nil, err
	}
	meshYAML, err := os.ReadFile(filepath.Join(dir, MeshFile))
	if err != nil {
		return nil, fmt.Errorf("read mesh config: %w", err)
	}
	mesh, err := ParseMesh(meshYAML)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MeshFile, err)
	}
	set := &Set{MeshYAML: string(meshYAML), Mesh: mesh}
	for _, name := range ConfigFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		objs, err := ParseObjects(name, data)
		if err != nil {
			return nil, err
		}
		set.Objects = append(set.Objects, objs...)
	}
	routes, err := os.ReadFile(filepath.Join(dir, RoutesFile))
	if err != nil {
		return nil, fmt.Errorf("read synapse route table: %w", err)
	}
	if set.Routes, err = ParseRouteTable(routes); err != nil {
		return nil, fmt.Errorf("%s: %w", RoutesFile, err)
	}
	return set, nil
}

// ConfigString is the config resources as one multi-document YAML stream, the form pilot's
// test server parses (FakeOptions.ConfigString).
func (s *Set) ConfigString() string {
	docs := make([]string, 0, len(s.Objects))
	for _, o := range s.Objects {
		docs = append(docs, o.YAML)
	}
	return strings.Join(docs, "\n---\n")
}

// Without returns a copy of the set with every object of the given kind left out.
func (s *Set) Without(kind string) *Set {
	out := *s
	out.Objects = slices.DeleteFunc(slices.Clone(s.Objects), func(o Object) bool { return o.Kind == kind })
	return &out
}

// Find returns the objects of one kind.
func (s *Set) Find(kind string) []Object {
	var out []Object
	for _, o := range s.Objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func checkNoStrayFiles(dir string) error {
	known := append([]string{MeshFile, RoutesFile}, ConfigFiles...)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list manifests: %w", err)
	}
	var errs []error
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		if !slices.Contains(known, e.Name()) {
			errs = append(errs, fmt.Errorf("%s is not a known manifest: add it to manifests.ConfigFiles or remove it", e.Name()))
		}
	}
	return errors.Join(errs...)
}
