package pdp_test

import (
	"context"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	svcv1 "github.com/cerbos/cerbos/api/genpb/cerbos/svc/v1"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/hopguard/hopguard/synapse/checktest"
	"github.com/hopguard/hopguard/synapse/mapping"
	"github.com/hopguard/hopguard/synapse/pdp"
)

// toolCall is an Envoy check of a get_charge call with these arguments.
func toolCall(args string) *authv3.CheckRequest {
	return checktest.Envoy("mcp:payments", "POST", "/mcp/payments", "token",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_charge","arguments":`+args+`}}`)
}

// sizedRequest is invoiceRequest grown by a string attribute to exactly size encoded bytes.
func sizedRequest(t *testing.T, size int) pdp.Request {
	t.Helper()
	req := invoiceRequest(1, "read")
	pad := size
	for range 8 { // the length prefix of the padding shrinks as it is found: a few rounds settle
		req.Resources[0].Attr["pad"] = strings.Repeat("x", max(pad, 0))
		got, err := pdp.EncodedSize(req)
		require.NoError(t, err)
		if got == size {
			return req
		}
		pad += size - got
	}
	t.Fatalf("no padding gives a request of %d bytes", size)
	return req
}

// A request is sent up to the very size Cerbos accepts; one byte more is refused before it is
// sent, as the caller's request too large, never as Cerbos failing.
func TestClientSendsUpToWhatCerbosAccepts(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		refused bool
	}{
		{"at the limit", pdp.MaxRequestBytes, false},
		{"one byte over", pdp.MaxRequestBytes + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCerbos{answer: echoAllow}
			// A request at the limit is megabytes, encoded, checked and decoded at both ends: the
			// timeout only bounds a hang (under the race detector this takes well over 100 ms).
			client := serveFakeWithin(t, f, 10*time.Second)
			_, err := client.Check(context.Background(), sizedRequest(t, tt.size))
			if !tt.refused {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, pdp.ErrRequestTooLarge)
			assert.Equal(t, "request_too_large", pdp.ErrorReason(err))
			assert.Nil(t, f.gotReq, "nothing reached Cerbos")
		})
	}
}

// When Cerbos itself refuses a request as too large (its limit lower than synapse's, or the
// send check off), the refusal still reads as the request's, not as an outage.
func TestClientReadsCerbosRefusingALargeRequest(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeCerbos{answer: echoAllow}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(1 << 10))
	svcv1.RegisterCerbosServiceServer(srv, f)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	client, err := pdp.Dial(l.Addr().String(), time.Second, grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(math.MaxInt32)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })

	_, err = client.Check(context.Background(), sizedRequest(t, 2<<10))
	require.ErrorIs(t, err, pdp.ErrRequestTooLarge)
	assert.Equal(t, "request_too_large", pdp.ErrorReason(err))
	assert.Nil(t, f.gotReq)
}

// mapping's ceiling on a request's checks leaves room for the principal below what Cerbos
// accepts, and its bound on a check's size is an upper bound on what pdp encodes.
func TestMappedChecksFitWhatCerbosAccepts(t *testing.T) {
	assert.Equal(t, pdp.MaxRequestBytes, mapping.CerbosMaxRequestBytes)
	for _, body := range []string{
		`{"a":[0,1.5,-2,true,false,null,"",{"":{}},[[]]]}`,
		`{"s":"` + strings.Repeat("é", 300) + `","n":{"deep":{"deeper":[{"k":9007199254740991}]}}}`,
		`{"` + strings.Repeat("k", 200) + `":[` + strings.Repeat(`0,`, 999) + `0]}`,
	} {
		in, err := mapping.MapWithLimits(toolCall(body), mapping.RouteTable{}, mapping.Limits{})
		require.NoError(t, err, body)
		estimate := mapping.ChecksSize(in.Checks)
		req := pdp.Request{Resources: make([]pdp.Resource, len(in.Checks))}
		for i, c := range in.Checks {
			req.Resources[i] = pdp.Resource{Kind: c.Kind, ID: c.ID, Attr: c.Attr, Actions: []string{c.Action}}
		}
		got, err := pdp.EncodedSize(req)
		require.NoError(t, err)
		assert.LessOrEqual(t, got, estimate, "the estimate bounds the encoding of %s", body)
	}
}
