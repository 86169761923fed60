package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1"
	networkingalpha "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1"
	"sigs.k8s.io/yaml"
)

// Object is one Kubernetes-style Istio resource.
type Object struct {
	// File and Index say where it was written (Index counts documents from 0).
	File  string
	Index int

	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// Spec is the spec parsed into its istio.io/api type (*networking.Gateway, ...).
	Spec proto.Message
	// YAML is the document as written.
	YAML string
}

// Kinds of resources hopguard writes, and the istio.io/api type of each spec. Anything else is
// rejected: hopguard does not rely on kinds it does not test.
var specTypes = map[string]func() proto.Message{
	"networking.istio.io/v1/Gateway":           func() proto.Message { return &networking.Gateway{} },
	"networking.istio.io/v1/VirtualService":    func() proto.Message { return &networking.VirtualService{} },
	"networking.istio.io/v1/ServiceEntry":      func() proto.Message { return &networking.ServiceEntry{} },
	"networking.istio.io/v1/DestinationRule":   func() proto.Message { return &networking.DestinationRule{} },
	"security.istio.io/v1/AuthorizationPolicy": func() proto.Message { return &security.AuthorizationPolicy{} },
	// EnvoyFilter exists only as v1alpha3.
	"networking.istio.io/v1alpha3/EnvoyFilter": func() proto.Message { return &networkingalpha.EnvoyFilter{} },
}

// The resource kinds, for callers that select objects.
const (
	KindGateway             = "Gateway"
	KindVirtualService      = "VirtualService"
	KindServiceEntry        = "ServiceEntry"
	KindDestinationRule     = "DestinationRule"
	KindAuthorizationPolicy = "AuthorizationPolicy"
	KindEnvoyFilter         = "EnvoyFilter"
)

// strict rejects unknown fields; protojson's zero value already does, spelled out for the reader.
var strict = protojson.UnmarshalOptions{DiscardUnknown: false}

// ParseMesh parses a MeshConfig strictly.
func ParseMesh(data []byte) (*meshconfig.MeshConfig, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return nil, err
	}
	mesh := &meshconfig.MeshConfig{}
	if err := strict.Unmarshal(js, mesh); err != nil {
		return nil, fmt.Errorf("parse MeshConfig: %w", err)
	}
	return mesh, nil
}

// envelope is the Kubernetes part of a resource. Only name and namespace are allowed in
// metadata: labels or annotations could change how Istio treats the resource, and nothing
// here uses them.
type envelope struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   metadata        `json:"metadata"`
	Spec       json.RawMessage `json:"spec"`
}

type metadata struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// ParseObjects parses every document of one multi-document YAML file strictly. Documents that
// hold only comments are skipped.
func ParseObjects(file string, data []byte) ([]Object, error) {
	var objs []Object
	for i, doc := range docSeparator.Split(string(data), -1) {
		obj, ok, err := parseObject(doc)
		if err != nil {
			return nil, fmt.Errorf("%s document %d: %w", file, i, err)
		}
		if !ok {
			continue
		}
		obj.File, obj.Index = file, i
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s: no resources", file)
	}
	return objs, nil
}

func parseObject(doc string) (Object, bool, error) {
	js, err := yamlToJSON([]byte(doc))
	if err != nil {
		return Object{}, false, err
	}
	if string(js) == "null" {
		return Object{}, false, nil
	}
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return Object{}, false, fmt.Errorf("parse resource envelope: %w", err)
	}
	newSpec, ok := specTypes[env.APIVersion+"/"+env.Kind]
	if !ok {
		return Object{}, false, fmt.Errorf("unsupported resource %s %s", env.APIVersion, env.Kind)
	}
	if env.Metadata.Name == "" || env.Metadata.Namespace == "" {
		return Object{}, false, fmt.Errorf("%s: metadata.name and metadata.namespace are required", env.Kind)
	}
	if len(env.Spec) == 0 {
		return Object{}, false, fmt.Errorf("%s %s/%s: spec is required", env.Kind, env.Metadata.Namespace, env.Metadata.Name)
	}
	spec := newSpec()
	if err := strict.Unmarshal(env.Spec, spec); err != nil {
		return Object{}, false, fmt.Errorf("%s %s/%s: parse spec: %w", env.Kind, env.Metadata.Namespace, env.Metadata.Name, err)
	}
	return Object{
		APIVersion: env.APIVersion,
		Kind:       env.Kind,
		Name:       env.Metadata.Name,
		Namespace:  env.Metadata.Namespace,
		Spec:       spec,
		YAML:       strings.TrimSpace(doc) + "\n",
	}, true, nil
}

// yamlToJSON converts YAML to JSON and rejects duplicate keys, which YAML allows and which
// would otherwise let the last one win unseen.
func yamlToJSON(data []byte) ([]byte, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	return js, nil
}
