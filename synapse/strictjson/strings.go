package strictjson

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// readString reads the string whose opening quote is at d.pos and returns its decoded content,
// refusing one longer than Limits.MaxString once decoded. Without escapes the result aliases
// d.data and nothing is allocated.
func (d *decoder) readString() ([]byte, error) {
	at := d.pos
	s, err := d.scanString()
	if err != nil {
		return nil, err
	}
	if len(s) > d.lim.MaxString {
		return nil, d.errAt(at, ErrTooComplex, fmt.Sprintf("a string of %d bytes, more than %d", len(s), d.lim.MaxString))
	}
	return s, nil
}

func (d *decoder) scanString() ([]byte, error) {
	start := d.pos + 1
	for i := start; i < len(d.data); {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return d.data[start:i], nil
		case c == '\\':
			return d.readEscaped(start, i)
		case c < 0x20:
			return nil, d.errAt(i, ErrSyntax, "control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			n, err := d.validRune(i)
			if err != nil {
				return nil, err
			}
			i += n
		}
	}
	return nil, d.errAt(len(d.data), ErrSyntax, "unterminated string")
}

// readEscaped finishes a string whose first escape is at i, decoding into a new buffer.
func (d *decoder) readEscaped(start, i int) ([]byte, error) {
	buf := make([]byte, i-start, i-start+32)
	copy(buf, d.data[start:i])
	for i < len(d.data) {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return buf, nil
		case c == '\\':
			var err error
			if buf, i, err = d.appendEscape(buf, i); err != nil {
				return nil, err
			}
		case c < 0x20:
			return nil, d.errAt(i, ErrSyntax, "control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			n, err := d.validRune(i)
			if err != nil {
				return nil, err
			}
			buf = append(buf, d.data[i:i+n]...)
			i += n
		}
	}
	return nil, d.errAt(len(d.data), ErrSyntax, "unterminated string")
}

// appendEscape decodes the escape sequence at i (a backslash) onto buf and returns the index
// after it. A \u escape that leaves half of a UTF-16 surrogate pair is invalid Unicode:
// encoding/json would turn it into U+FFFD, so it is rejected here.
func (d *decoder) appendEscape(buf []byte, i int) ([]byte, int, error) {
	if i+1 >= len(d.data) {
		return nil, 0, d.errAt(i, ErrSyntax, "unterminated string")
	}
	switch e := d.data[i+1]; e {
	case '"', '\\', '/':
		return append(buf, e), i + 2, nil
	case 'b':
		return append(buf, '\b'), i + 2, nil
	case 'f':
		return append(buf, '\f'), i + 2, nil
	case 'n':
		return append(buf, '\n'), i + 2, nil
	case 'r':
		return append(buf, '\r'), i + 2, nil
	case 't':
		return append(buf, '\t'), i + 2, nil
	case 'u':
		r, ok := hex4(d.data[i+2:])
		if !ok {
			return nil, 0, d.errAt(i, ErrSyntax, "invalid \\u escape")
		}
		next := i + 6
		if utf16.IsSurrogate(r) {
			low, ok := rune(-1), false
			if r < 0xdc00 && next+1 < len(d.data) && d.data[next] == '\\' && d.data[next+1] == 'u' {
				low, ok = hex4(d.data[next+2:])
			}
			pair := utf16.DecodeRune(r, low)
			if !ok || pair == utf8.RuneError {
				return nil, 0, d.errAt(i, ErrInvalidUTF8, "lone UTF-16 surrogate in \\u escape")
			}
			r, next = pair, next+6
		}
		return utf8.AppendRune(buf, r), next, nil
	default:
		return nil, 0, d.errAt(i, ErrSyntax, "invalid escape")
	}
}

// validRune returns the length of the valid UTF-8 sequence at i. Encoded surrogates and
// overlong forms are invalid, as utf8.DecodeRune reports them.
func (d *decoder) validRune(i int) (int, error) {
	r, n := utf8.DecodeRune(d.data[i:])
	if r == utf8.RuneError && n == 1 {
		return 0, d.errAt(i, ErrInvalidUTF8, "invalid UTF-8 byte")
	}
	return n, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// intern returns b as a string, sharing one copy of the strings every JSON-RPC message and
// model request repeats instead of allocating them for each request.
func intern(b []byte) string {
	switch string(b) { // a switch on string(b) does not allocate
	case "jsonrpc":
		return "jsonrpc"
	case "2.0":
		return "2.0"
	case "id":
		return "id"
	case "method":
		return "method"
	case "params":
		return "params"
	case "result":
		return "result"
	case "name":
		return "name"
	case "arguments":
		return "arguments"
	case "_meta":
		return "_meta"
	case "model":
		return "model"
	case "messages":
		return "messages"
	case "role":
		return "role"
	case "content":
		return "content"
	case "user":
		return "user"
	case "assistant":
		return "assistant"
	}
	return string(b)
}

// foldKey maps a key to a canonical form such that foldKey(a) == foldKey(b) exactly when
// bytes.EqualFold(a, b): ASCII letters upper-cased, other runes replaced by the smallest rune of
// their simple-folding orbit. This is the equivalence encoding/json uses to match object keys
// to struct fields.
func foldKey(k []byte) string {
	out := make([]byte, 0, len(k))
	for i := 0; i < len(k); {
		c := k[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(k[i:])
		out = utf8.AppendRune(out, smallestFold(r))
		i += n
	}
	return string(out)
}

func smallestFold(r rune) rune {
	for {
		next := unicode.SimpleFold(r)
		if next <= r {
			return next
		}
		r = next
	}
}

// quoteShort quotes a key for an error message, cut to a length that keeps hostile input out of
// logs and denial reasons.
func quoteShort(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
