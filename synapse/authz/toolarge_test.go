package authz_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/pdp"
)

// A request Cerbos will not take for its size is the caller's, not an outage: a denial of the
// request (request_too_complex, failure request, the plane's 4xx or MCP denial), no
// pdp_unavailable, no 503, no error logged.
func TestRequestTooLargeForCerbosIsTheRequestsFault(t *testing.T) {
	tooLarge := fmt.Errorf("cerbos CheckResources: %w: %w", pdp.ErrRequestTooLarge,
		status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5500427 vs. 4194304)"))
	for _, tt := range []struct {
		resource, path, body string
		httpStatus           int
	}{
		{"llm", "/v1/chat/completions", checktest.ChatBody("gpt-4o"), 403},
		{"mcp:payments", "/mcp/payments", checktest.ToolCallBody(t, 7, "get_charge", map[string]any{"charge_id": "ch_1001"}), 200},
	} {
		t.Run(tt.resource, func(t *testing.T) {
			f := newFixture(t)
			f.tasks.EXPECT().Get(mock.Anything, "task-1").Return(aliceTask, nil).Once()
			f.pdp.EXPECT().Check(mock.Anything, mock.Anything).Return(nil, tooLarge).Once()
			resp, err := f.svc.Check(context.Background(), checktest.Envoy(tt.resource, "POST", tt.path, f.alice(t, tt.resource), tt.body))
			require.NoError(t, err)
			assertDenied(t, resp, tt.httpStatus)
			rec := f.audit.only(t)
			assert.Equal(t, "request_too_complex", rec.Code)
			assert.Equal(t, "request", rec.Failure)
			assert.NotContains(t, f.logs.String(), "level=ERROR")
		})
	}
}
