package gateways_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hopguard/hopguard/conformance/gateways"
)

func TestParseExternal(t *testing.T) {
	tests := []struct {
		value   string
		want    []gateways.External
		wantErr string
	}{
		{value: "", want: nil},
		{value: "mygateway=http://127.0.0.1:8080", want: []gateways.External{{GatewayName: "mygateway", URL: "http://127.0.0.1:8080"}}},
		{value: " a=http://127.0.0.1:1/ , b-2=http://[::1]:2", want: []gateways.External{{GatewayName: "a", URL: "http://127.0.0.1:1"}, {GatewayName: "b-2", URL: "http://[::1]:2"}}},
		{value: "mygateway", wantErr: "want name=http://127.0.0.1:<port>"},
		{value: "envoy=http://127.0.0.1:1", wantErr: `"envoy" is taken`},
		{value: "a=http://127.0.0.1:1,a=http://127.0.0.1:2", wantErr: `"a" is taken`},
		{value: "My_GW=http://127.0.0.1:1", wantErr: "lower-case"},
		{value: "a=https://127.0.0.1:1", wantErr: "want http://"},
		{value: "a=http://127.0.0.1:1/v1", wantErr: "no path"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := gateways.ParseExternal(tt.value)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var plain []gateways.External
			for _, g := range got {
				plain = append(plain, *g)
			}
			assert.Equal(t, tt.want, plain)
		})
	}
}
