package bench

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCPU(t *testing.T) {
	// A command name with spaces and a parenthesis must not shift the fields.
	stat := []byte("4242 (syn apse) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 9 0 100 0 0")
	got, err := parseCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, 3800*time.Millisecond, got, "(250 + 130) ticks at 100 Hz")

	_, err = parseCPU([]byte("4242 (short) S 1"))
	assert.ErrorContains(t, err, "fields after the command name")
	_, err = parseCPU([]byte("garbage"))
	assert.ErrorContains(t, err, "no command name")
}

func TestStatusKB(t *testing.T) {
	status := []byte("Name:\tsynapse\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\n")
	rss, err := statusKB(status, "VmRSS:")
	require.NoError(t, err)
	assert.EqualValues(t, 20480<<10, rss)
	_, err = statusKB(status, "VmSwap:")
	assert.ErrorContains(t, err, "no VmSwap: line")
	_, err = statusKB([]byte("VmRSS:\t12 MB\n"), "VmRSS:")
	assert.ErrorContains(t, err, "is not a size in kB")
}

func TestReadUsageOfThisProcess(t *testing.T) {
	u, err := ReadUsage(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, u.RSS)
	assert.GreaterOrEqual(t, u.Peak, u.RSS)
	_, err = ReadUsage(-1)
	assert.Error(t, err)
}
