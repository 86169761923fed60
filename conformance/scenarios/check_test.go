package scenarios

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hopguard/hopguard/agent/denial"
)

func TestUnmarkedGatewayReplyIsRecognisedOnlyWhereExpected(t *testing.T) {
	wanted := Step{Want: Want{Deny: true, Status: 503, NoAudit: true, GatewayReply: true}}
	failed := outcome{err: errors.New("503 Service Unavailable")}
	bare := []response{{status: 503}}
	unmarkedGateway := Env{UnmarkedFailClosed: true}
	for name, tc := range map[string]struct {
		env  Env
		step Step
		out  outcome
		seen []response
		want bool
	}{
		"istio's bare 503 while synapse is down": {env: unmarkedGateway, step: wanted, out: failed, seen: bare, want: true},
		"a gateway that marks its reply":         {env: Env{}, step: wanted, out: failed, seen: bare},
		"a step that wants synapse's own denial": {env: unmarkedGateway, step: Step{Want: Want{Deny: true, Status: 503}}, out: failed, seen: bare},
		"another status":                         {env: unmarkedGateway, step: wanted, out: failed, seen: []response{{status: 502}}},
		"one of several responses differs":       {env: unmarkedGateway, step: wanted, out: failed, seen: []response{{status: 503}, {status: 200}}},
		"synapse answered (a decision id)":       {env: unmarkedGateway, step: wanted, out: failed, seen: []response{{status: 503, decisionID: "d-1"}}},
		"a marked denial is a denial already":    {env: unmarkedGateway, step: wanted, out: outcome{denial: &denial.Denial{}}, seen: []response{{status: 503, denied: true}}},
		"the hop went through":                   {env: unmarkedGateway, step: wanted, out: outcome{}, seen: []response{{status: 503}}},
		"nothing was seen":                       {env: unmarkedGateway, step: wanted, out: failed},
		"no status wanted":                       {env: unmarkedGateway, step: Step{Want: Want{Deny: true, GatewayReply: true}}, out: failed, seen: bare},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, unmarkedGatewayReply(tc.env, tc.step, tc.out, tc.seen))
		})
	}
}
