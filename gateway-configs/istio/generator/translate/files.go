package translate

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// The files the resources are written to, one per xDS type.
const (
	ListenersFile = "listeners.json"
	RoutesFile    = "routes.json"
	ClustersFile  = "clusters.json"
	EndpointsFile = "endpoints.json"
)

// Files renders the resources as JSON files: each a JSON array of the resources of one type,
// each resource wrapped in google.protobuf.Any (protojson form, `{"@type": ..., ...}`) so a
// reader can unmarshal it with protojson and go-control-plane's types alone. The output is
// byte-for-byte stable: protojson's whitespace is deliberately unstable, so it is re-indented.
func (r *Resources) Files() (map[string][]byte, error) {
	files := map[string][]byte{}
	for name, msgs := range map[string][]proto.Message{
		ListenersFile: asMessages(r.Listeners),
		RoutesFile:    asMessages(r.Routes),
		ClustersFile:  asMessages(r.Clusters),
		EndpointsFile: asMessages(r.Endpoints),
	} {
		data, err := marshalArray(msgs)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		files[name] = data
	}
	return files, nil
}

func asMessages[M proto.Message](in []M) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}

func marshalArray(msgs []proto.Message) ([]byte, error) {
	raw := make([]json.RawMessage, 0, len(msgs))
	for _, m := range msgs {
		a, err := anypb.New(m)
		if err != nil {
			return nil, fmt.Errorf("wrap %s in Any: %w", m.ProtoReflect().Descriptor().FullName(), err)
		}
		js, err := protojson.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
		}
		raw = append(raw, js)
	}
	// Kept readable: regular expressions in routes hold <, > and &, which the default escapes.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(raw); err != nil {
		return nil, fmt.Errorf("join resources: %w", err)
	}
	return out.Bytes(), nil
}
