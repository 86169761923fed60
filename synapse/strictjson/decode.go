package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Defaults used when a Limits field is zero or negative.
const (
	DefaultMaxBytes = 4 << 20
	DefaultMaxDepth = 64
)

// smallObject is how many keys an object may have before duplicate detection switches from
// comparing every pair (no allocation) to a set of folded keys (linear time on big objects).
const smallObject = 16

// Limits bound the resources one document may use. The counts are checked as the document is
// read, so a document over a limit is refused as soon as the limit is passed: the work spent on
// it is bounded by the limits, not by its size.
type Limits struct {
	MaxBytes int // longest document accepted, in bytes
	MaxDepth int // deepest nesting of arrays and objects; a scalar document has depth 0
	// MaxValues bounds the values of the whole document: every object, array, string, number,
	// true, false and null, at any depth (an object's keys are not values). Zero or negative:
	// bounded by MaxBytes alone, since every value takes a byte at least.
	MaxValues int
	// MaxMembers bounds the members of one object; zero or negative: bounded by MaxBytes alone.
	MaxMembers int
	// MaxElements bounds the elements of one array; zero or negative: bounded by MaxBytes alone.
	MaxElements int
	// MaxString bounds one string, key or value, in bytes once unescaped; zero or negative:
	// bounded by MaxBytes alone.
	MaxString int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	l.MaxValues = orBytes(l.MaxValues, l.MaxBytes)
	l.MaxMembers = orBytes(l.MaxMembers, l.MaxBytes)
	l.MaxElements = orBytes(l.MaxElements, l.MaxBytes)
	l.MaxString = orBytes(l.MaxString, l.MaxBytes)
	return l
}

// orBytes is a count limit n, or maxBytes when n is not set: no document of maxBytes holds
// more values, members, elements or string bytes than that.
func orBytes(n, maxBytes int) int {
	if n <= 0 {
		return maxBytes
	}
	return n
}

// Decode parses data as exactly one JSON value (surrounding whitespace allowed) and returns it
// as map[string]any, []any, string, json.Number, bool or nil. See the package documentation for
// what it rejects; every rejection is an *Error.
func Decode(data []byte, lim Limits) (any, error) {
	d, err := newDecoder(data, lim)
	if err != nil {
		return nil, err
	}
	v, err := d.value(true)
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeMembers validates data exactly as Decode does, requires it to be an object, and returns
// only the members whose keys are among names, decoded. The other members are checked but never
// materialised, which keeps a large body (a chat history) cheap when only a few top-level fields
// decide. A key that equals one of names only when case is ignored is rejected with
// ErrCaseVariant: a case-insensitive parser downstream would read it as that member.
func DecodeMembers(data []byte, lim Limits, names ...string) (map[string]any, error) {
	d, err := newDecoder(data, lim)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, d.errAt(d.pos, ErrSyntax, "expected a JSON object")
	}
	if err := d.countValue(); err != nil {
		return nil, err
	}
	m, err := d.object(false, names)
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return m, nil
}

type decoder struct {
	data   []byte
	pos    int
	depth  int
	values int // values read so far
	lim    Limits
	// keys holds the keys of the objects being parsed, innermost last, for duplicate detection.
	// Each slice aliases data, or a decoded copy when the key had escapes.
	keys   [][]byte
	keyBuf [2 * smallObject][]byte // first backing array of keys: typical documents never grow it
}

func newDecoder(data []byte, lim Limits) (*decoder, error) {
	lim = lim.withDefaults()
	d := &decoder{data: data, lim: lim}
	d.keys = d.keyBuf[:0]
	if len(data) > lim.MaxBytes {
		return nil, d.errAt(lim.MaxBytes, ErrTooLarge, fmt.Sprintf("%d bytes, limit %d", len(data), lim.MaxBytes))
	}
	return d, nil
}

func (d *decoder) errAt(off int, kind error, detail string) *Error {
	return &Error{Kind: kind, Offset: off, Detail: detail}
}

func (d *decoder) unexpected() *Error {
	if d.pos >= len(d.data) {
		return d.errAt(d.pos, ErrSyntax, "unexpected end of input")
	}
	return d.errAt(d.pos, ErrSyntax, fmt.Sprintf("unexpected character %q", d.data[d.pos]))
}

func (d *decoder) end() error {
	d.skipSpace()
	if d.pos != len(d.data) {
		return d.errAt(d.pos, ErrSyntax, "data after the JSON value")
	}
	return nil
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value parses the value at d.pos; when keep is false it is validated and nil is returned.
func (d *decoder) value(keep bool) (any, error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, d.unexpected()
	}
	if err := d.countValue(); err != nil {
		return nil, err
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		if keep {
			return d.object(true, nil)
		}
		_, err := d.object(false, nil)
		return nil, err
	case c == '[':
		return d.array(keep)
	case c == '"':
		s, err := d.readString()
		if err != nil || !keep {
			return nil, err
		}
		return intern(s), nil
	case c == 't':
		return d.literal("true", true, keep)
	case c == 'f':
		return d.literal("false", false, keep)
	case c == 'n':
		return d.literal("null", nil, keep)
	case c == '-' || ('0' <= c && c <= '9'):
		start := d.pos
		if err := d.scanNumber(); err != nil {
			return nil, err
		}
		if !keep {
			return nil, nil
		}
		return json.Number(d.data[start:d.pos]), nil
	default:
		return nil, d.unexpected()
	}
}

