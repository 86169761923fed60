package gateways

import (
	"context"
	"errors"

	"github.com/hopguard/hopguard/conformance/env"
)

// Pending is a gateway hopguard targets but cannot run yet: it appears in the report as
// "not run", with the reason, so the matrix never hides a missing column.
type Pending struct {
	GatewayName string
	Reason      string
}

var _ Gateway = Pending{}

// Name implements Gateway.
func (p Pending) Name() string { return p.GatewayName }

// Detail implements Gateway.
func (p Pending) Detail() string { return "" }

// Component implements Gateway: it always fails with the reason.
func (p Pending) Component(context.Context) (env.Component, error) {
	return env.Component{}, errors.New(p.Reason)
}
