package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUnretryableWantsEveryDenialMarkedNotToRetry(t *testing.T) {
	marked := response{status: 503, denied: true, shouldRetry: "false"}
	for name, tc := range map[string]struct {
		seen []response
		want bool
	}{
		"the gateway's own fail-closed 503":       {seen: []response{marked}, want: true},
		"synapse's 503 with a decision id":        {seen: []response{{status: 503, denied: true, decisionID: "d-1", shouldRetry: "false"}}, want: true},
		"a response before the denial is not one": {seen: []response{{status: 200}, marked}, want: true},
		"a bare 503, as Istio sent without marks": {seen: []response{{status: 503}}},
		"denied but retryable":                    {seen: []response{{status: 503, denied: true}}},
		"x-should-retry: true":                    {seen: []response{{status: 503, denied: true, shouldRetry: "true"}}},
		"x-should-retry sent twice":               {seen: []response{{status: 503, denied: true, shouldRetry: "false,false"}}},
		"one of several denials lacks the header": {seen: []response{marked, {status: 503, denied: true}}},
		"x-should-retry false without a denial":   {seen: []response{{status: 503, shouldRetry: "false"}}},
		"nothing was seen":                        {},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, unretryable(tc.seen))
		})
	}
}
