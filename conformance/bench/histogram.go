package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in buckets whose width grows with the value (log-linear, as
// HdrHistogram does): every recorded value is kept to within 1/128 (< 0.8 %) of itself, in
// constant memory, whatever the range. It is hand-written because no HdrHistogram module is
// among those this project may fetch; it needs no more than this.
//
// A Histogram is not safe for concurrent use.
type Histogram struct {
	counts [bucketCount]uint64
	total  uint64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

const (
	// subBucketBits sets the precision: 2^7 = 128 buckets per power of two.
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits
	// Values below subBuckets nanoseconds are counted exactly; each power of two above has
	// subBuckets buckets, up to the largest int64.
	bucketCount = subBuckets + (63-subBucketBits)*subBuckets
)

// Record adds one latency; a negative one (a clock step) counts as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.total == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.total++
	h.sum += d
}

// Merge adds every value of o.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count is how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Min is the smallest value recorded, exactly.
func (h *Histogram) Min() time.Duration { return h.min }

// Mean is the exact mean.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.sum / time.Duration(h.total)
}

// Quantile returns the value below or at which a fraction q (0..1) of the values lie: the
// highest value its bucket can hold, so it errs high, never low, and never above Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	q = max(0, min(1, q))
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketHigh(i)), h.max)
		}
	}
	return h.max
}

// bucketOf is the index of the bucket holding v.
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	// shift keeps the top subBucketBits+1 bits of v: v>>shift is in [subBuckets, 2*subBuckets).
	shift := bits.Len64(v) - subBucketBits - 1
	return subBuckets + shift*subBuckets + int(v>>shift) - subBuckets
}

// bucketHigh is the largest value bucket i holds.
func bucketHigh(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	shift := (i - subBuckets) / subBuckets
	top := uint64(i-subBuckets-shift*subBuckets) + subBuckets
	return (top+1)<<shift - 1
}
