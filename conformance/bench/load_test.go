package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func countingMix(calls *atomic.Int64, failEvery int64) []Request {
	do := func(context.Context) error {
		n := calls.Add(1)
		if failEvery > 0 && n%failEvery == 0 {
			return errors.New("unexpected allow")
		}
		return nil
	}
	return []Request{{Kind: "a", Do: do}, {Kind: "b", Do: do}}
}

func TestOpenLoopSendsExactlyTheScheduledRequests(t *testing.T) {
	var calls atomic.Int64
	out, err := Drive(context.Background(), countingMix(&calls, 4), Load{
		Rate: 2000, Workers: 8, Duration: 50 * time.Millisecond, Warmup: 10 * time.Millisecond, Timeout: 10 * time.Second,
	})
	require.NoError(t, err)
	assert.EqualValues(t, 100, out.Sent, "rate x duration, warmup not counted")
	assert.EqualValues(t, 120, calls.Load(), "warmup requests are sent too")
	assert.Zero(t, out.Unsent)
	assert.Positive(t, out.Failed)
	assert.Equal(t, out.Sent-out.Failed, out.All.Count(), "only successes have a latency")
	assert.Equal(t, out.All.Count(), out.Latency["a"].Count()+out.Latency["b"].Count())
	assert.ElementsMatch(t, []string{"a: unexpected allow", "b: unexpected allow"}, out.Errors, "distinct messages, once each")
	assert.EqualValues(t, out.Sent, out.Lag.Count())
	assert.Positive(t, out.Throughput())
}

func TestOpenLoopCountsWhatItCouldNotSend(t *testing.T) {
	block := make(chan struct{})
	slow := []Request{{Kind: "slow", Do: func(ctx context.Context) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return ctx.Err()
	}}}
	out, err := Drive(context.Background(), slow, Load{Rate: 1000, Workers: 2, Duration: 20 * time.Millisecond, Timeout: 30 * time.Millisecond})
	close(block)
	require.NoError(t, err)
	assert.EqualValues(t, 20, out.Sent+out.Unsent, "every due request is either sent or counted unsent")
	assert.Positive(t, out.Unsent, "two in flight at a time cannot keep up with requests that hang")
	assert.Equal(t, out.Sent, out.Failed)
}

func TestClosedLoopUsesEveryKindInTurn(t *testing.T) {
	var calls atomic.Int64
	out, err := Drive(context.Background(), countingMix(&calls, 0), Load{Workers: 1, Duration: 20 * time.Millisecond, Timeout: time.Second})
	require.NoError(t, err)
	require.Positive(t, out.Sent)
	assert.InDelta(t, out.Latency["a"].Count(), out.Latency["b"].Count(), 1)
	assert.Zero(t, out.Failed)
}

func TestDriveRefusesBadLoads(t *testing.T) {
	var calls atomic.Int64
	_, err := Drive(context.Background(), countingMix(&calls, 0), Load{Rate: -1, Workers: 0})
	require.Error(t, err)
	assert.ErrorContains(t, err, "rate -1 is negative")
	assert.ErrorContains(t, err, "workers 0")
	_, err = Drive(context.Background(), nil, Load{Rate: 1, Workers: 1, Duration: time.Second, Timeout: time.Second})
	assert.ErrorContains(t, err, "empty request mix")
	assert.Zero(t, calls.Load())
}

func TestDriveStopsWithItsContext(t *testing.T) {
	var calls atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Drive(ctx, countingMix(&calls, 0), Load{Rate: 10, Workers: 1, Duration: time.Hour, Timeout: time.Second})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestMergeAddsRounds(t *testing.T) {
	var calls atomic.Int64
	load := Load{Rate: 2000, Workers: 4, Duration: 10 * time.Millisecond, Timeout: time.Second}
	var total Outcome
	for range 3 {
		out, err := Drive(context.Background(), countingMix(&calls, 5), load)
		require.NoError(t, err)
		total.Merge(out)
	}
	assert.EqualValues(t, 60, total.Sent)
	assert.EqualValues(t, 12, total.Failed)
	assert.Equal(t, total.Sent-total.Failed, total.All.Count())
	assert.Equal(t, total.All.Count(), total.Latency["a"].Count()+total.Latency["b"].Count())
	assert.EqualValues(t, 60, total.Lag.Count())
	assert.Len(t, total.Errors, 2, "the same messages are not repeated")
}
