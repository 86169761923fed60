package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// AssertionTypeSPIFFE is the client_assertion_type of a JWT-SVID presented as the client's
// credential (IETF draft "OAuth SPIFFE Client Authentication").
const AssertionTypeSPIFFE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"

// DefaultSPIFFEAudience is the audience the demo's STS takes JWT-SVIDs for: its issuer.
const DefaultSPIFFEAudience = "https://sts.hopguard.local"

// SPIFFE is a workload's identity as the SPIFFE Workload API attests it (SPIRE's agent, say):
// the agent earns it at startup, by being the process it is, instead of holding a secret. Each
// bootstrap fetches a fresh JWT-SVID for Audience and presents it to the STS.
type SPIFFE struct {
	// Socket is the Workload API's address: unix:///path/to/socket.
	Socket string
	// Audience is what the JWT-SVID is for: the STS's issuer.
	Audience string
}

// svid fetches a JWT-SVID and returns it with the SPIFFE ID it proves.
func (s SPIFFE) svid(ctx context.Context) (token, id string, err error) {
	if s.Socket == "" || s.Audience == "" {
		return "", "", errors.New("spiffe: the Workload API's socket and the audience are required")
	}
	svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: s.Audience}, workloadapi.WithAddr(s.Socket))
	if err != nil {
		return "", "", fmt.Errorf("spiffe: a JWT-SVID from the Workload API at %s (is this process a registered workload?): %w", s.Socket, err)
	}
	return svid.Marshal(), svid.ID.String(), nil
}
