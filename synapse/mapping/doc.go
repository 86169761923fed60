// Package mapping is where an Envoy ext_authz CheckRequest becomes Cerbos checks. Map is a pure
// function: the same CheckRequest always gives the same Input, or the same refusal, with no
// I/O. The identity behind the token, the task registry and Cerbos itself are other packages'
// business (synapse/identity, synapse/tasks, synapse/pdp); synapse/respond shapes the answer.
//
// # Where the route comes from
//
// The resource ("llm" or "mcp:<server>") comes from the gateway's configuration, never from
// the client: attributes.context_extensions["resource"] (Envoy ExtAuthzPerRoute, agentgateway
// extAuthz.protocol.grpc.context), else synapse's RouteTable (Istio sends no context
// extensions). When both name a resource they must agree, otherwise the request is refused
// (route_conflict): one of the two configurations is wrong and neither is to be trusted.
// A path matches the table only when it is clean: nothing is decoded or normalised, and a path
// with dot segments, "//", percent-encoding or ";" is refused outright (invalid_path), on every
// route, because the router in front and the upstream behind may each read it differently.
//
// # Model plane ("llm")
//
// POST to one of /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/messages (exact
// paths; a query string is ignored) is one check: kind "llm", id = the "model" field exactly as
// sent (no trimming or case folding: "GPT-4o" is an unknown model, and unknown models are denied
// by policy), action "completion" ("embedding" for embeddings), attributes api, model, stream and
// max_tokens (the largest of max_tokens, max_completion_tokens and max_output_tokens, when one
// is present). GET /v1/models is kind "llm", id "models", action "list_models", so a policy must
// allow listing explicitly. Any other method or path is refused. Input.Dialect says whose API
// the path belongs to (Anthropic's for /v1/messages and below, OpenAI's for every other clean
// path), even when the request is refused, so that synapse/respond denies in that API's format.
//
// # MCP plane ("mcp:<server>")
//
// A POST body is JSON-RPC 2.0, one message or a batch (synapse/jsonrpc). Each message is one
// check with kind "mcp:<server>", attributes method and server:
//   - initialize and server/discover (the handshake of protocol 2026-07-28, which mcp-go tries
//     first): id <server>, action "initialize". Both must be checked alike, or a policy that
//     denies initialize lets a modern client connect. A handshake must be a single request.
//   - tools/call: id <server>/<tool>, action "tools/call/<tool>", attributes tool and arguments
//     (an object; absent means {}). The tool name is read after JSON unescaping
//     ("refund\u005fissue" is refund_issue, the name the server will run) and must be 1 to 128
//     of [A-Za-z0-9_.-].
//   - every other method (ping, tools/list, notifications/initialized, resources/read, ...):
//     id <server>, action = the method; policies deny what they do not name.
//   - a reply the client sends to a server request (a message with result or error): action
//     "rpc.response/<what it answers>" (sampling/createMessage, elicitation/create, roots/list,
//     ping, or error), attributed by the result's shape (mcp_reply.go), attributes answers and
//     result (or error); no method can spell it, since JSON-RPC reserves "rpc.".
//
// GET (the event stream) is action "stream", DELETE (the end of a session) "session/delete", id
// <server>, without a body. A batch is allowed only when every message in it is: Map returns all
// its checks, and the caller must ask Cerbos for every one, so a denied tools/call cannot hide
// behind an allowed ping.
//
// # What is refused before Cerbos is asked
//
// Every byte of a request is hostile, and the upstream will parse the body with its own parser,
// so synapse refuses any body that two parsers could read differently, or that it did not see
// whole (the Code* constants name each case):
//   - a body the gateway truncated: x-envoy-auth-partial-body other than "false" (Envoy), size
//     -1 (agentgateway), or a positive size that differs from the body's length;
//   - a body sent as a string (not raw bytes) that contains U+FFFD: the gateway's lossy UTF-8
//     conversion may have put it in place of bytes the upstream receives;
//   - a POST without a body, with a content type other than application/json, or with a content
//     encoding; a GET or DELETE with a body;
//   - JSON that is invalid, has trailing data, invalid UTF-8, a key twice in one object at any
//     depth (ignoring case, as encoding/json does when it fills a struct), nesting beyond 64, or
//     more than 4 MiB (synapse/strictjson explains why encoding/json alone cannot do this);
//   - "Model", "ARGUMENTS" or any other case variant of a member synapse reads, and, in the
//     JSON-RPC envelope, any member the specification does not define;
//   - an MCP body over the Limits on the work it may cause: more JSON values, members of one
//     object, elements of one array or bytes of one string than allowed, or checks larger than
//     synapse sends Cerbos (request_too_complex). The limits are checked while the body is read,
//     so such a body costs no more than the limits allow, whatever its size;
//   - a number in tool arguments or token limits beyond ±(2^53-1), or one that overflows (1e400):
//     Cerbos compares doubles, and such a number has no double that equals it. Within the range a
//     number becomes the float64 structpb would hold; a string stays a string ("9000" is not
//     9000), so a schema that wants a number rejects it;
//   - a request asking for a protocol upgrade (Upgrade: websocket, h2c): after a 101 the gateway
//     is a tunnel that nothing checks, and Istio's routes allow WebSocket upgrades by default;
//   - an Authorization header sent twice, holding a comma or anything but one "Bearer" token.
//     A missing header is not refused here: Token is "" and identity denies it.
//
// On a refusal Map still returns the Input as far as it was understood (resource, plane, the
// ids of the MCP messages), so the denial can be answered in the client's own protocol.
package mapping
