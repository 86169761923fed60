package bench

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// events records, in order, what happened to the upstreams: a reset or a target's request.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, what)
}

// runs is the log with each run of the same event told once.
func (e *events) runs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Compact(slices.Clone(e.log))
}

func recordingTarget(id string, ev *events) target {
	return target{id: id, mix: []Request{{Kind: "hop", Do: func(context.Context) error {
		ev.add(id)
		return nil
	}}}}
}

func shortRounds() Options {
	return Options{Step: 60 * time.Millisecond, Rounds: 2, Warmup: 5 * time.Millisecond, Timeout: time.Second, MaxInFlight: 4, SaturationWorkers: 2}
}

func TestEveryRoundStartsFromTheUpstreamsSeedState(t *testing.T) {
	ev := &events{}
	reset := func(context.Context) error { ev.add("reset"); return nil }
	targets := []target{recordingTarget("a", ev), recordingTarget("b", ev)}

	steps, err := measureLoad(t.Context(), NewMonitor(nil), nil, reset, targets, 200, shortRounds())

	require.NoError(t, err)
	require.Len(t, steps, 2)
	assert.Equal(t, []string{"reset", "a", "reset", "b", "reset", "a", "reset", "b"}, ev.runs(),
		"b must not be measured on what a's round left in the upstreams")
}

func TestAFailedResetStopsTheStepBeforeAnyRequest(t *testing.T) {
	ev := &events{}
	reset := func(context.Context) error { return errors.New("connection refused") }

	_, err := measureLoad(t.Context(), NewMonitor(nil), nil, reset, []target{recordingTarget("a", ev)}, 200, shortRounds())

	require.Error(t, err)
	assert.ErrorContains(t, err, "before target a")
	assert.ErrorContains(t, err, "connection refused")
	assert.Empty(t, ev.runs(), "no request may be measured on upstreams in an unknown state")
}

type fakeUpstream struct {
	name string
	ev   *events
	err  error
}

func (f fakeUpstream) Reset(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("reset without a deadline")
	}
	f.ev.add(f.name)
	return f.err
}

func TestResetUpstreamsResetsEachInTurnAndNamesTheOneThatFailed(t *testing.T) {
	ev := &events{}
	ok := resetUpstreams(map[string]fakeUpstream{
		"mcp:tickets": {name: "mcp:tickets", ev: ev},
		"llm":         {name: "llm", ev: ev},
		"mcp:crm":     {name: "mcp:crm", ev: ev},
	})
	require.NoError(t, ok(t.Context()))
	assert.Equal(t, []string{"llm", "mcp:crm", "mcp:tickets"}, ev.runs())

	failing := resetUpstreams(map[string]fakeUpstream{
		"llm":         {name: "llm", ev: ev},
		"mcp:tickets": {name: "mcp:tickets", ev: ev, err: errors.New("500 Internal Server Error")},
	})
	err := failing(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "mcp:tickets")
	assert.ErrorContains(t, err, "500 Internal Server Error")
}
