package sts

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
)

// AssertionTypeSPIFFE is the client_assertion_type of a JWT-SVID presented as a client's
// credential, from the IETF draft "OAuth SPIFFE Client Authentication"
// (draft-ietf-oauth-spiffe-client-auth). Why not RFC 7523's jwt-bearer type: a JWT-SVID is not
// an RFC 7523 assertion (it has no iss equal to the client, no jti), and the draft exists to say
// how a SPIFFE workload authenticates with the JWT-SVID it has.
const AssertionTypeSPIFFE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"

// SVIDVerifier checks a JWT-SVID presented as a client assertion: signed by a key of its trust
// domain's JWT bundle (from the SPIFFE Workload API, which keeps it current as keys rotate),
// unexpired, and for Audience.
type SVIDVerifier struct {
	// Bundles are the JWT bundles of the trust domains whose workloads may authenticate.
	Bundles jwtbundle.Source
	// Audience is what a JWT-SVID must be for: the STS's issuer.
	Audience string
}

// verify returns the SPIFFE ID a JWT-SVID proves.
func (v *SVIDVerifier) verify(token string) (spiffeid.ID, error) {
	if v == nil || v.Bundles == nil {
		return spiffeid.ID{}, errors.New("this STS takes no JWT-SVIDs")
	}
	svid, err := jwtsvid.ParseAndValidate(token, v.Bundles, []string{v.Audience})
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("the JWT-SVID is not valid here: %w", err)
	}
	return svid.ID, nil
}

// isSPIFFEID says whether id is a SPIFFE ID.
func isSPIFFEID(id string) bool {
	_, err := spiffeid.FromString(id)
	return err == nil && strings.HasPrefix(id, "spiffe://")
}
