package authz

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The budget's clock is the now each spend is given, so these steps are exact; only a spend
// that waits sleeps, for its (short) delay.
func TestBudget(t *testing.T) {
	epoch := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	type spend struct {
		at        time.Duration // after epoch
		principal string
		cost      int
		wantErr   error
	}
	// 1000 bytes a second, a burst of 100, a wait of at most 20 ms: 20 bytes of debt at most.
	tests := []struct {
		name   string
		spends []spend
	}{
		{name: "within the burst at once", spends: []spend{
			{0, "a", 60, nil}, {0, "a", 40, nil},
		}},
		{name: "over it, waits for what the rate brings within the wait", spends: []spend{
			{0, "a", 100, nil}, {0, "a", 10, nil},
		}},
		{name: "over it beyond the wait, refused and not charged", spends: []spend{
			{0, "a", 100, nil}, {0, "a", 50, errOverBudget}, {20 * time.Millisecond, "a", 20, nil},
		}},
		{name: "the budget comes back with time", spends: []spend{
			{0, "a", 100, nil}, {100 * time.Millisecond, "a", 100, nil},
		}},
		{name: "a check over the burst is charged the burst", spends: []spend{
			{0, "a", 1 << 20, nil}, {0, "a", 50, errOverBudget}, {100 * time.Millisecond, "a", 100, nil},
		}},
		{name: "each principal has its own", spends: []spend{
			{0, "a", 100, nil}, {0, "b", 100, nil}, {0, "a", 50, errOverBudget},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBudget(1000, 100, 20*time.Millisecond, 10)
			require.NoError(t, err)
			for i, s := range tt.spends {
				err := b.spend(context.Background(), s.principal, s.cost, epoch.Add(s.at))
				assert.ErrorIs(t, err, s.wantErr, "spend %d: %+v", i, s)
				if s.wantErr == nil {
					assert.NoError(t, err, "spend %d: %+v", i, s)
				}
			}
		})
	}
}

func TestBudgetRefundsACallerThatLeaves(t *testing.T) {
	b, err := NewBudget(1000, 100, time.Minute, 10)
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, b.spend(context.Background(), "a", 100, now))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err = b.spend(ctx, "a", 100, now) // would wait 100 ms

	require.ErrorIs(t, err, context.Canceled)
	limiter, ok := b.principals.Get("a")
	require.True(t, ok)
	assert.InDelta(t, 0, limiter.TokensAt(now), 1, "the reservation was given back")
}

func TestNewBudgetRefusesNonsense(t *testing.T) {
	for _, args := range [][4]int{{0, 1, 1, 1}, {1, 0, 1, 1}, {1, 1, 0, 1}, {1, 1, 1, 0}} {
		_, err := NewBudget(args[0], args[1], time.Duration(args[2]), args[3])
		assert.Error(t, err, "%v", args)
	}
}
