package clients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/hopguard/hopguard/agent/denial"
)

// connectMCP opens a session with server through the gateway with the official MCP SDK's
// streamable HTTP client transport, asking for protocol ("" for the SDK's default). A session
// that opens speaking another version than want is not what the client claims to play.
func connectMCP(ctx context.Context, c conn, server, protocol, want string) (*mcp.ClientSession, observation) {
	httpClient := *c.http
	if c.token != "" {
		httpClient.Transport = bearer{token: c.token, next: c.http.Transport}
	}
	transport := &mcp.StreamableClientTransport{
		Endpoint:   c.gatewayURL + "/mcp/" + server,
		HTTPClient: &httpClient,
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "hopguard-client-matrix", Version: "0.1.0"}, nil)
	var opts *mcp.ClientSessionOptions
	if protocol != "" {
		opts = &mcp.ClientSessionOptions{ProtocolVersion: protocol}
	}
	session, err := client.Connect(ctx, transport, opts)
	if err != nil {
		return nil, readMCPError(err)
	}
	got := session.InitializeResult().ProtocolVersion
	obs := observation{ok: true, surfaced: "connected, protocol " + got}
	if id := session.ID(); id != "" {
		obs.surfaced += ", session " + clip(id)
	}
	if got != want {
		obs.ok, obs.wrongProtocol = false, true
		obs.surfaced += ", not " + want
	}
	return session, obs
}

// callTool calls a tool on an open session.
func callTool(ctx context.Context, session *mcp.ClientSession, tool string, args map[string]any) observation {
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return readMCPError(err)
	}
	text := toolText(res)
	if !res.IsError {
		return observation{ok: true, surfaced: "tool result: " + clip(text)}
	}
	// A denied call is the tool's result, isError, with hopguard's policy output in _meta (and
	// as structuredContent): the SDK's own type for it is the result.
	obs := observation{errType: "*mcp.CallToolResult (isError)", surfaced: "isError result: " + clip(text)}
	if raw, ok := res.Meta[denial.MetaKey]; ok {
		obs.typed = true
		obs.code = policyCode(raw)
	}
	return obs
}

func toolText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, " ")
}

// transportRejected is the code of the *jsonrpc.Error the SDK's transport makes itself when it
// refuses an HTTP response (jsonrpc2.ErrRejected, "rejected by transport"): it carries no
// answer of the server's.
const transportRejected = -32005

// readMCPError reads an error as the SDK's caller does: a JSON-RPC error answer is a
// *jsonrpc.Error with the code and data the server sent; the transport's own rejection of an
// HTTP response is a *jsonrpc.Error too, with no answer in it.
func readMCPError(err error) observation {
	var rpcErr *jsonrpc.Error
	if !errors.As(err, &rpcErr) {
		return otherError(err)
	}
	return observation{
		errType:  "*jsonrpc.Error",
		typed:    rpcErr.Code != transportRejected,
		code:     policyCode(rpcErr.Data),
		surfaced: fmt.Sprintf("*jsonrpc.Error %d %q data %s", rpcErr.Code, clip(rpcErr.Message), clip(string(rpcErr.Data))),
	}
}

// policyCode reads the code of hopguard's policy output, given as JSON or as decoded values.
func policyCode(v any) string {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return ""
		}
	}
	var out struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(raw, &out) != nil {
		return ""
	}
	return out.Code
}
