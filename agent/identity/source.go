package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultRefreshBefore is how long before expiry a cached token is replaced,
// so that a token never expires between being handed out and being checked.
const DefaultRefreshBefore = 30 * time.Second

// SourceConfig says who the agent is and where it gets its tokens.
type SourceConfig struct {
	STS *STSClient
	// Subject is the principal the agent runs as: a user, or the workload
	// itself when it is autonomous.
	Subject ClientCredentials
	// Actor is the agent workload's own credential when Subject is a user it
	// acts for; nil when the agent acts as itself.
	Actor       *ClientCredentials
	Attestation Attestation
	// RefreshBefore defaults to DefaultRefreshBefore.
	RefreshBefore time.Duration
}

// Source hands out one token per resource, exchanging (and re-exchanging as
// they near expiry) at the STS. It is safe for concurrent use; callers block
// while a token is fetched.
type Source struct {
	cfg SourceConfig
	now func() time.Time

	mu       sync.Mutex
	subject  Token
	actor    Token
	resource map[string]Token
}

// NewSource returns a source for cfg. It does not contact the STS until
// Bootstrap or Token is called.
func NewSource(cfg SourceConfig) (*Source, error) {
	if cfg.STS == nil || cfg.STS.TokenURL == "" {
		return nil, errors.New("identity: an STS token URL is required")
	}
	if err := cfg.Subject.check(); err != nil {
		return nil, fmt.Errorf("identity: bootstrap credential: %w", err)
	}
	if cfg.Actor != nil {
		if err := cfg.Actor.check(); err != nil {
			return nil, fmt.Errorf("identity: actor credential: %w", err)
		}
	}
	if cfg.RefreshBefore <= 0 {
		cfg.RefreshBefore = DefaultRefreshBefore
	}
	now := time.Now
	if cfg.STS.Now != nil {
		now = cfg.STS.Now
	}
	return &Source{cfg: cfg, now: now, resource: map[string]Token{}}, nil
}

// Principal is the client id the agent runs as.
func (s *Source) Principal() string { return s.cfg.Subject.ClientID }

// Actor is the client id of the workload acting for Principal, or "".
func (s *Source) Actor() string {
	if s.cfg.Actor == nil {
		return ""
	}
	return s.cfg.Actor.ClientID
}

// Bootstrap gets the bootstrap token(s) now, so that a bad credential fails
// the run at boot rather than at the first hop.
func (s *Source) Bootstrap(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bootstrapLocked(ctx)
}

// Token returns the bearer token for resource ("llm", "mcp:payments", ...).
func (s *Source) Token(ctx context.Context, resource string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok, ok := s.resource[resource]; ok && s.fresh(tok) {
		return tok.Value, nil
	}
	if err := s.bootstrapLocked(ctx); err != nil {
		return "", err
	}
	tok, err := s.cfg.STS.Exchange(ctx, ExchangeRequest{
		SubjectToken: s.subject.Value,
		Resource:     resource,
		ActorToken:   s.actor.Value,
	})
	if err != nil {
		return "", err
	}
	s.resource[resource] = tok
	return tok.Value, nil
}

// TokenFunc returns a function that gets the token for one resource, for
// clients that take their credential per request.
func (s *Source) TokenFunc(resource string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) { return s.Token(ctx, resource) }
}

func (s *Source) bootstrapLocked(ctx context.Context) error {
	if !s.fresh(s.subject) {
		tok, err := s.cfg.STS.Bootstrap(ctx, s.cfg.Subject, s.cfg.Attestation)
		if err != nil {
			return err
		}
		s.subject = tok
	}
	if s.cfg.Actor != nil && !s.fresh(s.actor) {
		tok, err := s.cfg.STS.Bootstrap(ctx, *s.cfg.Actor, s.cfg.Attestation)
		if err != nil {
			return fmt.Errorf("actor: %w", err)
		}
		s.actor = tok
	}
	return nil
}

func (s *Source) fresh(t Token) bool {
	return t.Value != "" && s.now().Add(s.cfg.RefreshBefore).Before(t.ExpiresAt)
}
