// Package strictjson decodes JSON the way an authorization boundary must: it accepts only
// documents that every JSON parser downstream will read the same way, and rejects the rest.
//
// synapse decides on the bytes of a request and the upstream (a model API, an MCP server) acts on
// the same bytes with its own parser. If the two parsers can disagree about what a document says,
// a client can show synapse one request and the upstream another. encoding/json alone is not
// enough to rule that out:
//
//   - Duplicate keys: encoding/json keeps the last of `{"model":"gpt-4o-mini","model":"gpt-4o"}`,
//     other parsers keep the first or fail. Decode rejects duplicates at any depth.
//   - Case: encoding/json matches struct fields case-insensitively, with Unicode simple folding
//     (the Kelvin sign K matches k), so a Go upstream reads `"METHOD"` or `"max_to\u212aens"` as
//     the field synapse did not look at. Decode treats two keys that are equal under that folding
//     as duplicates; DecodeMembers also rejects a case variant of a member it was asked for.
//   - Invalid UTF-8 and lone UTF-16 surrogates: encoding/json silently replaces them with U+FFFD.
//     Decode rejects them.
//   - Trailing data after the value, a byte-order mark, NaN, comments: rejected as syntax errors.
//   - Resource use: the document size, the nesting depth, the number of values, the members of
//     an object, the elements of an array and the length of a string are bounded (Limits), each
//     checked as the document is read, and the work is linear in the input, so a hostile body
//     cannot exhaust the stack or the CPU, nor cost more than the limits allow before it is
//     refused.
//
// Numbers are returned as json.Number (the literal text, as with Decoder.UseNumber) so that the
// caller decides how to represent them; nothing is rounded here.
//
// Values are map[string]any, []any, string, json.Number, bool and nil, the same shapes
// encoding/json produces with UseNumber, so a document accepted here decodes to a deeply equal
// value with encoding/json (the package's fuzz test checks exactly that).
package strictjson
