package security_test

import "github.com/hopguard/hopguard/conformance/rawhttp"

// modelPost is a model call to path with the caller's bearer token, as the agent sends it.
func modelPost(path, token string, body []byte) rawhttp.Request {
	return rawhttp.Request{Method: "POST", Target: path, Body: body, Header: []rawhttp.Field{
		{Name: "Authorization", Value: "Bearer " + token}, {Name: "Content-Type", Value: "application/json"},
	}}
}

// aliceChat is the model call the task drills send on a task of Alice's, with its token.
func aliceChat(token string) rawhttp.Request {
	return modelPost("/v1/chat/completions", token, []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
}

// mcpPost is a stateless MCP request to server with the caller's bearer token.
func mcpPost(server, token string, body []byte) rawhttp.Request {
	return rawhttp.Request{Method: "POST", Target: "/mcp/" + server, Body: body, Header: []rawhttp.Field{
		{Name: "Authorization", Value: "Bearer " + token}, {Name: "Content-Type", Value: "application/json"},
		{Name: "Accept", Value: "application/json, text/event-stream"},
	}}
}
