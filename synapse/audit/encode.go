package audit

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecord appends r as one JSON object, byte-for-byte what
// encoding/json.Marshal(r) gives, without reflection: a decision is logged on
// every hop and reflection was the largest cost left in synapse's own code.
// Records encoding/json would refuse (a NaN latency, a year outside 0–9999)
// go through encoding/json so that they fail the same way.
func appendRecord(dst []byte, r *Record) ([]byte, error) {
	if !encodable(r) {
		// A copy, so that r itself does not escape to the heap on the common path.
		refused := *r
		line, err := json.Marshal(refused)
		return append(dst, line...), err
	}
	dst = append(dst, `{"time":"`...)
	dst = r.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendField(dst, "decision_id", r.DecisionID, false)
	dst = appendField(dst, "cerbos_call_id", r.CerbosCallID, true)
	if r.Cached {
		dst = append(dst, `,"cached":true`...)
	}
	dst = appendField(dst, "cached_from", r.CachedFrom, true)
	dst = appendField(dst, "effect", r.Effect, false)
	dst = appendField(dst, "code", r.Code, true)
	dst = appendField(dst, "reason", r.Reason, true)
	dst = appendField(dst, "failure", r.Failure, true)
	dst = appendField(dst, "policy", r.Policy, true)
	dst = appendField(dst, "policy_version", r.PolicyVersion, true)
	dst = appendField(dst, "principal", r.Principal, true)
	if len(r.Roles) > 0 {
		dst = append(dst, `,"roles":`...)
		dst = appendStrings(dst, r.Roles)
	}
	dst = appendField(dst, "actor", r.Actor, true)
	dst = appendField(dst, "agent_id", r.AgentID, true)
	dst = appendField(dst, "harness_version", r.HarnessVersion, true)
	dst = appendField(dst, "task", r.Task, true)
	dst = appendField(dst, "task_status", r.TaskStatus, true)
	dst = appendField(dst, "ticket", r.Ticket, true)
	dst = appendField(dst, "kind", r.Kind, true)
	if len(r.Resources) > 0 {
		dst = append(dst, `,"resources":[`...)
		for i := range r.Resources {
			if i > 0 {
				dst = append(dst, ',')
			}
			res := &r.Resources[i]
			dst = append(dst, `{"kind":`...)
			dst = appendString(dst, res.Kind)
			dst = append(dst, `,"id":`...)
			dst = appendString(dst, res.ID)
			dst = append(dst, `,"actions":`...)
			dst = appendStrings(dst, res.Actions)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"latency_ms":`...)
	dst = appendFloat(dst, r.LatencyMS)
	return append(dst, '}'), nil
}

// encodable reports whether encoding/json would encode r without an error.
func encodable(r *Record) bool {
	if y := r.Time.Year(); y < 0 || y > 9999 {
		return false
	}
	// time.Time.MarshalJSON also refuses zone offsets of 24 hours or more.
	if _, offset := r.Time.Zone(); offset <= -24*60*60 || offset >= 24*60*60 {
		return false
	}
	return !math.IsNaN(r.LatencyMS) && !math.IsInf(r.LatencyMS, 0)
}

func appendField(dst []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendString(dst, value)
}

// appendStrings encodes a nil slice as null, as encoding/json does.
func appendStrings(dst []byte, values []string) []byte {
	if values == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, v)
	}
	return append(dst, ']')
}

// appendFloat follows encoding/json's float64 encoding: shortest
// representation, exponent form only for very small or large magnitudes.
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as in encoding/json.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does with its default HTML
// escaping: <, > and & as \u003c..., invalid UTF-8 as \ufffd, and U+2028 and
// U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
