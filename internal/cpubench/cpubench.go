// Package cpubench runs a benchmark's call one at a time and several at once, and reports the
// process's CPU time per call beside the wall time: on a shared machine the CPU time is the
// figure other work moves least. For benchmarks only (it imports testing).
package cpubench

import (
	"syscall"
	"testing"
	"time"
)

// SerialAndParallel benchmarks call as the sub-benchmarks "serial" and "parallel" (four
// goroutines per GOMAXPROCS), each reporting allocations and "cpu-ns/op".
func SerialAndParallel(b *testing.B, call func() error) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime(b)
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		start := cpuTime(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	})
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
