// Package llm is the demo's mock model provider: OpenAI-compatible chat
// completions (tool calls, streaming), models and a minimal responses API,
// and Anthropic-compatible messages. It accepts only the provider key and
// the models it was started with, and answers from a deterministic Brain.
package llm

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hopguard/hopguard/mockservers/journal"
)

// Defaults of the demo (CONTRACTS.md "Demo seed").
const (
	DefaultProviderKey = "sk-hopguard-provider"
)

// DefaultModels are the models the demo's mock serves.
func DefaultModels() []string { return []string{"gpt-4o", "gpt-4o-mini"} }

// maxBodyBytes bounds a request body; conversations of the demo are far
// smaller.
const maxBodyBytes = 4 << 20

// Config configures the mock LLM.
type Config struct {
	// ProviderKey is the only credential accepted. Required.
	ProviderKey string
	// Models are the only models served, matched exactly. Required.
	Models []string
	// Brain answers conversations; nil means ScenarioBrain.
	Brain Brain
	// Now is the clock for timestamps; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the mock LLM as an http.Handler, journal endpoints included.
type Server struct {
	providerKey string
	models      []string
	brain       Brain
	now         func() time.Time
	logger      *slog.Logger
	journal     *journal.Journal
	handler     http.Handler
	lastID      atomic.Uint64
}

// New returns a mock LLM.
func New(cfg Config) (*Server, error) {
	if cfg.ProviderKey == "" {
		return nil, errors.New("llm: a provider key is required")
	}
	models := slices.DeleteFunc(slices.Clone(cfg.Models), func(m string) bool { return strings.TrimSpace(m) == "" })
	if len(models) == 0 {
		return nil, errors.New("llm: at least one model is required")
	}
	s := &Server{
		providerKey: cfg.ProviderKey,
		models:      models,
		brain:       cfg.Brain,
		now:         cfg.Now,
		logger:      cfg.Logger,
	}
	if s.brain == nil {
		s.brain = ScenarioBrain{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.journal = journal.New(journal.Config{
		Describe:     describeModelRequest,
		ProviderKeys: []string{cfg.ProviderKey},
		Now:          cfg.Now,
	})

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChatCompletions)
	mux.HandleFunc("GET /v1/models", s.handleListModels)
	mux.HandleFunc("GET /v1/models/{model}", s.handleGetModel)
	mux.HandleFunc("POST /v1/responses", s.handleResponses)
	mux.HandleFunc("POST /v1/messages", s.handleMessages)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeOpenAIError(w, http.StatusNotFound, "invalid_request_error", "unknown_url",
			fmt.Sprintf("Unknown request URL: %s %s.", r.Method, r.URL.Path))
	})
	s.handler = s.journal.Wrap(mux)
	return s, nil
}

// ServeHTTP serves the model APIs and the journal.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Journal is what reached the mock.
func (s *Server) Journal() *journal.Journal { return s.journal }

// Models are the models the mock serves.
func (s *Server) Models() []string { return slices.Clone(s.models) }

// authorized reports whether the request presented the provider key and
// nothing else: a request that also carries another credential (the
// agent's token, say) is refused, so a leak cannot pass unnoticed.
func (s *Server) authorized(r *http.Request) bool {
	var presented []string
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		presented = append(presented, strings.TrimSpace(token))
	}
	if key := r.Header.Get("X-Api-Key"); key != "" {
		presented = append(presented, strings.TrimSpace(key))
	}
	if len(presented) == 0 {
		return false
	}
	for _, p := range presented {
		if subtle.ConstantTimeCompare([]byte(p), []byte(s.providerKey)) != 1 {
			return false
		}
	}
	return true
}

// serves reports whether model is one of the served models, exactly.
func (s *Server) serves(model string) bool { return slices.Contains(s.models, model) }

// nextID returns a fresh id with the given prefix.
func (s *Server) nextID(prefix string) string {
	return fmt.Sprintf("%s%06d", prefix, s.lastID.Add(1))
}

// estimateTokens is a stable stand-in for a tokenizer: about four bytes a
// token, never zero.
func estimateTokens(n int) int { return n/4 + 1 }
