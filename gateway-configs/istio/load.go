package istio

import (
	"bytes"
	"encoding/json"
	"fmt"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// The files the generator writes, one per xDS type.
const (
	listenersFile = "generated/listeners.json"
	routesFile    = "generated/routes.json"
	clustersFile  = "generated/clusters.json"
	endpointsFile = "generated/endpoints.json"
)

const hcmType = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"

// istioOnlyHTTPFilters are HTTP filters that exist only in Istio's Envoy build. They are removed
// before decoding: istio.alpn's config type is defined by neither go-control-plane nor upstream
// Envoy, so nothing downstream of this could even parse it.
var istioOnlyHTTPFilters = map[string]string{
	"istio.metadata_exchange": "Istio-only extension (peer metadata exchange for telemetry); upstream Envoy has no implementation",
	"istio.alpn":              "Istio-only extension (ALPN override for mesh mTLS); its config type is unknown to upstream Envoy and go-control-plane",
}

// load reads pilot's output and decodes it into go-control-plane types, with the Istio-only
// HTTP filters removed.
func load() (*Resources, []Change, error) {
	listenersJSON, changes, err := withoutIstioHTTPFilters(listenersFile)
	if err != nil {
		return nil, nil, err
	}
	res := &Resources{}
	if res.Listeners, err = decodeAll[*listener.Listener](listenersFile, listenersJSON); err != nil {
		return nil, nil, err
	}
	if res.Routes, err = decodeFile[*route.RouteConfiguration](routesFile); err != nil {
		return nil, nil, err
	}
	if res.Clusters, err = decodeFile[*cluster.Cluster](clustersFile); err != nil {
		return nil, nil, err
	}
	if res.Endpoints, err = decodeFile[*endpoint.ClusterLoadAssignment](endpointsFile); err != nil {
		return nil, nil, err
	}
	return res, changes, nil
}

func decodeFile[M proto.Message](name string) ([]M, error) {
	data, err := generated.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return decodeAll[M](name, data)
}

// decodeAll decodes a JSON array of Any-wrapped resources, each of which must be an M.
func decodeAll[M proto.Message](name string, data []byte) ([]M, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := make([]M, 0, len(raw))
	for i, r := range raw {
		a := &anypb.Any{}
		if err := protojson.Unmarshal(r, a); err != nil {
			return nil, fmt.Errorf("%s resource %d: %w", name, i, err)
		}
		var m M
		m = m.ProtoReflect().New().Interface().(M)
		if err := a.UnmarshalTo(m); err != nil {
			return nil, fmt.Errorf("%s resource %d: %w", name, i, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// withoutIstioHTTPFilters returns the listeners file with the Istio-only HTTP filters removed
// from every HTTP connection manager, and a Change for each filter removed.
func withoutIstioHTTPFilters(name string) ([]byte, []Change, error) {
	data, err := generated.ReadFile(name)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep 64-bit values exact
	var listeners []map[string]any
	if err := dec.Decode(&listeners); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	var changes []Change
	for _, l := range listeners {
		for _, fc := range objects(l["filterChains"]) {
			for _, f := range objects(fc["filters"]) {
				hcm, ok := f["typedConfig"].(map[string]any)
				if !ok || hcm["@type"] != hcmType {
					continue
				}
				var kept []any
				for _, hf := range objects(hcm["httpFilters"]) {
					filterName, _ := hf["name"].(string)
					if why, istioOnly := istioOnlyHTTPFilters[filterName]; istioOnly {
						changes = append(changes, Change{
							Resource: fmt.Sprintf("listener %v", l["name"]),
							What:     "removed HTTP filter " + filterName,
							Why:      why,
						})
						continue
					}
					kept = append(kept, hf)
				}
				hcm["httpFilters"] = kept
			}
		}
	}
	out, err := json.Marshal(listeners)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: re-encode: %w", name, err)
	}
	return out, changes, nil
}

// objects returns the JSON objects of a JSON array, skipping anything else.
func objects(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
