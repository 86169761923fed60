package pdp

import (
	"strings"
	"testing"

	effectv1 "github.com/cerbos/cerbos/api/genpb/cerbos/effect/v1"
	enginev1 "github.com/cerbos/cerbos/api/genpb/cerbos/engine/v1"
	requestv1 "github.com/cerbos/cerbos/api/genpb/cerbos/request/v1"
	responsev1 "github.com/cerbos/cerbos/api/genpb/cerbos/response/v1"
	schemav1 "github.com/cerbos/cerbos/api/genpb/cerbos/schema/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// vtRoot is a message the codec encodes with vtprotobuf; MarshalVT makes wire bytes protobuf
// would refuse to make, to see what each decoder does with them.
type vtRoot interface {
	vtMessage
	MarshalVT() ([]byte, error)
}

func codecMarshal(t testing.TB, m proto.Message) ([]byte, error) {
	t.Helper()
	data, err := newVTCodec().Marshal(m)
	if err != nil {
		return nil, err
	}
	return data.Materialize(), nil
}

func codecUnmarshal(raw []byte, m proto.Message) error {
	return newVTCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, m)
}

func refundRequest(t testing.TB) *requestv1.CheckResourcesRequest {
	t.Helper()
	in, err := toProto(Request{
		RequestID: "0f8e0f3c-5a8b-4b61-9c57-3f5e0f1a2b3c",
		Principal: Principal{ID: "alice", Roles: []string{"tier-1-support", "é"}, Attr: map[string]any{
			"agent_id": "triage", "harness_version": "1.0.0", "task_id": "task-1", "nothing": nil, "yes": true,
			"task": map[string]any{"id": "task-1", "status": "active", "ticket_id": "T-1001"},
		}},
		Resources: []Resource{
			{Kind: "mcp_payments", ID: "payments/refund_issue", Actions: []string{"tools/call/refund_issue"}, Attr: map[string]any{
				"method": "tools/call", "tags": []any{"a", 1.5, nil, []any{}, map[string]any{}},
				"arguments": map[string]any{"ticket_id": "T-1001", "amount_cents": 900000.0, "reason": "日本語 ✓"},
			}},
			{Kind: "llm", ID: "gpt-4o-mini", Actions: []string{"chat", "embed"}},
		},
	})
	require.NoError(t, err)
	return in
}

func denyResponse(t testing.TB) *responsev1.CheckResourcesResponse {
	t.Helper()
	v, err := structpb.NewValue(map[string]any{"decision": "deny", "code": "refund_cap", "n": 3.0, "list": []any{"x", false, nil}})
	require.NoError(t, err)
	return &responsev1.CheckResourcesResponse{RequestId: "r-1", CerbosCallId: "c-1",
		Results: []*responsev1.CheckResourcesResponse_ResultEntry{{
			Resource:         &responsev1.CheckResourcesResponse_ResultEntry_Resource{Kind: "mcp_payments", Id: "payments/refund_issue"},
			Actions:          map[string]effectv1.Effect{"tools/call/refund_issue": effectv1.Effect_EFFECT_DENY, "x": effectv1.Effect_EFFECT_ALLOW},
			Outputs:          []*enginev1.OutputEntry{{Src: "resource.mcp_payments.vdefault#cap", Action: "tools/call/refund_issue", Val: v}},
			ValidationErrors: []*schemav1.ValidationError{{Path: "/amount", Message: "expected number", Source: schemav1.ValidationError_SOURCE_RESOURCE}},
			Meta: &responsev1.CheckResourcesResponse_ResultEntry_Meta{
				Actions:               map[string]*responsev1.CheckResourcesResponse_ResultEntry_Meta_EffectMeta{"x": {MatchedPolicy: "p", MatchedScope: "s"}},
				EffectiveDerivedRoles: []string{"owner"},
			},
		}}}
}

func TestVTCodecRoundTrips(t *testing.T) {
	req := refundRequest(t)
	raw, err := codecMarshal(t, req)
	require.NoError(t, err)
	var gotReq requestv1.CheckResourcesRequest
	require.NoError(t, proto.Unmarshal(raw, &gotReq), "protobuf reads what the codec writes")
	assert.True(t, proto.Equal(req, &gotReq))

	resp := denyResponse(t)
	raw, err = proto.Marshal(resp)
	require.NoError(t, err)
	var gotResp responsev1.CheckResourcesResponse
	require.NoError(t, codecUnmarshal(raw, &gotResp), "the codec reads what protobuf writes")
	assert.True(t, proto.Equal(resp, &gotResp))
}

