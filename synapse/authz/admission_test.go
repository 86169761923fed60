package authz

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type grant struct {
	principal string
	release   func()
	err       error
}

// queueUp has each principal's check wait, in the order given, on an Admission whose every slot
// is held; each grant (or refusal) arrives on the channel.
func queueUp(t *testing.T, a *Admission, ctx context.Context, arrivals []string) chan grant {
	t.Helper()
	grants := make(chan grant, len(arrivals))
	for i, p := range arrivals {
		go func() {
			release, err := a.acquire(ctx, p)
			grants <- grant{p, release, err}
		}()
		require.Eventually(t, func() bool { return waiting(a) == i+1 }, 5*time.Second, time.Millisecond, "%s's check waits", p)
	}
	return grants
}

func waiting(a *Admission) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, q := range a.waiting {
		n += len(q)
	}
	return n
}

func TestAdmissionServesPrincipalsInTurn(t *testing.T) {
	tests := []struct {
		name     string
		arrivals []string
		want     []string
	}{
		{"one principal: first come, first served", []string{"a", "a", "a"}, []string{"a", "a", "a"}},
		{"a flood does not keep another principal waiting behind it", []string{"a", "a", "a", "a", "b"}, []string{"a", "b", "a", "a", "a"}},
		{"three principals take turns", []string{"a", "a", "b", "b", "c"}, []string{"a", "b", "c", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Admission{Slots: 1, MaxWaiting: 10, MaxWait: time.Minute}
			hold, err := a.acquire(context.Background(), "holder")
			require.NoError(t, err)
			grants := queueUp(t, a, context.Background(), tt.arrivals)
			hold()
			var got []string
			for range tt.arrivals {
				g := <-grants
				require.NoError(t, g.err)
				got = append(got, g.principal)
				g.release() // one slot: the next grant comes only now
			}
			assert.Equal(t, tt.want, got)
			assert.Zero(t, a.inUse, "every slot back")
			assert.Zero(t, waiting(a))
		})
	}
}

func TestAdmissionRefusesAFlood(t *testing.T) {
	t.Run("beyond MaxWaiting at once", func(t *testing.T) {
		a := &Admission{Slots: 1, MaxWaiting: 2, MaxWait: time.Minute}
		hold, err := a.acquire(context.Background(), "holder")
		require.NoError(t, err)
		grants := queueUp(t, a, context.Background(), []string{"a", "a"})
		_, err = a.acquire(context.Background(), "a")
		require.ErrorIs(t, err, errPrincipalBusy)
		go func() {
			release, err := a.acquire(context.Background(), "b")
			grants <- grant{"b", release, err}
		}()
		require.Eventually(t, func() bool { return waiting(a) == 3 }, 5*time.Second, time.Millisecond, "another principal still gets in line")
		hold()
		var got []string
		for range 3 {
			g := <-grants
			require.NoError(t, g.err)
			got = append(got, g.principal)
			g.release()
		}
		assert.Equal(t, []string{"a", "b", "a"}, got)
	})
	t.Run("past MaxWait", func(t *testing.T) {
		a := &Admission{Slots: 1, MaxWaiting: 2, MaxWait: 10 * time.Millisecond}
		hold, err := a.acquire(context.Background(), "holder")
		require.NoError(t, err)
		_, err = a.acquire(context.Background(), "a")
		require.ErrorIs(t, err, errPrincipalBusy)
		assert.Zero(t, waiting(a), "a refused check leaves the line")
		hold()
		assert.Zero(t, a.inUse)
	})
	t.Run("the caller leaves", func(t *testing.T) {
		a := &Admission{Slots: 1, MaxWaiting: 2, MaxWait: time.Minute}
		hold, err := a.acquire(context.Background(), "holder")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		grants := queueUp(t, a, ctx, []string{"a"})
		cancel()
		g := <-grants
		require.ErrorIs(t, g.err, context.Canceled)
		assert.Zero(t, waiting(a))
		hold()
		assert.Zero(t, a.inUse)
	})
}

// TestAdmissionBoundsChecksFollowingAnother: checks waiting for an identical check's answer
// take no slot but count against MaxWaiting, with the principal's checks waiting for a slot.
func TestAdmissionBoundsChecksFollowingAnother(t *testing.T) {
	following := func(a *Admission, p string) int {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.following[p]
	}
	a := &Admission{Slots: 1, MaxWaiting: 2, MaxWait: time.Minute}
	hold, err := a.acquire(context.Background(), "holder")
	require.NoError(t, err)
	asked := make(chan struct{})
	followed := make(chan error, 1)
	go func() { followed <- a.follow(context.Background(), "a", asked) }()
	require.Eventually(t, func() bool { return following(a, "a") == 1 }, 5*time.Second, time.Millisecond)
	grants := queueUp(t, a, context.Background(), []string{"a"})

	require.ErrorIs(t, a.follow(context.Background(), "a", asked), errPrincipalBusy, "a third check of a waits: one too many")
	_, err = a.acquire(context.Background(), "a")
	require.ErrorIs(t, err, errPrincipalBusy)
	other := make(chan error, 1)
	go func() { other <- a.follow(context.Background(), "b", asked) }()
	require.Eventually(t, func() bool { return following(a, "b") == 1 }, 5*time.Second, time.Millisecond, "another principal still follows")

	close(asked)
	require.NoError(t, <-followed)
	require.NoError(t, <-other)
	assert.Zero(t, following(a, "a")+following(a, "b"), "a check that got its answer waits no more")
	hold()
	g := <-grants
	require.NoError(t, g.err)
	g.release()
	assert.Zero(t, a.inUse)

	t.Run("past MaxWait", func(t *testing.T) {
		a := &Admission{Slots: 1, MaxWaiting: 2, MaxWait: 10 * time.Millisecond}
		require.ErrorIs(t, a.follow(context.Background(), "a", make(chan struct{})), errPrincipalBusy)
		assert.Zero(t, following(a, "a"))
	})
	t.Run("the caller leaves", func(t *testing.T) {
		a := &Admission{Slots: 1, MaxWaiting: 2, MaxWait: time.Minute}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, a.follow(ctx, "a", make(chan struct{})), context.Canceled)
		assert.Zero(t, following(a, "a"))
	})
}
