package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLastLines(t *testing.T) {
	dir := t.TempDir()
	var long []string
	for i := 1; i <= 30; i++ {
		long = append(long, fmt.Sprintf("line %d", i))
	}
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{name: "short log quoted whole", content: "started\nfailed: port in use\n", want: "started\nfailed: port in use"},
		{name: "long log quoted from its end", content: strings.Join(long, "\n"), want: strings.Join(long[10:], "\n")},
		{name: "empty log", content: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".log")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			assert.Equal(t, "last lines of "+path+":\n"+tt.want, LastLines(path))
		})
	}
	t.Run("unreadable log says so", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.log")
		assert.Contains(t, LastLines(missing), "(cannot read "+missing)
	})
}
