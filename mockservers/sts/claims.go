package sts

import "github.com/go-jose/go-jose/v4/jwt"

// Claims are the claims of every token the STS issues (CONTRACTS.md
// "Tokens"). Audience holds one value and is serialized as a string.
type Claims struct {
	jwt.Claims
	Roles          []string `json:"roles"`
	AgentID        string   `json:"agent_id,omitempty"`
	HarnessVersion string   `json:"harness_version,omitempty"`
	TaskID         string   `json:"task_id,omitempty"`
	// Act names the agent acting for the subject (RFC 8693 section 4.1).
	Act *Actor `json:"act,omitempty"`
}

// Actor is the acting party of a delegated token.
type Actor struct {
	Subject string `json:"sub"`
}
