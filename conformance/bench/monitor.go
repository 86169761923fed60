package bench

import (
	"context"
	"maps"
	"sync"
	"time"
)

// ProcessLoad is what one process used during a step.
type ProcessLoad struct {
	// CPUPercent is CPU time over wall time: 100 is one core busy throughout.
	CPUPercent float64 `json:"cpu_percent"`
	// RSSMaxBytes is the largest resident set sampled during the step.
	RSSMaxBytes uint64 `json:"rss_max_bytes"`
	// RSSEndBytes is the resident set at the end of the step.
	RSSEndBytes uint64 `json:"rss_end_bytes"`
}

// monitorInterval is how often resident memory is sampled; CPU time is read at the ends.
const monitorInterval = 100 * time.Millisecond

// Monitor watches named processes while a step runs.
type Monitor struct {
	pids map[string]int
}

// NewMonitor watches the processes named in pids (name -> pid).
func NewMonitor(pids map[string]int) *Monitor { return &Monitor{pids: maps.Clone(pids)} }

// Watch runs step and reports what each process used meanwhile. A process that cannot be read
// (it exited) is left out.
func (m *Monitor) Watch(ctx context.Context, step func(context.Context)) map[string]ProcessLoad {
	startUse := m.read()
	began := time.Now()

	var mu sync.Mutex
	rssMax := map[string]uint64{}
	sample := func() {
		for name, u := range m.read() {
			mu.Lock()
			rssMax[name] = max(rssMax[name], u.RSS)
			mu.Unlock()
		}
	}
	sample()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(monitorInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	step(ctx)
	close(done)
	wg.Wait()

	endUse := m.read()
	wall := time.Since(began)
	out := map[string]ProcessLoad{}
	for name, end := range endUse {
		start, ok := startUse[name]
		if !ok {
			continue
		}
		out[name] = ProcessLoad{
			CPUPercent:  100 * (end.CPU - start.CPU).Seconds() / wall.Seconds(),
			RSSMaxBytes: max(rssMax[name], end.RSS),
			RSSEndBytes: end.RSS,
		}
	}
	return out
}

func (m *Monitor) read() map[string]Usage {
	out := make(map[string]Usage, len(m.pids))
	for name, pid := range m.pids {
		if u, err := ReadUsage(pid); err == nil {
			out[name] = u
		}
	}
	return out
}
