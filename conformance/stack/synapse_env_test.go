package stack

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSynapseEnvLimitsSynapseToOnePOnSmallMachines(t *testing.T) {
	tests := []struct {
		cpus int
		want []string
	}{
		{cpus: 1, want: []string{"GOMAXPROCS=1"}},
		{cpus: 2, want: []string{"GOMAXPROCS=1"}},
		{cpus: 3, want: nil},
		{cpus: 64, want: nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, synapseEnv(tt.cpus), "%d cores", tt.cpus)
	}
}
