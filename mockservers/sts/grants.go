package sts

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Grant and token types of RFC 6749 and RFC 8693.
const (
	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// Limits on what a caller may send.
const (
	maxFormBytes   = 64 << 10
	maxTokenBytes  = 8 << 10
	maxAttestBytes = 256
)

// oauthError is an RFC 6749 section 5.2 error response.
type oauthError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func invalidRequest(format string, a ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, a...)}
}

func invalidGrant(format string, a ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", fmt.Sprintf(format, a...)}
}

// tokenResponse is the RFC 6749 / RFC 8693 success response.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	resp, err := s.token(w, r)
	if err != nil {
		var oe *oauthError
		if !errors.As(err, &oe) {
			s.logger().Error("token endpoint failed", "err", err)
			oe = &oauthError{http.StatusInternalServerError, "server_error", "the token could not be issued"}
		}
		if oe.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="sts"`)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, oe.Status, oe)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) (tokenResponse, error) {
	form, err := readForm(w, r)
	if err != nil {
		return tokenResponse{}, err
	}
	switch grant := form.get("grant_type"); grant {
	case grantClientCredentials:
		return s.clientCredentials(r, form)
	case grantTokenExchange:
		return s.exchange(form)
	case "":
		return tokenResponse{}, invalidRequest("grant_type is required")
	default:
		return tokenResponse{}, &oauthError{http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", truncate(grant))}
	}
}

// form is a parsed token request body in which no parameter repeats.
type form map[string]string

func (f form) get(key string) string { return f[key] }

// readForm parses a bounded urlencoded body. Query parameters are ignored:
// credentials do not belong in URLs.
func readForm(w http.ResponseWriter, r *http.Request) (form, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, invalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("the request body is not a valid form")
	}
	f := form{}
	for key, values := range r.PostForm {
		if len(values) != 1 {
			return nil, invalidRequest("parameter %q is repeated", truncate(key))
		}
		f[key] = values[0]
	}
	return f, nil
}

// clientCredentials authenticates a principal and issues its bootstrap token: by its secret
// (client_secret_post or client_secret_basic), or, for a SPIFFE workload, by the JWT-SVID it
// presents as client assertion (AssertionTypeSPIFFE). A principal proves itself the one way its
// entry allows: a secret, or for a workload without one, a JWT-SVID.
func (s *Server) clientCredentials(r *http.Request, f form) (tokenResponse, error) {
	var (
		p   Principal
		err error
	)
	if f.get("client_assertion") != "" || f.get("client_assertion_type") != "" {
		p, err = s.assertedPrincipal(r, f)
	} else {
		p, err = s.secretPrincipal(r, f)
	}
	if err != nil {
		return tokenResponse{}, err
	}
	c := Claims{Roles: slices.Clone(p.Roles)}
	c.Subject = p.ID
	c.Audience = jwt.Audience{BootstrapAudience}
	for _, a := range []struct {
		name string
		dst  *string
	}{{"agent_id", &c.AgentID}, {"harness_version", &c.HarnessVersion}, {"task_id", &c.TaskID}} {
		v := f.get(a.name)
		if err := checkAttestation(a.name, v); err != nil {
			return tokenResponse{}, err
		}
		*a.dst = v
	}
	token, ttl, err := s.issue(c, s.cfg.BootstrapTTL, time.Time{})
	if err != nil {
		return tokenResponse{}, err
	}
	s.logger().Info("bootstrap token issued", "sub", p.ID, "agent_id", c.AgentID, "task_id", c.TaskID)
	return tokenResponse{AccessToken: token, IssuedTokenType: TokenTypeJWT, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second)}, nil
}

// invalidClient is every failed client authentication: the same answer whatever failed, so
// that a caller learns nothing of which principals exist or how they authenticate.
func invalidClient() error {
	return &oauthError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
}

// secretPrincipal authenticates a client by its secret.
func (s *Server) secretPrincipal(r *http.Request, f form) (Principal, error) {
	id, secret := f.get("client_id"), f.get("client_secret")
	if basicID, basicSecret, ok := r.BasicAuth(); ok {
		if id != "" || secret != "" {
			return Principal{}, invalidRequest("use one client authentication method, not two")
		}
		id, secret = basicID, basicSecret
	}
	p, known := s.principals[id]
	// Compare even for unknown ids so timing does not reveal which exist.
	ok := subtle.ConstantTimeCompare([]byte(secret), []byte(p.Secret)) == 1
	if !known || !ok || secret == "" {
		return Principal{}, invalidClient()
	}
	return p, nil
}

// assertedPrincipal authenticates a SPIFFE workload by its JWT-SVID: the principal is the
// SVID's SPIFFE ID, which must be a workload of the table (one without a secret) and, when the
// request names a client_id, that one.
func (s *Server) assertedPrincipal(r *http.Request, f form) (Principal, error) {
	if _, _, ok := r.BasicAuth(); ok || f.get("client_secret") != "" {
		return Principal{}, invalidRequest("use one client authentication method, not two")
	}
	if f.get("client_assertion_type") != AssertionTypeSPIFFE {
		return Principal{}, invalidRequest("client_assertion_type must be %s", AssertionTypeSPIFFE)
	}
	raw := f.get("client_assertion")
	if raw == "" || len(raw) > maxTokenBytes {
		return Principal{}, invalidRequest("client_assertion must be a JWT-SVID of at most %d bytes", maxTokenBytes)
	}
	id, err := s.cfg.SVIDs.verify(raw)
	if err != nil {
		s.logger().Info("a JWT-SVID was refused", "err", err)
		return Principal{}, invalidClient()
	}
	p, known := s.principals[id.String()]
	if !known || !p.attested() || (f.get("client_id") != "" && f.get("client_id") != p.ID) {
		s.logger().Info("a JWT-SVID names no workload of this STS", "spiffe_id", id.String())
		return Principal{}, invalidClient()
	}
	return p, nil
}

func checkAttestation(name, v string) error {
	if len(v) > maxAttestBytes {
		return invalidRequest("%s is longer than %d bytes", name, maxAttestBytes)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return invalidRequest("%s holds a non-printable character", name)
		}
	}
	return nil
}

// exchange is RFC 8693: a bootstrap subject token (and optionally an
// actor token) for a token scoped to one resource.
func (s *Server) exchange(f form) (tokenResponse, error) {
	resource := f.get("resource")
	switch {
	case f.get("subject_token") == "":
		return tokenResponse{}, invalidRequest("subject_token is required")
	case !isJWTType(f.get("subject_token_type")):
		return tokenResponse{}, invalidRequest("subject_token_type must be %s", TokenTypeJWT)
	case resource == "":
		return tokenResponse{}, invalidRequest("resource is required")
	case f.get("actor_token") != "" && !isJWTType(f.get("actor_token_type")):
		return tokenResponse{}, invalidRequest("actor_token_type must be %s", TokenTypeJWT)
	case f.get("actor_token") == "" && f.get("actor_token_type") != "":
		return tokenResponse{}, invalidRequest("actor_token_type without actor_token")
	}
	if !slices.Contains(s.cfg.Resources, resource) {
		return tokenResponse{}, &oauthError{http.StatusBadRequest, "invalid_target", fmt.Sprintf("unknown resource %q", truncate(resource))}
	}
	subject, err := s.verifyBootstrap("subject_token", f.get("subject_token"))
	if err != nil {
		return tokenResponse{}, err
	}
	var actor *Claims
	if raw := f.get("actor_token"); raw != "" {
		if actor, err = s.verifyBootstrap("actor_token", raw); err != nil {
			return tokenResponse{}, err
		}
	}

	// Roles come from the STS's own table, never from the presented token.
	c := Claims{
		Roles:          slices.Clone(s.principals[subject.Subject].Roles),
		AgentID:        subject.AgentID,
		HarnessVersion: subject.HarnessVersion,
		TaskID:         subject.TaskID,
	}
	c.Subject = subject.Subject
	c.Audience = jwt.Audience{resource}
	if actor != nil {
		c.AgentID = cmp.Or(c.AgentID, actor.AgentID)
		c.HarnessVersion = cmp.Or(c.HarnessVersion, actor.HarnessVersion)
		c.TaskID = cmp.Or(c.TaskID, actor.TaskID)
		if actor.Subject != subject.Subject {
			c.Act = &Actor{Subject: actor.Subject}
		}
	}
	// An exchanged token never outlives what it was exchanged from.
	notAfter := subject.Expiry.Time()
	if actor != nil && actor.Expiry.Time().Before(notAfter) {
		notAfter = actor.Expiry.Time()
	}
	token, ttl, err := s.issue(c, s.cfg.TTL, notAfter)
	if err != nil {
		return tokenResponse{}, err
	}
	actorSub := ""
	if c.Act != nil {
		actorSub = c.Act.Subject
	}
	s.logger().Info("token exchanged", "sub", c.Subject, "aud", resource, "act", actorSub, "task_id", c.TaskID)
	return tokenResponse{AccessToken: token, IssuedTokenType: TokenTypeJWT, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second)}, nil
}

func isJWTType(t string) bool { return t == TokenTypeJWT || t == tokenTypeAccessToken }

// verifyBootstrap checks that raw is a live bootstrap token this STS issued
// to a principal it still knows.
func (s *Server) verifyBootstrap(param, raw string) (*Claims, error) {
	if len(raw) > maxTokenBytes {
		return nil, invalidGrant("%s is too large", param)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, invalidGrant("%s is not an ES256 JWT", param)
	}
	var c Claims
	if err := tok.Claims(&s.key.PublicKey, &c); err != nil {
		return nil, invalidGrant("%s signature is not valid", param)
	}
	if c.Expiry == nil {
		return nil, invalidGrant("%s has no exp", param)
	}
	err = c.Claims.ValidateWithLeeway(jwt.Expected{
		Issuer:      s.cfg.Issuer,
		AnyAudience: jwt.Audience{BootstrapAudience},
		Time:        s.cfg.Now(),
	}, 0)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return nil, invalidGrant("%s expired", param)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, invalidGrant("%s is not a bootstrap token (aud must be %q)", param, BootstrapAudience)
	case err != nil:
		return nil, invalidGrant("%s is not valid: %v", param, err)
	}
	if _, ok := s.principals[c.Subject]; !ok {
		return nil, invalidGrant("%s names an unknown subject", param)
	}
	return &c, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
