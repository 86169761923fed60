package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/config"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
	"github.com/hopguard/hopguard/synapse/tasks"
	"github.com/hopguard/hopguard/synapse/tasks/pgstore/pgtest"
)

// TestReplicasShareRevocations: two synapses on one PostgreSQL task registry. A task revoked
// through one replica's admin API is denied at the next check through the other, decision
// cache or not; with PostgreSQL down, task-bound checks fail closed
// (task_registry_unavailable), and they are decided again once it is back, with no restart.
func TestReplicasShareRevocations(t *testing.T) {
	cerbos := cerbostest.Start(t, cerbostest.Options{})
	iss := identitytest.NewIssuer(t)
	pg := pgtest.Start(t)
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	require.NoError(t, os.WriteFile(dsnFile, []byte(pg.DSN()+"&connect_timeout=1\n"), 0o600))
	replica := func() *synapse {
		cfg := testConfig(t, cerbos.GRPCAddr, iss.JWKSURL())
		cfg.Tasks.Backend, cfg.Tasks.PostgresDSNFile = config.TasksPostgres, dsnFile
		require.NoError(t, cfg.Validate())
		return startSynapse(t, cfg)
	}
	one, two := replica(), replica()

	worker := person{"alice", "tier-1-support", "support-agent", "task-shared", "T-1001"}
	_, err := one.admin.Create(context.Background(), tasks.NewTask{ID: worker.task, Principal: worker.sub, AgentID: worker.agent, TicketID: worker.ticket})
	require.NoError(t, err)
	token := iss.Mint(t, identitytest.Token{Subject: worker.sub, Audience: "llm", Roles: []string{worker.role},
		AgentID: worker.agent, HarnessVersion: "test-1", TaskID: worker.task})
	call := func(s *synapse) *authv3.CheckResponse {
		return s.check(t, checktest.Envoy("llm", "POST", "/v1/chat/completions", token, checktest.ChatBody("gpt-4o-mini")))
	}
	for range 2 { // the second from the decision cache
		require.Equal(t, int32(codes.OK), call(two).GetStatus().GetCode(), "a task created through one replica is seen by the other")
	}

	_, err = one.admin.Revoke(context.Background(), worker.task)
	require.NoError(t, err)
	resp := call(two)
	require.NotNil(t, resp.GetDeniedResponse(), "revoked through one replica, allowed through the other")
	assert.Equal(t, "task_not_active", deniedOutput(t, resp)["code"])

	pg.Stop()
	for _, s := range []*synapse{one, two} {
		resp := call(s)
		require.NotNil(t, resp.GetDeniedResponse(), "PostgreSQL down: fail closed")
		assert.Equal(t, "task_registry_unavailable", deniedOutput(t, resp)["code"])
	}
	pg.Start()
	resp = call(two)
	require.NotNil(t, resp.GetDeniedResponse())
	assert.Equal(t, "task_not_active", deniedOutput(t, resp)["code"], "decided again once PostgreSQL is back, no revocation lost")
}
