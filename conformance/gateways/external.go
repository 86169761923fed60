package gateways

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/hopguard/hopguard/conformance/env"
)

// ExternalEnv names the gateways hopguard did not start that the suites verify: a comma-separated
// list of name=URL, each a gateway a user configured in front of the environment `make up`
// published (make conformance EXTERNAL=mygateway=http://127.0.0.1:8080).
const ExternalEnv = "HOPGUARD_EXTERNAL"

// External is a gateway that someone else runs, in front of the environment of `make up`: the
// suites send their requests to URL and judge what comes back, as for the built-in gateways.
type External struct {
	GatewayName string
	URL         string
}

var _ Gateway = (*External)(nil)

// Name implements Gateway.
func (g *External) Name() string { return g.GatewayName }

// Detail implements Gateway.
func (g *External) Detail() string {
	return fmt.Sprintf("an external gateway at %s, in front of the environment of make up", g.URL)
}

// Component implements Gateway: hopguard does not start an external gateway.
func (g *External) Component(context.Context) (env.Component, error) {
	return env.Component{}, errors.New("an external gateway is started by its owner, not by hopguard")
}

// A gateway's name is a report column, a task id part and a directory name: keep it plain.
var externalNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ParseExternal reads ExternalEnv's value: name=URL pairs separated by commas. A name may not be
// one of the built-in gateways'.
func ParseExternal(value string) ([]*External, error) {
	var out []*External
	seen := map[string]bool{}
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, raw, ok := strings.Cut(item, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: %q: want name=http://127.0.0.1:<port>", ExternalEnv, item)
		case !externalNamePattern.MatchString(name):
			return nil, fmt.Errorf("%s: gateway name %q: want lower-case letters, digits and dashes", ExternalEnv, name)
		case seen[name] || isBuiltIn(name):
			return nil, fmt.Errorf("%s: gateway name %q is taken", ExternalEnv, name)
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("%s: %s: %q: want http://<host>:<port> with no path", ExternalEnv, name, raw)
		}
		seen[name] = true
		out = append(out, &External{GatewayName: name, URL: "http://" + u.Host})
	}
	return out, nil
}

func isBuiltIn(name string) bool {
	for _, n := range Names() {
		if n == name {
			return true
		}
	}
	return false
}
