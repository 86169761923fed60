package app_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/hopguard/hopguard/synapse/app"
	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/identity/identitytest"
	"github.com/hopguard/hopguard/synapse/pdp/cerbostest"
	"github.com/hopguard/hopguard/synapse/respond"
	"github.com/hopguard/hopguard/synapse/tasks"
)

const (
	listTools = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	// ticketTools is the tickets server's answer: the triage agent may read and comment on a
	// ticket, never change one (conformance/security/bypass, hiddenFromTriage).
	ticketTools = `{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"get_ticket"},{"name":"add_comment"},{"name":"update_ticket"}]}}`
	// clientsGrant is a grant header the client sent itself.
	clientsGrant = "AQ-a-grant-the-client-made-up"
)

// grantKeyFile writes a key file as an operator would (`openssl rand -hex 32`).
func grantKeyFile(t *testing.T, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "grant-key")
	require.NoError(t, os.WriteFile(path, []byte(hex.EncodeToString([]byte(key))+"\n"), 0o600))
	return path
}

// forwarded are the headers of the request the gateway forwards once ext_authz allowed it with
// resp: the client's, less what resp removes, with what it sets over them.
func forwarded(t *testing.T, req *authv3.CheckRequest, resp *authv3.CheckResponse) []string {
	t.Helper()
	ok := resp.GetOkResponse()
	require.NotNil(t, ok, "allowed")
	headers := map[string]string{}
	for k, v := range req.GetAttributes().GetRequest().GetHttp().GetHeaders() {
		headers[k] = v
	}
	for _, h := range ok.GetHeaders() {
		headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	for _, name := range ok.GetHeadersToRemove() {
		delete(headers, name)
	}
	var kv []string
	for k, v := range headers {
		kv = append(kv, k, v)
	}
	return kv
}

func headerMap(kv ...string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for i := 0; i < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return m
}

// processList plays one list request and its answer through s's response path as a gateway
// would, and returns what s answered to each message.
func (s *synapse) processList(t *testing.T, requestHeaders []string, body, answer string) []*extprocv3.ProcessingResponse {
	t.Helper()
	stream, err := s.extproc.Process(t.Context())
	require.NoError(t, err)
	msgs := []*extprocv3.ProcessingRequest{
		{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(requestHeaders...)}}},
		{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: true}}},
		{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap(":status", "200", "content-type", "application/json")}}},
		{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: []byte(answer), EndOfStream: true}}},
	}
	var out []*extprocv3.ProcessingResponse
	for _, m := range msgs {
		require.NoError(t, stream.Send(m))
		resp, err := stream.Recv()
		require.NoError(t, err)
		out = append(out, resp)
		if resp.GetImmediateResponse() != nil {
			break
		}
	}
	require.NoError(t, stream.CloseSend())
	return out
}

