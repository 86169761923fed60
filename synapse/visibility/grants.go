package visibility

import "github.com/hopguard/hopguard/synapse/pdp"

// Grant is what the response path needs of an allowed list: who asked, as Cerbos saw them, and
// of which server. ext_authz seals it into the request it allows (Sealer), so that whichever
// replica processes the answer can open it.
type Grant struct {
	Principal pdp.Principal
	Kind      string
	Metadata  pdp.Metadata
}