func TestVTCodecFallsBackForOtherMessages(t *testing.T) {
	in := &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}
	raw, err := codecMarshal(t, in)
	require.NoError(t, err)
	var out healthpb.HealthCheckResponse
	require.NoError(t, codecUnmarshal(raw, &out))
	assert.True(t, proto.Equal(in, &out))

	_, err = codecMarshal(t, &healthpb.HealthCheckRequest{Service: "\xff"})
	require.Error(t, err, "the fallback is protobuf's codec, which checks UTF-8 itself")
}

// TestWalkerCoversEveryField puts invalid UTF-8 in every string field and every string map key
// reachable from the request and the response, one at a time (each message type at most twice
// per path), and holds the codec to protobuf: both refuse to encode it and both refuse to decode it;
// with a valid string instead, both accept and agree. A field a new genpb version adds is
// reached here, so the walker cannot silently skip it.
func TestWalkerCoversEveryField(t *testing.T) {
	roots := map[string]func() vtRoot{
		"request":  func() vtRoot { return &requestv1.CheckResourcesRequest{} },
		"response": func() vtRoot { return &responsev1.CheckResourcesResponse{} },
	}
	for name, newRoot := range roots {
		paths := stringPaths(newRoot().ProtoReflect().Descriptor(), nil, map[protoreflect.FullName]int{})
		require.NotEmpty(t, paths)
		for _, p := range paths {
			t.Run(name+"/"+p.String(), func(t *testing.T) {
				bad := newRoot()
				p.set(bad.ProtoReflect(), "\xff")
				_, protoErr := proto.Marshal(bad)
				require.Error(t, protoErr, "protobuf refuses to encode it")
				_, codecErr := codecMarshal(t, bad)
				require.Error(t, codecErr, "the codec refuses to encode it")

				raw, err := bad.MarshalVT()
				require.NoError(t, err)
				require.Error(t, proto.Unmarshal(raw, newRoot()), "protobuf refuses to decode it")
				require.Error(t, codecUnmarshal(raw, newRoot()), "the codec refuses to decode it")

				good := newRoot()
				p.set(good.ProtoReflect(), "ok ✓")
				raw, err = codecMarshal(t, good)
				require.NoError(t, err)
				fromProto := newRoot()
				require.NoError(t, proto.Unmarshal(raw, fromProto))
				fromCodec := newRoot()
				require.NoError(t, codecUnmarshal(raw, fromCodec))
				assert.True(t, proto.Equal(good, fromProto))
				assert.True(t, proto.Equal(good, fromCodec))
			})
		}
	}
}

// fieldPath leads from a root message to a string: the last step is a string field, a list of
// strings, or a map whose key (mapKey) or string value is the string.
type fieldPath struct {
	steps  []protoreflect.FieldDescriptor
	mapKey bool
}

func (p fieldPath) String() string {
	names := make([]string, len(p.steps))
	for i, fd := range p.steps {
		names[i] = string(fd.Name())
	}
	if p.mapKey {
		return strings.Join(names, ".") + "[key]"
	}
	return strings.Join(names, ".")
}

// stringPaths lists the paths to every string below a message of type md, entering each
// message type at most twice per path (so a string in a list in a value is reached).
func stringPaths(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, seen map[protoreflect.FullName]int) []fieldPath {
	if seen[md.FullName()] == 2 {
		return nil
	}
	seen[md.FullName()]++
	defer func() { seen[md.FullName()]-- }()
	var out []fieldPath
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		steps := append(append([]protoreflect.FieldDescriptor{}, prefix...), fd)
		kind := fd.Kind()
		if fd.IsMap() {
			if fd.MapKey().Kind() == protoreflect.StringKind {
				out = append(out, fieldPath{steps: steps, mapKey: true})
			}
			kind = fd.MapValue().Kind()
		}
		switch kind {
		case protoreflect.StringKind:
			out = append(out, fieldPath{steps: steps})
		case protoreflect.MessageKind, protoreflect.GroupKind:
			sub := fd.Message()
			if fd.IsMap() {
				sub = fd.MapValue().Message()
			}
			out = append(out, stringPaths(sub, steps, seen)...)
		}
	}
	return out
}