// shownTools are the tools of a filtered tools/list answer.
func shownTools(t *testing.T, resp *extprocv3.ProcessingResponse) []string {
	t.Helper()
	body := resp.GetResponseBody().GetResponse().GetBodyMutation().GetBody()
	require.NotNil(t, body, "filtered, not withheld: %v", resp)
	var answer struct {
		Result struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(body, &answer), string(body))
	var names []string
	for _, tool := range answer.Result.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// withheldCode is the denial code of a list answered in the upstream's place.
func withheldCode(t *testing.T, resp *extprocv3.ProcessingResponse) string {
	t.Helper()
	imm := resp.GetImmediateResponse()
	require.NotNil(t, imm, "withheld: %v", resp)
	var answer struct {
		Error struct {
			Data struct {
				Code string `json:"code"`
			} `json:"data"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(imm.GetBody(), &answer), string(imm.GetBody()))
	return answer.Error.Data.Code
}

// TestListsAreFilteredAcrossReplicas: a gateway sends a tools/list's check to one replica and
// its answer to another. Sharing the grant key, the other filters the list with the real Cerbos
// just as the one that decided would; with keys of their own (none configured, or different
// files) it withholds the list. A grant the client sends never takes the place of synapse's,
// and never goes upstream.
func TestListsAreFilteredAcrossReplicas(t *testing.T) {
	cerbos := cerbostest.Start(t, cerbostest.Options{})
	iss := identitytest.NewIssuer(t)
	replica := func(keyFile string) *synapse {
		cfg := testConfig(t, cerbos.GRPCAddr, iss.JWKSURL())
		cfg.ResponsePath.GrantKeyFile = keyFile
		require.NoError(t, cfg.Validate())
		s := startSynapse(t, cfg)
		// Each replica has a registry of its own here; the task is the same in both.
		_, err := s.admin.Create(context.Background(), tasks.NewTask{ID: triage.task, Principal: triage.sub, AgentID: triage.agent, TicketID: triage.ticket})
		require.NoError(t, err)
		return s
	}
	shared := grantKeyFile(t, "the replicas' shared grant key 0")
	one, two := replica(shared), replica(shared)
	other := replica(grantKeyFile(t, "another deployment's grant key 1"))
	unkeyed := replica("")

	token := iss.Mint(t, identitytest.Token{Subject: triage.sub, Audience: "mcp:tickets", Roles: []string{triage.role},
		AgentID: triage.agent, HarnessVersion: "test-1", TaskID: triage.task})
	check := func(s *synapse) []string {
		req := checktest.Envoy("mcp:tickets", "POST", "/mcp/tickets", token, listTools)
		req.GetAttributes().GetRequest().GetHttp().GetHeaders()[respond.HeaderGrant] = clientsGrant
		resp := s.check(t, req)
		require.Equal(t, int32(codes.OK), resp.GetStatus().GetCode(), "the triage agent may list the tickets server's tools")
		headers := forwarded(t, req, resp)
		assert.NotContains(t, headers, clientsGrant, "the client's grant never reaches the response path as synapse's")
		return headers
	}

	tests := []struct {
		name           string
		checker, lists *synapse
		wantShown      []string
		wantWithheld   bool
	}{
		{name: "checked by one replica, filtered by the other", checker: one, lists: two, wantShown: []string{"get_ticket", "add_comment"}},
		{name: "and the other way round", checker: two, lists: one, wantShown: []string{"get_ticket", "add_comment"}},
		{name: "one replica alone, without a key file", checker: unkeyed, lists: unkeyed, wantShown: []string{"get_ticket", "add_comment"}},
		{name: "replicas with different keys", checker: one, lists: other, wantWithheld: true},
		{name: "a replica with a key of its own", checker: unkeyed, lists: one, wantWithheld: true},
		{name: "and one that checked with the shared key", checker: one, lists: unkeyed, wantWithheld: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.lists.processList(t, check(tt.checker), listTools, ticketTools)
			assert.Contains(t, out[0].GetRequestHeaders().GetResponse().GetHeaderMutation().GetRemoveHeaders(), respond.HeaderGrant,
				"the grant is taken off the request before the upstream")
			last := out[len(out)-1]
			if tt.wantWithheld {
				assert.Equal(t, "list_withheld", withheldCode(t, last))
				return
			}
			assert.ElementsMatch(t, tt.wantShown, shownTools(t, last))
		})
	}

	t.Run("a grant on the wrong request", func(t *testing.T) {
		headers := check(one)
		for i := 0; i < len(headers); i += 2 {
			if headers[i] == respond.HeaderDecisionID {
				headers[i+1] = "another-request"
			}
		}
		out := two.processList(t, headers, listTools, ticketTools)
		assert.Equal(t, "list_withheld", withheldCode(t, out[len(out)-1]))
	})
	t.Run("a client's own grant", func(t *testing.T) {
		headers := append(check(one), respond.HeaderGrant, clientsGrant)
		out := two.processList(t, headers, listTools, ticketTools)
		assert.Equal(t, "list_withheld", withheldCode(t, out[len(out)-1]), "two grants are not synapse's doing")
	})
}

// TestABadGrantKeyFileStopsTheStart: a replica that cannot read the shared key does not start
// with a key of its own, which would withhold every list that crosses replicas.
func TestABadGrantKeyFileStopsTheStart(t *testing.T) {
	for name, keyFile := range map[string]string{
		"missing":   filepath.Join(t.TempDir(), "grant-key"),
		"too short": grantKeyFile(t, "not 32 bytes"),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, "127.0.0.1:1", "http://127.0.0.1:1/.well-known/jwks.json")
			cfg.ResponsePath.GrantKeyFile = keyFile
			a, err := app.Start(context.Background(), cfg, io.Discard, discardLogger())
			require.ErrorContains(t, err, "responsePath.grantKeyFile")
			assert.Nil(t, a)
		})
	}
}
