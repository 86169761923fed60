package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// RouteTable is synapse's route table for a gateway that sends no context extensions: it maps
// a request path to the resource the request is for. It is written here so that a test can hold
// it against the VirtualService; synapse reads the same file.
type RouteTable struct {
	Routes []Route `json:"routes"`
}

// Route maps every path that starts with PathPrefix to Resource.
type Route struct {
	PathPrefix string `json:"path_prefix"`
	Resource   string `json:"resource"`
}

// ParseRouteTable parses a route table strictly.
func ParseRouteTable(data []byte) (RouteTable, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return RouteTable{}, err
	}
	var rt RouteTable
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rt); err != nil {
		return RouteTable{}, fmt.Errorf("parse route table: %w", err)
	}
	if len(rt.Routes) == 0 {
		return RouteTable{}, errors.New("route table has no routes")
	}
	for i, r := range rt.Routes {
		if !strings.HasPrefix(r.PathPrefix, "/") || r.Resource == "" {
			return RouteTable{}, fmt.Errorf("route %d: path_prefix must start with / and resource must be set", i)
		}
	}
	return rt, nil
}

// Resolve returns the resource of the first route whose prefix the path (query string removed)
// starts with.
func (rt RouteTable) Resolve(path string) (string, bool) {
	path, _, _ = strings.Cut(path, "?")
	for _, r := range rt.Routes {
		if strings.HasPrefix(path, r.PathPrefix) {
			return r.Resource, true
		}
	}
	return "", false
}
