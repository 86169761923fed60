package journal

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A real ES256 JWT header ({"alg":"ES256","typ":"JWT"}) with dummy payload
// and signature: the classifier looks at the shape only.
const jwtShaped = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"

func TestClassifyCredential(t *testing.T) {
	keys := []string{"sk-hopguard-provider"}
	tests := []struct {
		name    string
		headers map[string]string
		want    Credential
	}{
		{"nothing", nil, CredentialNone},
		{"blank authorization", map[string]string{"Authorization": "   "}, CredentialNone},
		{"provider key as bearer", map[string]string{"Authorization": "Bearer sk-hopguard-provider"}, CredentialProviderKey},
		{"provider key as x-api-key", map[string]string{"X-Api-Key": "sk-hopguard-provider"}, CredentialProviderKey},
		{"bearer scheme is case-insensitive", map[string]string{"Authorization": "bearer sk-hopguard-provider"}, CredentialProviderKey},
		{"wrong key", map[string]string{"Authorization": "Bearer sk-other"}, CredentialOther},
		{"key prefix is not the key", map[string]string{"Authorization": "Bearer sk-hopguard-provide"}, CredentialOther},
		{"basic auth", map[string]string{"Authorization": "Basic YWxpY2U6c2VjcmV0"}, CredentialOther},
		{"jwt", map[string]string{"Authorization": "Bearer " + jwtShaped}, CredentialBearerJWT},
		{"jwt wins over provider key", map[string]string{"Authorization": "Bearer " + jwtShaped, "X-Api-Key": "sk-hopguard-provider"}, CredentialBearerJWT},
		{"three segments without a header", map[string]string{"Authorization": "Bearer a.b.c"}, CredentialOther},
		{"two segments", map[string]string{"Authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.e30"}, CredentialOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			assert.Equal(t, tt.want, classifyCredential(h, keys))
		})
	}
}

func TestClassifyCredentialWithoutProviderKeys(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer anything")
	assert.Equal(t, CredentialOther, classifyCredential(h, nil))
}
