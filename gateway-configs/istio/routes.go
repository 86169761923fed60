package istio

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// RoutesFile is synapse's route table for this gateway.
const RoutesFile = "synapse-routes.yaml"

//go:embed synapse-routes.yaml
var synapseRoutes []byte

// Route is one entry of synapse's route table: the resource of the requests whose path matches
// PathPrefix (synapse's rule: a prefix ending in "/" matches everything below it, any other
// prefix only itself).
type Route struct {
	PathPrefix string `yaml:"path_prefix"`
	Resource   string `yaml:"resource"`
}

// SynapseRoutes returns synapse's route table for the Istio gateway, in file order. Istio sends
// no context extensions, so this table is all that ties a path to a resource; synapse serves
// every gateway with it, and the resource a gateway does send must agree with it.
func SynapseRoutes() ([]Route, error) {
	routes, err := parseRoutes(synapseRoutes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RoutesFile, err)
	}
	return routes, nil
}

func parseRoutes(data []byte) ([]Route, error) {
	var file struct {
		Routes []Route `yaml:"routes"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("parse route table: %w", err)
	}
	if len(file.Routes) == 0 {
		return nil, errors.New("route table has no routes")
	}
	for i, r := range file.Routes {
		if !strings.HasPrefix(r.PathPrefix, "/") || r.Resource == "" {
			return nil, fmt.Errorf("route %d: path_prefix must start with / and resource must be set", i)
		}
	}
	return file.Routes, nil
}
