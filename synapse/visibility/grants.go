package visibility

import (
	"encoding/json"

	"github.com/hopguard/hopguard/synapse/pdp"
)

// Grant is what the response path needs of an allowed list: who asked, as Cerbos saw them, of
// which server, and which list requests the body held. ext_authz seals it into the request it
// allows (Sealer), so that whichever replica processes the answer can open it, without reading
// the request's body again.
type Grant struct {
	Principal pdp.Principal
	Kind      string
	Metadata  pdp.Metadata
	// Lists are the body's list requests (tools/list, resources/list, prompts/list), in order:
	// what the response path answers in the upstream's place when it withholds the list.
	Lists []ListRequest
}

// ListRequest is one list request of a body: its method and JSON-RPC id.
type ListRequest struct {
	Method string
	ID     json.RawMessage
}
