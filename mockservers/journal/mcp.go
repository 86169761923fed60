package journal

import (
	"encoding/json"
	"net/http"
)

// DescribeMCP is the Describer of every MCP server: it names the JSON-RPC method of an MCP
// POST, the tool of a tools/call, the resource of a resources/read, subscribe or unsubscribe and
// the prompt of a prompts/get. Anything it cannot parse (a batch, a client's reply to a server
// request) is left unnamed: the server answers it as it will.
func DescribeMCP(_ *http.Request, body []byte, e *Entry) {
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
			URI  string `json:"uri"`
		} `json:"params"`
	}
	if len(body) == 0 || json.Unmarshal(body, &msg) != nil {
		return
	}
	e.MCPMethod = msg.Method
	switch msg.Method {
	case "tools/call":
		e.Tool = msg.Params.Name
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		e.Resource = msg.Params.URI
	case "prompts/get":
		e.Prompt = msg.Params.Name
	}
}
