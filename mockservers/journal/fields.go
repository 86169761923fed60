package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
)

// FieldValueLimit is the longest value Fields keeps as it is; a longer one is kept as its digest.
const FieldValueLimit = 256

// DigestPrefix starts a field value kept as its digest.
const DigestPrefix = "sha256:"

// bodyDigest is the hex SHA-256 of body, "" for no body.
func bodyDigest(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// bodyFields flattens a JSON object body two levels deep into compact, key-sorted JSON values
// (see Entry.Fields). Anything that is not one JSON object gives nil.
func bodyFields(body []byte) map[string]string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers stay as they were written: 9e2 is not 900
	var top map[string]any
	if dec.Decode(&top) != nil || top == nil {
		return nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil // trailing data: not one JSON value
	}
	out := map[string]string{}
	for k, v := range top {
		inner, ok := v.(map[string]any)
		if !ok || len(inner) == 0 {
			out[k] = fieldValue(v)
			continue
		}
		for ik, iv := range inner {
			out[k+"."+ik] = fieldValue(iv)
		}
	}
	return out
}

// fieldValue is v as compact JSON with sorted keys, or its digest when that is long.
func fieldValue(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return ""
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) <= FieldValueLimit {
		return string(b)
	}
	sum := sha256.Sum256(b)
	return DigestPrefix + hex.EncodeToString(sum[:])
}
