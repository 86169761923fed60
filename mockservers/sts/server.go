// Package sts is the demo's identity provider and security token service:
// it issues ES256 bootstrap tokens for the demo's principals
// (client_credentials) and exchanges them for short-lived per-resource
// tokens (RFC 8693), and publishes its key as a JWKS.
//
// Wire format: CONTRACTS.md "Tokens". The client the agent uses is package
// agent/identity; this package's tests drive the server with it.
package sts

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hopguard/hopguard/mockservers/journal"
)

// Endpoint paths.
const (
	TokenPath     = "/oauth2/token"
	JWKSPath      = "/.well-known/jwks.json"
	DiscoveryPath = "/.well-known/openid-configuration"
)

// Server is the STS as an http.Handler, journal endpoints included.
type Server struct {
	cfg        Config
	principals map[string]Principal
	key        *ecdsa.PrivateKey
	jwk        jose.JSONWebKey
	signer     jose.Signer
	journal    *journal.Journal
	handler    http.Handler
}

// New returns an STS.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sts config: %w", err)
	}
	key := cfg.Key
	if key == nil {
		var err error
		if key, err = GenerateKey(); err != nil {
			return nil, err
		}
	}
	jwk, err := publicJWK(key)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: jwk.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("build signer: %w", err)
	}
	s := &Server{
		cfg:        cfg,
		principals: make(map[string]Principal, len(cfg.Principals)),
		key:        key,
		jwk:        jwk,
		signer:     signer,
	}
	for _, p := range cfg.Principals {
		p.Roles = slices.Clone(p.Roles)
		s.principals[p.ID] = p
	}
	s.journal = journal.New(journal.Config{Now: cfg.Now})

	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, s.handleToken)
	mux.HandleFunc("GET "+JWKSPath, s.handleJWKS)
	mux.HandleFunc("GET "+DiscoveryPath, s.handleDiscovery)
	s.handler = s.journal.Wrap(mux)
	return s, nil
}

// ServeHTTP serves the token endpoint, the JWKS, discovery and the journal.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Journal is what reached the STS.
func (s *Server) Journal() *journal.Journal { return s.journal }

// Issuer is the iss of every token.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// JWKS is the key set that verifies every token.
func (s *Server) JWKS() jose.JSONWebKeySet { return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.jwk}} }

// PublicKey verifies every token.
func (s *Server) PublicKey() *ecdsa.PublicKey { return &s.key.PublicKey }

// Sign signs arbitrary claims with the STS key. Tests use it to forge
// tokens the STS would never issue (expired, wrong audience, ...) that
// still carry a valid signature.
func (s *Server) Sign(c Claims) (string, error) {
	token, err := jwt.Signed(s.signer).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return token, nil
}

// issue signs a token for sub with the configured issuer and a fresh jti.
func (s *Server) issue(c Claims, ttl time.Duration, notAfter time.Time) (string, time.Duration, error) {
	now := s.cfg.Now()
	exp := now.Add(ttl)
	if !notAfter.IsZero() && notAfter.Before(exp) {
		exp = notAfter
	}
	jti, err := newJTI()
	if err != nil {
		return "", 0, err
	}
	c.Issuer = s.cfg.Issuer
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now)
	c.Expiry = jwt.NewNumericDate(exp)
	c.ID = jti
	if c.Roles == nil {
		c.Roles = []string{}
	}
	token, err := s.Sign(c)
	if err != nil {
		return "", 0, err
	}
	return token, exp.Sub(now).Truncate(time.Second), nil
}

func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("jti: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.JWKS())
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	base := "http://" + r.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.cfg.Issuer,
		"jwks_uri":                              base + JWKSPath,
		"token_endpoint":                        base + TokenPath,
		"grant_types_supported":                 []string{grantClientCredentials, grantTokenExchange},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"id_token_signing_alg_values_supported": []string{string(jose.ES256)},
	})
}

// logger is the configured logger.
func (s *Server) logger() *slog.Logger { return s.cfg.Logger }
