package strictjson

import (
	"errors"
	"fmt"
)

// The kinds of rejection; an *Error wraps exactly one of them, so callers test with errors.Is.
var (
	// ErrSyntax: not a JSON document (including trailing data, NaN, comments, a byte-order mark).
	ErrSyntax = errors.New("invalid JSON")
	// ErrInvalidUTF8: invalid UTF-8 bytes, or a \u escape that leaves a lone UTF-16 surrogate.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrDuplicateKey: two keys of one object are equal, ignoring case as encoding/json does.
	ErrDuplicateKey = errors.New("duplicate object key")
	// ErrCaseVariant: DecodeMembers found a key that matches a requested name only when case is
	// ignored, such as "Model" for "model".
	ErrCaseVariant = errors.New("key differs from a known member only by case")
	// ErrTooDeep: arrays and objects nested deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("JSON nested too deeply")
	// ErrTooLarge: the document is longer than Limits.MaxBytes.
	ErrTooLarge = errors.New("JSON document too large")
	// ErrTooComplex: more values, object members, array elements or string bytes than Limits
	// allow.
	ErrTooComplex = errors.New("JSON document too complex")
)

// Error reports why and where a document was rejected.
type Error struct {
	Kind   error  // one of the Err* values of this package
	Offset int    // byte offset in the input where the problem was found
	Detail string // what was found there, for logs and denial reasons
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v at offset %d: %s", e.Kind, e.Offset, e.Detail)
}

// Unwrap returns the kind, so that errors.Is(err, ErrDuplicateKey) works.
func (e *Error) Unwrap() error { return e.Kind }
