package mapping

import (
	"encoding/json"
	"math"
	"strconv"
)

// maxExactInteger is the largest magnitude up to which every integer has its own float64
// (2^53-1, the I-JSON limit of RFC 7493).
const maxExactInteger = 1<<53 - 1

// exactNumber converts a JSON number literal to the float64 Cerbos will compare (structpb holds
// every number as a double). A literal whose value lies beyond ±(2^53-1) is refused: there the
// double is not the number the upstream reads (9007199254740993 would become ...992), and
// 1e400 would become +Inf. Within the range the double is the value every JSON parser reads.
func exactNumber(n json.Number) (float64, *Error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.Abs(f) > maxExactInteger {
		return 0, deny(CodeNumberOutOfRange, "the number %s is outside the range synapse compares exactly (±%d)", clip(string(n)), int64(maxExactInteger))
	}
	return f, nil
}

// attrValue turns a strictjson value into a Cerbos attribute value, in place: numbers become
// float64 by exactNumber; strings stay strings ("9000" is not 9000, so a schema that wants a
// number rejects it), and everything else is already what structpb accepts.
func attrValue(v any) (any, *Error) {
	switch v := v.(type) {
	case json.Number:
		return exactNumber(v)
	case map[string]any:
		for k, e := range v {
			c, err := attrValue(e)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
		return v, nil
	case []any:
		for i, e := range v {
			c, err := attrValue(e)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
		return v, nil
	default:
		return v, nil
	}
}

// Upper bounds on the protobuf framing of an attribute value, for attrSize. A
// google.protobuf.Value inside a Struct, a ListValue or a resource's attribute map costs at most
// its field tag (1 byte) and length (5), the kind's tag (1), then 8 bytes of double, 1 of bool
// or null, or a length (5) and the bytes of a string or a container: 15 bytes and the string's
// bytes. A member of a Struct or of the attribute map adds its entry's tag and length (6) and
// its key's tag and length (6).
const (
	valueFraming  = 1 + 5 + 1 + 8
	memberFraming = 6 + 6
	// checkFraming bounds the rest of a check: the resource entry, the resource, its kind and
	// id, and its one action, each a tag and a length.
	checkFraming = 8 * 6
)

// checkSize bounds the bytes c takes in the CheckResources request pdp sends.
func checkSize(c Check) int {
	n := checkFraming + len(c.Kind) + len(c.ID) + len(c.Action)
	for k, v := range c.Attr {
		n += memberFraming + len(k) + attrSize(v)
	}
	return n
}

// attrSize bounds the bytes v takes as a google.protobuf.Value, framing included. v is what
// attrValue returns: strings, float64, bools, nil, and maps and slices of them.
func attrSize(v any) int {
	n := valueFraming
	switch v := v.(type) {
	case string:
		n += len(v)
	case map[string]any:
		for k, e := range v {
			n += memberFraming + len(k) + attrSize(e)
		}
	case []any:
		for _, e := range v {
			n += attrSize(e)
		}
	}
	return n
}

// ChecksSize bounds the bytes checks take in the CheckResources request synapse/pdp sends:
// at least what they take, never less (pdp's tests hold it to that).
func ChecksSize(checks []Check) int {
	total := 0
	for _, c := range checks {
		total += checkSize(c)
	}
	return total
}

// checkChecks refuses checks that together would take Cerbos more than limit bytes to receive.
func checkChecks(checks []Check, limit int) *Error {
	if total := ChecksSize(checks); total > limit {
		return deny(CodeRequestTooComplex, "the request maps to about %d bytes of checks, more than the %d synapse sends the policy decision point; send smaller tool arguments or fewer messages at once", total, limit)
	}
	return nil
}
