package mapping

import (
	"strings"
)

// The MCP methods decided per resource or per prompt rather than per server: a policy can then
// let an agent read one document and not another, which is how an agent would take data away
// without calling a single tool.
const (
	MethodResourcesRead        = "resources/read"
	MethodResourcesSubscribe   = "resources/subscribe"
	MethodResourcesUnsubscribe = "resources/unsubscribe"
	MethodPromptsGet           = "prompts/get"
	MethodCompletionComplete   = "completion/complete"

	ActionPromptsGetPrefix = "prompts/get/" // followed by the prompt name

	MaxURI        = 2048
	MaxPromptName = MaxToolName
)

// CodeInvalidResourceURI: a resource URI missing, or not in its one canonical spelling.
// CodeInvalidPrompt: prompts/get without a valid name, or arguments that are not strings.
// CodeInvalidCompletion: completion/complete without a valid ref.
const (
	CodeInvalidResourceURI = "invalid_resource_uri"
	CodeInvalidPrompt      = "invalid_prompt"
	CodeInvalidCompletion  = "invalid_completion"
)

// resourceRequest completes the check of a resources/read, subscribe or unsubscribe: the
// resource's own id, "<server>/<uri>", and its URI as an attribute.
func resourceRequest(c *Check, params any, server, method string) *Error {
	p, err := paramsObject(params, method, CodeInvalidResourceURI, "uri")
	if err != nil {
		return err
	}
	uri, ok := p["uri"].(string)
	if !ok {
		return deny(CodeInvalidResourceURI, "%s needs params.uri, a string", method)
	}
	if err := canonicalURI(uri); err != nil {
		return err
	}
	c.ID = server + "/" + uri
	c.Attr["uri"] = uri
	return nil
}

// promptGet completes the check of a prompts/get: the prompt's own id and action, and its
// arguments (strings, as MCP has them) as attributes.
func promptGet(c *Check, params any, server string) *Error {
	p, err := paramsObject(params, MethodPromptsGet, CodeInvalidPrompt, "name", "arguments")
	if err != nil {
		return err
	}
	name, ok := p["name"].(string)
	if !ok || len(name) > MaxPromptName || !nameChars(name, "_.-") {
		return deny(CodeInvalidPrompt, "prompts/get needs a prompt name of 1 to %d letters, digits, '_', '.' or '-'", MaxPromptName)
	}
	args := map[string]any{}
	if raw, present := p["arguments"]; present {
		a, ok := raw.(map[string]any)
		if !ok {
			return deny(CodeInvalidPrompt, "prompts/get arguments must be an object")
		}
		for k, v := range a {
			if _, ok := v.(string); !ok {
				return deny(CodeInvalidPrompt, "prompts/get argument %q must be a string", clip(k))
			}
		}
		args = a
	}
	c.ID = server + "/" + name
	c.Action = ActionPromptsGetPrefix + name
	c.Attr["prompt"] = name
	c.Attr["arguments"] = args
	return nil
}

// completion completes the check of a completion/complete by what it completes: a prompt's
// argument (ref/prompt, by name) or a resource template's (ref/resource, by URI).
func completion(c *Check, params any, server string) *Error {
	p, err := paramsObject(params, MethodCompletionComplete, CodeInvalidCompletion, "ref", "argument", "context")
	if err != nil {
		return err
	}
	ref, err := paramsObject(p["ref"], "completion/complete ref", CodeInvalidCompletion, "type", "name", "uri")
	if err != nil {
		return err
	}
	switch ref["type"] {
	case "ref/prompt":
		name, ok := ref["name"].(string)
		if !ok || len(name) > MaxPromptName || !nameChars(name, "_.-") {
			return deny(CodeInvalidCompletion, "a ref/prompt needs the prompt's name")
		}
		c.ID, c.Attr["ref_type"], c.Attr["ref"] = server+"/"+name, "prompt", name
	case "ref/resource":
		uri, ok := ref["uri"].(string)
		if !ok {
			return deny(CodeInvalidCompletion, "a ref/resource needs the template's uri")
		}
		if err := canonicalURI(uri); err != nil {
			return err
		}
		c.ID, c.Attr["ref_type"], c.Attr["ref"] = server+"/"+uri, "resource", uri
	default:
		return deny(CodeInvalidCompletion, "completion/complete ref.type must be ref/prompt or ref/resource")
	}
	return nil
}

