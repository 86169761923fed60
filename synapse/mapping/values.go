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
