package bench

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsCoverEveryValueWithinPrecision(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 999_999, 1 << 40, math.MaxInt64} {
		i := bucketOf(v)
		require.Less(t, i, bucketCount, "value %d", v)
		high := bucketHigh(i)
		assert.GreaterOrEqual(t, high, v, "bucket of %d must hold it", v)
		if i > 0 {
			assert.Less(t, bucketHigh(i-1), v, "the bucket before %d must not hold it", v)
		}
		assert.LessOrEqual(t, float64(high-v), float64(v)/subBuckets, "bucket of %d is wider than the precision", v)
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	require.EqualValues(t, 1000, h.Count())
	assert.Equal(t, time.Microsecond, h.Min())
	assert.Equal(t, time.Millisecond, h.Max())
	assert.Equal(t, 500500*time.Nanosecond, h.Mean())
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Microsecond},
		{0.9, 900 * time.Microsecond},
		{0.99, 990 * time.Microsecond},
		{1, time.Millisecond},
		{0, time.Microsecond},
	} {
		got := h.Quantile(tc.q)
		assert.GreaterOrEqual(t, got, tc.want, "q=%v errs high, never low", tc.q)
		assert.LessOrEqual(t, float64(got-tc.want), float64(tc.want)/subBuckets, "q=%v within precision", tc.q)
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Histogram
	assert.Zero(t, h.Quantile(0.99))
	assert.Zero(t, h.Mean())
	h.Record(-time.Second)
	assert.Zero(t, h.Max())
	assert.EqualValues(t, 1, h.Count())
}

func TestMerge(t *testing.T) {
	var a, b, empty Histogram
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(5 * time.Microsecond)
	a.Merge(&b)
	a.Merge(&empty)
	assert.EqualValues(t, 3, a.Count())
	assert.Equal(t, 5*time.Microsecond, a.Min())
	assert.Equal(t, 3*time.Millisecond, a.Max())
	assert.Equal(t, 3*time.Millisecond, a.Quantile(1))
}