// countValue counts the value at d.pos against Limits.MaxValues.
func (d *decoder) countValue() error {
	if d.values++; d.values > d.lim.MaxValues {
		return d.errAt(d.pos, ErrTooComplex, fmt.Sprintf("more than %d values", d.lim.MaxValues))
	}
	return nil
}

func (d *decoder) literal(word string, v any, keep bool) (any, error) {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return nil, d.unexpected()
	}
	d.pos += len(word)
	if !keep {
		return nil, nil
	}
	return v, nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > d.lim.MaxDepth {
		return d.errAt(d.pos, ErrTooDeep, fmt.Sprintf("more than %d levels", d.lim.MaxDepth))
	}
	return nil
}

// object parses the object at d.pos. With keep it returns every member; with names (the
// top level of DecodeMembers) only the named ones; otherwise it validates and returns nil.
func (d *decoder) object(keep bool, names []string) (map[string]any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // '{'
	var m map[string]any
	if keep || names != nil {
		m = make(map[string]any)
	}
	mark := len(d.keys)
	var folded map[string]struct{} // set of folded keys, once the object is no longer small
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return m, nil
	}
	for members := 1; ; members++ {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.unexpected()
		}
		keyAt := d.pos
		// Checked before the key is read: a wide object stops here, before its keys cost a
		// duplicate check each.
		if members > d.lim.MaxMembers {
			return nil, d.errAt(keyAt, ErrTooComplex, fmt.Sprintf("an object with more than %d members", d.lim.MaxMembers))
		}
		key, err := d.readString()
		if err != nil {
			return nil, err
		}
		if folded, err = d.noteKey(mark, folded, key, keyAt); err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.unexpected()
		}
		d.pos++
		keepValue, err := d.selects(keep, names, key, keyAt)
		if err != nil {
			return nil, err
		}
		v, err := d.value(keepValue)
		if err != nil {
			return nil, err
		}
		if keepValue {
			m[intern(key)] = v
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.unexpected()
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.keys = d.keys[:mark]
			d.depth--
			return m, nil
		default:
			return nil, d.unexpected()
		}
	}
}

// selects reports whether the value of the member named key is to be materialised.
func (d *decoder) selects(keep bool, names []string, key []byte, keyAt int) (bool, error) {
	if names == nil {
		return keep, nil
	}
	for _, name := range names {
		if string(key) == name {
			return true, nil
		}
		if bytes.EqualFold(key, []byte(name)) {
			return false, d.errAt(keyAt, ErrCaseVariant, fmt.Sprintf("key %s for %q", quoteShort(key), name))
		}
	}
	return false, nil
}

// noteKey records key as a member of the object whose first key is d.keys[mark] and fails if
// an earlier member has the same key, ignoring case the way encoding/json matches fields.
func (d *decoder) noteKey(mark int, folded map[string]struct{}, key []byte, keyAt int) (map[string]struct{}, error) {
	dup := func() error {
		return d.errAt(keyAt, ErrDuplicateKey, "key "+quoteShort(key))
	}
	if folded == nil && len(d.keys)-mark < smallObject {
		for _, k := range d.keys[mark:] {
			if bytes.EqualFold(k, key) {
				return nil, dup()
			}
		}
		d.keys = append(d.keys, key)
		return nil, nil
	}
	if folded == nil {
		folded = make(map[string]struct{}, 4*smallObject)
		for _, k := range d.keys[mark:] {
			folded[foldKey(k)] = struct{}{}
		}
	}
	f := foldKey(key)
	if _, ok := folded[f]; ok {
		return nil, dup()
	}
	folded[f] = struct{}{}
	return folded, nil
}

func (d *decoder) array(keep bool) ([]any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // '['
	var a []any
	if keep {
		a = []any{} // encoding/json decodes [] to an empty, non-nil slice
	}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return a, nil
	}
	for elements := 1; ; elements++ {
		if elements > d.lim.MaxElements {
			return nil, d.errAt(d.pos, ErrTooComplex, fmt.Sprintf("an array with more than %d elements", d.lim.MaxElements))
		}
		v, err := d.value(keep)
		if err != nil {
			return nil, err
		}
		if keep {
			a = append(a, v)
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.unexpected()
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return a, nil
		default:
			return nil, d.unexpected()
		}
	}
}

// scanNumber advances over the number at d.pos, following the JSON grammar exactly:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *decoder) scanNumber() error {
	i := d.pos
	if d.data[i] == '-' {
		i++
	}
	switch {
	case i < len(d.data) && d.data[i] == '0':
		i++
	case i < len(d.data) && '1' <= d.data[i] && d.data[i] <= '9':
		i = d.digits(i)
	default:
		return d.errAt(i, ErrSyntax, "invalid number")
	}
	if i < len(d.data) && d.data[i] == '.' {
		j := d.digits(i + 1)
		if j == i+1 {
			return d.errAt(j, ErrSyntax, "invalid number")
		}
		i = j
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		j := d.digits(i)
		if j == i {
			return d.errAt(j, ErrSyntax, "invalid number")
		}
		i = j
	}
	d.pos = i
	return nil
}

func (d *decoder) digits(i int) int {
	for i < len(d.data) && '0' <= d.data[i] && d.data[i] <= '9' {
		i++
	}
	return i
}
