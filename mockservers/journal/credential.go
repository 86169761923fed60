package journal

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// classifyCredential names the kind of credential the headers carry. A JWT
// anywhere wins over a provider key: a test that proves the agent's token
// never reached an upstream must see it even when the gateway also added the
// provider key.
func classifyCredential(h http.Header, providerKeys []string) Credential {
	var presented []string
	if auth := strings.TrimSpace(h.Get("Authorization")); auth != "" {
		scheme, value, found := strings.Cut(auth, " ")
		if found && strings.EqualFold(scheme, "Bearer") {
			presented = append(presented, strings.TrimSpace(value))
		} else {
			presented = append(presented, auth)
		}
	}
	if key := strings.TrimSpace(h.Get("X-Api-Key")); key != "" {
		presented = append(presented, key)
	}
	if len(presented) == 0 {
		return CredentialNone
	}
	kind := CredentialOther
	for _, value := range presented {
		switch {
		case looksLikeJWT(value):
			return CredentialBearerJWT
		case isProviderKey(value, providerKeys):
			kind = CredentialProviderKey
		}
	}
	return kind
}

// isProviderKey reports whether value is one of keys, in constant time per
// key so that a mock does not leak its key through timing.
func isProviderKey(value string, keys []string) bool {
	match := 0
	for _, k := range keys {
		match |= subtle.ConstantTimeCompare([]byte(value), []byte(k))
	}
	return match == 1
}

// looksLikeJWT reports whether s has the shape of a compact JWS: three
// base64url segments whose header is a JSON object naming an algorithm. The
// signature is not checked; the journal only names what was presented.
func looksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(raw, &header) == nil && header.Alg != ""
}
