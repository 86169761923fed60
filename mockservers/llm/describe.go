package llm

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/hopguard/hopguard/mockservers/journal"
)

// describeModelRequest names the model a request asked for, for the
// journal: the body's "model", or the id of GET /v1/models/{id}.
func describeModelRequest(r *http.Request, body []byte, e *journal.Entry) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/v1/models/"); ok && r.Method == http.MethodGet {
		e.Model = id
		return
	}
	var req struct {
		Model string `json:"model"`
	}
	if len(body) > 0 && json.Unmarshal(body, &req) == nil {
		e.Model = req.Model
	}
}
