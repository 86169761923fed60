package identity

import (
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// privateClaims are the claims the STS adds to a per-resource token
// (CONTRACTS.md, "Tokens").
type privateClaims struct {
	Roles          []string `json:"roles"`
	AgentID        string   `json:"agent_id"`
	HarnessVersion string   `json:"harness_version"`
	TaskID         string   `json:"task_id"`
	Act            *struct {
		Sub string `json:"sub"`
	} `json:"act"`
}

// Claims is what a verified token says about its bearer.
type Claims struct {
	Subject        string
	Audience       string
	Roles          []string
	AgentID        string
	HarnessVersion string
	TaskID         string
	// Actor is act.sub: the agent workload acting for Subject, if any.
	Actor    string
	TokenID  string
	Expiry   time.Time
	IssuedAt time.Time
}

func newClaims(std jwt.Claims, priv privateClaims, audience string) *Claims {
	c := &Claims{
		Subject:  std.Subject,
		Audience: audience,
		// A copy: the verifier keeps priv for the token's next use.
		Roles:          slices.Clone(priv.Roles),
		AgentID:        priv.AgentID,
		HarnessVersion: priv.HarnessVersion,
		TaskID:         priv.TaskID,
		TokenID:        std.ID,
		Expiry:         std.Expiry.Time(),
	}
	if c.Roles == nil {
		c.Roles = []string{}
	}
	if std.IssuedAt != nil {
		c.IssuedAt = std.IssuedAt.Time()
	}
	if priv.Act != nil {
		c.Actor = priv.Act.Sub
	}
	return c
}