// set builds the path in m with s as its string, and valid strings in any map key on the way.
func (p fieldPath) set(m protoreflect.Message, s string) {
	for i, fd := range p.steps {
		last := i == len(p.steps)-1
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			key := protoreflect.ValueOfString("k").MapKey()
			if last && p.mapKey {
				key = protoreflect.ValueOfString(s).MapKey()
			}
			switch {
			case fd.MapValue().Kind() == protoreflect.StringKind:
				mp.Set(key, protoreflect.ValueOfString(map[bool]string{true: "v", false: s}[p.mapKey]))
			case fd.MapValue().Message() != nil:
				v := mp.NewValue()
				mp.Set(key, v)
				m = v.Message()
			default:
				mp.Set(key, fd.MapValue().Default())
			}
		case fd.IsList():
			list := m.Mutable(fd).List()
			if last {
				list.Append(protoreflect.ValueOfString(s))
				return
			}
			e := list.NewElement()
			list.Append(e)
			m = e.Message()
		case last:
			m.Set(fd, protoreflect.ValueOfString(s))
		default:
			m = m.Mutable(fd).Message()
		}
	}
}

// TestCodecDecodesAsDeepAsProtobuf nests an output's value around protobuf's recursion limit,
// in lists and in structs, down to a string or to an empty value, list or struct, and holds the
// codec to protobuf's answer at every depth.
func TestCodecDecodesAsDeepAsProtobuf(t *testing.T) {
	list := func(v *structpb.Value) *structpb.Value {
		return structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{v}})
	}
	object := func(v *structpb.Value) *structpb.Value {
		return structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"k": v}})
	}
	cases := []struct {
		name     string
		wrap     func(*structpb.Value) *structpb.Value
		leaf     func() *structpb.Value
		from, to int
	}{
		{"lists to a string", list, func() *structpb.Value { return structpb.NewStringValue("leaf") }, 4990, 5005},
		{"lists to an empty value", list, func() *structpb.Value { return &structpb.Value{} }, 4990, 5005},
		{"lists to an empty list", list, func() *structpb.Value { return structpb.NewListValue(&structpb.ListValue{}) }, 4990, 5005},
		{"lists to an empty struct", list, func() *structpb.Value { return structpb.NewStructValue(&structpb.Struct{}) }, 4990, 5005},
		{"structs to a string", object, func() *structpb.Value { return structpb.NewStringValue("leaf") }, 3325, 3340},
		{"structs to an empty struct", object, func() *structpb.Value { return structpb.NewStructValue(&structpb.Struct{}) }, 3325, 3340},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			accepted, refused := 0, 0
			for n := c.from; n <= c.to; n++ {
				v := c.leaf()
				for range n {
					v = c.wrap(v)
				}
				resp := &responsev1.CheckResourcesResponse{Results: []*responsev1.CheckResourcesResponse_ResultEntry{{
					Outputs: []*enginev1.OutputEntry{{Val: v}},
				}}}
				raw, err := resp.MarshalVT()
				require.NoError(t, err)
				protoErr := proto.Unmarshal(raw, &responsev1.CheckResourcesResponse{})
				codecErr := codecUnmarshal(raw, &responsev1.CheckResourcesResponse{})
				require.Equal(t, protoErr == nil, codecErr == nil, "depth %d: protobuf %v, codec %v", n, protoErr, codecErr)
				if protoErr == nil {
					accepted++
				} else {
					refused++
				}
			}
			assert.Positive(t, accepted, "some depths are decoded")
			assert.Positive(t, refused, "some depths are too deep")
		})
	}
}

// BenchmarkCodec encodes the refund hop's request and decodes a denial with the rule's output,
// with protobuf's codec (what gRPC uses by default) and with vtCodec.
func BenchmarkCodec(b *testing.B) {
	req, resp := refundRequest(b), denyResponse(b)
	resp.Results[0].Meta = nil // only sent when asked for (include_meta), which synapse does not
	raw, err := proto.Marshal(resp)
	require.NoError(b, err)
	codecs := map[string]encoding.CodecV2{"protobuf": encoding.GetCodecV2(protocodec.Name), "vt": newVTCodec()}
	for _, name := range []string{"protobuf", "vt"} {
		c := codecs[name]
		b.Run("encode/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := c.Marshal(req)
				if err != nil {
					b.Fatal(err)
				}
				data.Free()
			}
		})
		b.Run("decode/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, &responsev1.CheckResourcesResponse{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
