package bench

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/gateways"
	envoyconfig "github.com/hopguard/hopguard/gateway-configs/envoy"
)

// Ungoverned is the baseline gateway: the governed Envoy of conformance/gateways, same binary,
// same flags and the same config rendered with envoyconfig.Params.WithoutAuthz, which leaves
// out the ext_authz filter and its per-route settings. The difference between the two is what
// governing a hop costs.
type Ungoverned struct {
	governed gateways.Envoy
}

var _ gateways.Gateway = (*Ungoverned)(nil)

// Name implements gateways.Gateway.
func (*Ungoverned) Name() string { return "envoy-baseline" }

// Detail implements gateways.Gateway.
func (u *Ungoverned) Detail() string { return u.governed.Detail() + ", ext_authz removed" }

// Component implements gateways.Gateway: the governed Envoy's component under another name,
// its config rendered without ext_authz.
func (u *Ungoverned) Component(ctx context.Context) (env.Component, error) {
	return ungovernedComponent(ctx, &u.governed, u.Name(), gateways.EnvoyConfigFile, u.renderConfig)
}

func (u *Ungoverned) renderConfig(l env.Layout) ([]byte, error) {
	p := gateways.EnvoyParams(l, u.Name())
	p.WithoutAuthz = true
	return envoyconfig.Render(p)
}

// ungovernedComponent is governed's component under the name to, with its config file rendered
// by render instead: the same gateway, binary and flags, without ext_authz.
func ungovernedComponent(ctx context.Context, governed gateways.Gateway, to, configFile string, render func(env.Layout) ([]byte, error)) (env.Component, error) {
	c, err := governed.Component(ctx)
	if err != nil {
		return env.Component{}, err
	}
	c = renameComponent(c, to)
	for i, f := range c.Files {
		if f.Name == configFile {
			c.Files[i].Render = render
			return c, nil
		}
	}
	return env.Component{}, fmt.Errorf("the governed %s has no %s to render without ext_authz", governed.Name(), configFile)
}

// renameComponent returns c under the name to: its command line and files are rendered as c's
// would be, but with to's ports and directory.
func renameComponent(c env.Component, to string) env.Component {
	from := c.Name
	rename := func(l env.Layout) env.Layout { return renamed{Layout: l, from: from, to: to} }
	c.Name = to
	if args := c.Args; args != nil {
		c.Args = func(l env.Layout) []string { return args(rename(l)) }
	}
	files := make([]env.File, 0, len(c.Files))
	for _, f := range c.Files {
		render := f.Render
		f.Render = func(l env.Layout) ([]byte, error) { return render(rename(l)) }
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
