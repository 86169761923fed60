package visibility_test

import (
	"encoding/json"
	"mime"
	"testing"

	"github.com/hopguard/hopguard/synapse/visibility"
)

// FuzzKeep: whatever the body, Read never panics, and what Keep returns of an answer it read
// reads again and lists no tool it was told to drop.
func FuzzKeep(f *testing.F) {
	f.Add("application/json", []byte(toolsResult))
	f.Add("text/event-stream", []byte("event: message\ndata: "+toolsResult+"\n\n"))
	f.Add("application/json", []byte(`[`+toolsResult+`,{"jsonrpc":"2.0","id":8,"result":{}}]`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		a, err := visibility.Read(contentType, body)
		if err != nil {
			return
		}
		out, err := a.Keep(onlyGetCharge)
		if err != nil {
			return
		}
		again, err := visibility.Read(contentType, out)
		if err != nil {
			t.Fatalf("Keep wrote what Read cannot read: %v\n%q", err, out)
		}
		for _, tool := range again.Items(toolsListing(t)) {
			if !onlyGetCharge("tools/list", tool) {
				t.Fatalf("tool %q was to be dropped, and is there: %q", tool, out)
			}
		}
		// What a Go client reads of a JSON answer (encoding/json: names matched without regard
		// to case, the last of a name given twice) lists no tool that was to be dropped either.
		// (An event stream's client reads its data lines alone, which Read has read.)
		var client struct {
			Result struct {
				Tools []struct{ Name string }
			}
		}
		if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt == "application/json" && json.Unmarshal(out, &client) == nil {
			for _, tool := range client.Result.Tools {
				if !onlyGetCharge("tools/list", tool.Name) {
					t.Fatalf("a Go client reads tool %q, which was to be dropped: %q", tool.Name, out)
				}
			}
		}
	})
}
