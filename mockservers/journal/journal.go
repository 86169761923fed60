// Package journal records what reached a mock upstream, so that a test can
// assert on it ("the denied refund never reached payments"), and serves that
// record over HTTP: GET /_journal lists it, POST /_reset empties it and
// restores the mock's seed state.
//
// The wire format is the one in CONTRACTS.md ("Mock upstream journal").
package journal

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// Paths the journal answers on every mock. They are never recorded.
const (
	EntriesPath = "/_journal"
	ResetPath   = "/_reset"
)

// Credential is the kind of credential a request presented. The secret
// itself is never recorded.
type Credential string

// The credential kinds of CONTRACTS.md.
const (
	CredentialNone        Credential = "none"
	CredentialProviderKey Credential = "provider_key"
	CredentialBearerJWT   Credential = "bearer_jwt"
	CredentialOther       Credential = "other"
)

// Entry is one request that reached a mock.
type Entry struct {
	Time       time.Time  `json:"time"`
	HTTPMethod string     `json:"http_method"`
	Path       string     `json:"path"`
	MCPMethod  string     `json:"mcp_method,omitempty"`
	Tool       string     `json:"tool,omitempty"`
	Resource   string     `json:"resource,omitempty"` // the URI of resources/read, subscribe, unsubscribe
	Prompt     string     `json:"prompt,omitempty"`   // the name of prompts/get
	Model      string     `json:"model,omitempty"`
	Credential Credential `json:"credential"`
	// Fields are what the body said, for comparing what different gateways forwarded
	// (conformance/parity): each member of a JSON object body, and each member of its objects
	// one level down ("params.name"), as compact JSON with sorted keys; a value longer than
	// FieldValueLimit is kept as "sha256:<hex>" of that JSON. Empty when the body is not a
	// JSON object.
	Fields map[string]string `json:"fields,omitempty"`
	// BodySHA256 is the hex SHA-256 of the body as it arrived (of its first describeLimit
	// bytes); empty for a request without a body.
	BodySHA256 string `json:"body_sha256,omitempty"`
}

// Describer fills the protocol fields of an entry (MCP method and tool, or
// model) from a request and the first bytes of its body. It must treat the
// body as hostile and leave the entry alone when it cannot parse it.
type Describer func(r *http.Request, body []byte, e *Entry)

// Config tells a Journal how to read the requests of its mock.
type Config struct {
	// Describe fills the protocol fields; nil records the HTTP fields and the body's Fields
	// and digest only.
	Describe Describer
	// ProviderKeys are the secrets that count as CredentialProviderKey.
	ProviderKeys []string
	// OnReset restores the mock's seed state; it runs on POST /_reset.
	OnReset func()
	// Now is the clock for entry times; nil means time.Now.
	Now func() time.Time
}

// Journal is an in-memory, concurrency-safe record of requests.
type Journal struct {
	cfg Config

	mu      sync.Mutex
	entries []Entry
}

// New returns an empty journal.
func New(cfg Config) *Journal {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.ProviderKeys = slices.DeleteFunc(slices.Clone(cfg.ProviderKeys), func(k string) bool { return k == "" })
	return &Journal{cfg: cfg}
}

// Record appends an entry.
func (j *Journal) Record(e Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, e)
}

// Entries returns a copy of the recorded entries, oldest first.
func (j *Journal) Entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// Reset restores the mock's seed state and empties the journal.
func (j *Journal) Reset() {
	if j.cfg.OnReset != nil {
		j.cfg.OnReset()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = nil
}
