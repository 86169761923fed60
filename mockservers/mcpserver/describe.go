package mcpserver

import (
	"encoding/json"
	"net/http"

	"github.com/hopguard/hopguard/mockservers/journal"
)

// describeMCP names the JSON-RPC method of an MCP POST, and the tool of a
// tools/call, for the journal. Anything it cannot parse is left unnamed:
// mcp-go will answer it with the protocol error.
func describeMCP(_ *http.Request, body []byte, e *journal.Entry) {
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	if len(body) == 0 || json.Unmarshal(body, &msg) != nil {
		return
	}
	e.MCPMethod = msg.Method
	if msg.Method == "tools/call" {
		e.Tool = msg.Params.Name
	}
}
