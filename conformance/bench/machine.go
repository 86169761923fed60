package bench

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	goruntime "runtime"
	"strings"
	"time"
)

// describeMachine reads what the report says about where it ran.
func describeMachine(ctx context.Context, cerbos, envoy string) Machine {
	return Machine{
		CPU:        cpuModel(),
		Cores:      goruntime.NumCPU(),
		Kernel:     firstLine("/proc/sys/kernel/osrelease"),
		Go:         goruntime.Version(),
		Envoy:      envoy,
		Cerbos:     cerbosVersion(ctx, cerbos),
		LoadBefore: loadAverage(),
	}
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(data)) {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown"
}

// loadAverage is the 1, 5 and 15 minute load: on a shared machine, the noise to expect.
func loadAverage() string {
	fields := strings.Fields(firstLine("/proc/loadavg"))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}

func firstLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(line)
}

var versionPattern = regexp.MustCompile(`[0-9]+\.[0-9]+\.[0-9]+`)

func cerbosVersion(ctx context.Context, path string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	if v := versionPattern.FindString(string(out)); v != "" {
		return "Cerbos " + v
	}
	return "unknown"
}
