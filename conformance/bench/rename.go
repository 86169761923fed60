package bench

import (
	"fmt"
	"net/netip"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/stack"
)

// stackComponent is the component of hopguard's stack called name, as secrets make it: what
// the bench runs a second one of beside it, renamed.
func stackComponent(secrets stack.Secrets, name string) (env.Component, error) {
	desc, err := stack.New(stack.Options{Secrets: secrets})
	if err != nil {
		return env.Component{}, err
	}
	c, ok := desc.Component(name)
	if !ok {
		return env.Component{}, fmt.Errorf("the stack has no %s component", name)
	}
	return c, nil
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
	trees := make([]env.Tree, 0, len(c.Trees))
	for _, t := range c.Trees {
		from := t.From
		t.From = func(l env.Layout) string { return from(rename(l)) }
		trees = append(trees, t)
	}
	c.Trees = trees
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
