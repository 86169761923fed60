package mapping

import (
	"encoding/json"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Input is what one gateway check asks for.
type Input struct {
	// Resource is the route's resource, "llm" or "mcp:<server>": from the gateway's
	// context_extensions, else from the route table; never from anything the client sent. The
	// token's audience must equal it.
	Resource string
	Plane    Plane
	// Dialect is whose API a model-plane request speaks, read from its path alone, so that a
	// denial answers in that API's error format. Set whenever the path was clean, even when Map
	// refuses the request; "" on the MCP plane and when the route was not understood.
	Dialect Dialect
	// Token is the bearer token of the Authorization header, "" when there is none.
	Token string
	// Checks holds one Cerbos check per JSON-RPC message of an MCP body, or the one check of a
	// model call or of an MCP GET or DELETE. It is never empty when Map succeeds, and nil when
	// Map fails.
	Checks []Check
	// Batch reports that the MCP body was a JSON-RPC batch, so a denial answers with an array.
	Batch bool
	// Messages lists the MCP messages (one per batch element, in order), filled in as far as
	// they were understood even when Map fails, so that a denial can answer each request by its
	// id. Nil on the model plane.
	Messages []MCPMessage
}

// Check is one Cerbos resource check: the resource and the single action asked on it.
type Check struct {
	Kind   string         // Cerbos resource kind: "llm", "mcp:payments"
	ID     string         // resource id: "gpt-4o", "payments", "payments/refund_issue"
	Action string         // "completion", "initialize", "tools/call/refund_issue", ...
	Attr   map[string]any // resource attributes; values are what structpb accepts (numbers float64)
	MCP    *MCPMessage    // the message this check is for; nil for model calls
}

// MCPMessage is what a denial needs to answer one MCP message.
type MCPMessage struct {
	// Method is the JSON-RPC method; "" for a client's response to a server request, and for
	// the GET stream and the DELETE of a session, which carry no message.
	Method string
	// ID is the request id as JSON, to echo in the answer; nil when there is nothing to answer
	// (a notification, a client response, GET, DELETE, or an id that is null or unreadable).
	ID json.RawMessage
	// Tool is the tool's name for tools/call.
	Tool string
	// Handshake is set for initialize and server/discover, which a denial must answer with a
	// JSON-RPC error (a result would tell a client it connected).
	Handshake bool
}

// Map turns an ext_authz CheckRequest into the Cerbos checks it needs, or refuses it. It is
// pure: no I/O, no clock, no state. On error the *Input is still returned with Resource, Plane,
// Batch and Messages filled in as far as they were understood, so the denial can be shaped for
// the client, and the error is always an *Error.
func Map(req *authv3.CheckRequest, routes RouteTable) (*Input, error) {
	return MapWithLimits(req, routes, DefaultLimits())
}

// MapWithLimits is Map with the limits on what one request may cost (Limits); a zero field of
// lim takes its default. A request over a limit is refused as soon as the limit is passed.
func MapWithLimits(req *authv3.CheckRequest, routes RouteTable, lim Limits) (*Input, error) {
	in := &Input{}
	if err := mapInto(in, req, routes, lim.withDefaults()); err != nil {
		in.Checks = nil
		return in, err
	}
	return in, nil
}

func mapInto(in *Input, req *authv3.CheckRequest, routes RouteTable, lim Limits) *Error {
	attrs := req.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		return deny(CodeMissingHTTP, "the check request carries no HTTP request")
	}
	path, pathErr := splitPath(h.GetPath())
	resource, err := routeResource(attrs.GetContextExtensions(), routes, h.GetPath())
	if err != nil {
		if pathErr != nil {
			return pathErr // the reason no route matched
		}
		return err
	}
	plane, server, err := parseResource(resource)
	if err != nil {
		return err
	}
	in.Resource, in.Plane = resource, plane
	if pathErr != nil {
		return pathErr
	}
	if plane == PlaneModel {
		in.Dialect = modelDialect(path)
	}
	hdrs := headersOf(h)
	switch plane {
	case PlaneModel:
		err = mapModel(in, h, hdrs, path, lim)
	default:
		err = mapMCP(in, h, hdrs, server, lim)
	}
	if err != nil {
		return err
	}
	if err := checkChecks(in.Checks, lim.MaxCheckBytes); err != nil {
		return err
	}
	if err := refuseUpgrade(hdrs); err != nil {
		return err
	}
	// The token is read last, so that a malformed header still leaves the messages known.
	in.Token, err = bearerToken(hdrs)
	return err
}

// routeResource returns the resource the gateway's configuration gives the route. Istio sends
// no context extensions, so the route table is the fallback; when both speak they must agree.
func routeResource(ext map[string]string, routes RouteTable, path string) (string, *Error) {
	fromTable, inTable := routes.Lookup(path)
	fromGateway, inGateway := ext["resource"]
	switch {
	case inGateway && inTable && fromGateway != fromTable:
		return "", deny(CodeRouteConflict, "the gateway routes this request to %q but synapse's route table says %q", clip(fromGateway), fromTable)
	case inGateway:
		return fromGateway, nil
	case inTable:
		return fromTable, nil
	default:
		return "", deny(CodeUnknownRoute, "no route resource for this request: the gateway sent none and synapse's route table has no match")
	}
}