// paramsObject is params as an object whose members named in read are spelt exactly: a member
// that differs from one in case only ("URI") is refused, since a Go server would read it.
func paramsObject(params any, what, code string, read ...string) (map[string]any, *Error) {
	p, ok := params.(map[string]any)
	if !ok {
		return nil, deny(code, "%s params must be an object", what)
	}
	for k := range p {
		for _, name := range read {
			if k != name && strings.EqualFold(k, name) {
				return nil, deny(CodeCaseVariantKey, "%s has %q; only %q is read", what, clip(k), name)
			}
		}
	}
	return p, nil
}

// canonicalURI accepts a resource URI only in its one canonical spelling, so that a policy that
// names a URI is never bypassed by another spelling of it, and refuses every other:
//   - a lower-case scheme, and a lower-case authority without user information;
//   - no dot segments, no empty segment (//) after the authority, no trailing slash (but a
//     lone "/"), no fragment;
//   - percent-encoding only where it is needed: upper-case hex digits, never for an unreserved
//     character or a slash (%2F would hide a segment boundary);
//   - printable ASCII, at most MaxURI bytes (an IRI is sent percent-encoded).
func canonicalURI(uri string) *Error {
	bad := func(why string) *Error {
		return deny(CodeInvalidResourceURI, "resource URI %q is refused: %s (send it in its canonical form)", clip(uri), why)
	}
	if uri == "" || len(uri) > MaxURI {
		return bad("it must be 1 to 2048 bytes")
	}
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= 0x20 || c >= 0x7f {
			return bad("it holds a byte that is not printable ASCII")
		}
	}
	colon := strings.IndexByte(uri, ':')
	if colon < 1 || !isLowerScheme(uri[:colon]) {
		return bad("it needs a lower-case scheme")
	}
	if strings.ContainsRune(uri, '#') {
		return bad("it has a fragment")
	}
	if err := canonicalEscapes(uri); err != "" {
		return bad(err)
	}
	rest := uri[colon+1:]
	path := rest
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	if strings.HasPrefix(path, "//") {
		authority := path[2:]
		if slash := strings.IndexByte(authority, '/'); slash >= 0 {
			authority, path = authority[:slash], authority[slash:]
		} else {
			path = ""
		}
		if strings.ContainsRune(authority, '@') {
			return bad("it carries user information")
		}
		if strings.ToLower(authority) != authority {
			return bad("its authority is not lower case")
		}
	}
	if path == "" || path == "/" {
		return nil
	}
	if strings.HasSuffix(path, "/") {
		return bad("it ends in a slash")
	}
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		switch seg {
		case "":
			return bad("it has an empty path segment")
		case ".", "..":
			return bad("it has a dot segment")
		}
	}
	return nil
}

func isLowerScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// canonicalEscapes says what is wrong with uri's percent-encoding, or "".
func canonicalEscapes(uri string) string {
	for i := 0; i < len(uri); i++ {
		if uri[i] != '%' {
			continue
		}
		if i+2 >= len(uri) || !isUpperHex(uri[i+1]) || !isUpperHex(uri[i+2]) {
			return "a percent-encoding is not two upper-case hex digits"
		}
		b := unhex(uri[i+1])<<4 | unhex(uri[i+2])
		if b == '/' || isUnreserved(b) {
			return "it percent-encodes a character that needs none, or a slash"
		}
		i += 2
	}
	return ""
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

func isUnreserved(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~'
}
