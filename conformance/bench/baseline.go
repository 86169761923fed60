package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"

	"go.yaml.in/yaml/v3"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
)

// authzFilter is the HTTP filter a governed Envoy asks synapse with.
const authzFilter = "envoy.filters.http.ext_authz"

// Ungoverned is the baseline gateway: the governed Envoy of conformance/gateways, same binary,
// same flags and the same rendered config, less the ext_authz filter and its per-route
// settings. The difference between the two is what governing a hop costs.
type Ungoverned struct {
	governed gateways.Envoy
}

var _ gateways.Gateway = (*Ungoverned)(nil)

// Name implements gateways.Gateway.
func (*Ungoverned) Name() string { return "envoy-baseline" }

// Detail implements gateways.Gateway.
func (u *Ungoverned) Detail() string { return u.governed.Detail() + ", ext_authz removed" }

// Component implements gateways.Gateway: the governed Envoy's component under another name,
// its config passed through WithoutAuthz.
func (u *Ungoverned) Component(ctx context.Context) (env.Component, error) {
	c, err := u.governed.Component(ctx)
	if err != nil {
		return env.Component{}, err
	}
	return renameComponent(c, u.Name(), func(file string, data []byte) ([]byte, error) {
		if file != gateways.EnvoyConfigFile {
			return data, nil
		}
		return WithoutAuthz(data)
	}), nil
}

// renameComponent returns c under the name to: its command line and files are rendered as c's
// would be, but with to's ports and directory, and each file passes through edit.
func renameComponent(c env.Component, to string, edit func(file string, data []byte) ([]byte, error)) env.Component {
	from := c.Name
	rename := func(l env.Layout) env.Layout { return renamed{Layout: l, from: from, to: to} }
	c.Name = to
	if args := c.Args; args != nil {
		c.Args = func(l env.Layout) []string { return args(rename(l)) }
	}
	files := make([]env.File, 0, len(c.Files))
	for _, f := range c.Files {
		render, name := f.Render, f.Name
		f.Render = func(l env.Layout) ([]byte, error) {
			data, err := render(rename(l))
			if err != nil {
				return nil, err
			}
			return edit(name, data)
		}
		files = append(files, f)
	}
	c.Files = files
	return c
}

// renamed is a layout in which the component from is called to: the governed Envoy's
// description then renders the baseline's own ports and directory.
type renamed struct {
	env.Layout
	from, to string
}

func (r renamed) name(component string) string {
	if component == r.from {
		return r.to
	}
	return component
}

func (r renamed) Addr(component, port string) netip.AddrPort {
	return r.Layout.Addr(r.name(component), port)
}

func (r renamed) Dir(component string) string { return r.Layout.Dir(r.name(component)) }

// WithoutAuthz removes the ext_authz HTTP filter and every route's settings for it from an
// Envoy bootstrap. It fails when there was none to remove, so a changed template cannot turn
// the baseline into a second governed gateway unnoticed.
func WithoutAuthz(bootstrap []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(bootstrap, &doc); err != nil {
		return nil, fmt.Errorf("parse envoy config: %w", err)
	}
	filters, perRoute := strip(&doc)
	// The governed config's comments describe authorization that no longer happens here.
	clearComments(&doc)
	doc.HeadComment = baselineHeader
	if filters == 0 {
		return nil, errors.New("envoy config has no ext_authz filter to remove")
	}
	if perRoute == 0 {
		return nil, errors.New("envoy config has no per-route ext_authz settings to remove")
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode envoy config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode envoy config: %w", err)
	}
	return out.Bytes(), nil
}

// strip walks the document and counts what it removed: ext_authz entries of http_filters, and
// ext_authz keys of typed_per_filter_config (the map goes when it is left empty).
func strip(n *yaml.Node) (filters, perRoute int) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			f, p := strip(c)
			filters, perRoute = filters+f, perRoute+p
		}
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			switch {
			case key.Value == "http_filters" && value.Kind == yaml.SequenceNode:
				before := len(value.Content)
				value.Content = removeNamed(value.Content, authzFilter)
				filters += before - len(value.Content)
			case key.Value == "typed_per_filter_config" && value.Kind == yaml.MappingNode:
				before := len(value.Content)
				value.Content = removeKey(value.Content, authzFilter)
				perRoute += (before - len(value.Content)) / 2
				if len(value.Content) == 0 {
					continue // drop the empty map
				}
			}
			f, p := strip(value)
			filters, perRoute = filters+f, perRoute+p
			kept = append(kept, key, value)
		}
		n.Content = kept
	}
	return filters, perRoute
}

// baselineHeader heads the rendered baseline config.
const baselineHeader = "hopguard's benchmark baseline: the governed Envoy config of gateway-configs/envoy\n" +
	"with its ext_authz filter and per-route ext_authz settings removed (conformance/bench).\n" +
	"Nothing is authorized here: never put it in front of anything but the mocks."

func clearComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		clearComments(c)
	}
}

// removeNamed drops the mappings whose "name" is name.
func removeNamed(items []*yaml.Node, name string) []*yaml.Node {
	kept := items[:0]
	for _, it := range items {
		if it.Kind == yaml.MappingNode && mappingValue(it, "name") == name {
			continue
		}
		kept = append(kept, it)
	}
	return kept
}

// removeKey drops key from a mapping's key/value list.
func removeKey(content []*yaml.Node, key string) []*yaml.Node {
	kept := content[:0]
	for i := 0; i+1 < len(content); i += 2 {
		if content[i].Value == key {
			continue
		}
		kept = append(kept, content[i], content[i+1])
	}
	return kept
}

func mappingValue(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1].Value
		}
	}
	return ""
}
