package container_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/env"
	"github.com/hopguard/hopguard/conformance/runtime/container"
)

func TestImages(t *testing.T) {
	vars := map[string]string{
		"HOPGUARD_IMAGE_ENVOY":   "hopguard/envoy:dev",
		"HOPGUARD_IMAGE_MOCKMCP": "registry.example/mockmcp:1",
		"HOPGUARD_IMAGE_EMPTY":   " ",
	}
	images := container.Images(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	tests := []struct {
		program env.Program
		want    container.Image
		wantErr string
	}{
		{
			program: env.Program{Tool: "cerbos"},
			want:    container.Image{Ref: "ghcr.io/cerbos/cerbos:0.55.0", Variable: "HOPGUARD_IMAGE_CERBOS", Official: true},
		},
		{
			program: env.Program{Tool: "agentgateway"},
			want:    container.Image{Ref: "cr.agentgateway.dev/agentgateway:v1.4.1", Variable: "HOPGUARD_IMAGE_AGENTGATEWAY", Official: true},
		},
		{
			program: env.Program{Tool: "envoy"},
			want:    container.Image{Ref: "hopguard/envoy:dev", Variable: "HOPGUARD_IMAGE_ENVOY"},
		},
		{
			program: env.Program{Package: "./synapse/cmd/synapse"},
			want:    container.Image{Ref: "hopguard/synapse:dev", Variable: "HOPGUARD_IMAGE_SYNAPSE"},
		},
		{
			program: env.Program{Package: "./mockservers/cmd/mockmcp"},
			want:    container.Image{Ref: "registry.example/mockmcp:1", Variable: "HOPGUARD_IMAGE_MOCKMCP"},
		},
		{program: env.Program{Tool: "empty"}, wantErr: "HOPGUARD_IMAGE_EMPTY is set but empty"},
		{program: env.Program{Path: "/usr/bin/true"}, wantErr: "an executable path has none"},
	}
	for _, tt := range tests {
		t.Run(tt.program.String(), func(t *testing.T) {
			got, err := images(tt.program)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestImageEnv(t *testing.T) {
	assert.Equal(t, "HOPGUARD_IMAGE_STS_EXPIRED", container.ImageEnv("sts-expired"))
}
