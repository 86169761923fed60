package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	assert.Equal(t, 1, parentOf(stat))

	_, err = parseCPU([]byte("4242 (short) S 1"))
	assert.ErrorContains(t, err, "fields after the command name")
	_, err = parseCPU([]byte("garbage"))
	assert.ErrorContains(t, err, "no command name")
	assert.Equal(t, -1, parentOf([]byte("garbage")))
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

func TestChildrenByDirFindsAComponentByItsDirectory(t *testing.T) {
	run := t.TempDir()
	dir := filepath.Join(run, "synapse")
	require.NoError(t, os.Mkdir(dir, 0o755))
	cmd := exec.Command("sleep", "30")
	cmd.Dir = dir
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	got, err := ChildrenByDir(run)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"synapse": cmd.Process.Pid}, got)

	loads := NewMonitor(got).Watch(context.Background(), func(context.Context) {})
	require.Contains(t, loads, "synapse")
	assert.Positive(t, loads["synapse"].RSSEndBytes)
}
