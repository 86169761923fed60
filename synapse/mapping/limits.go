package mapping

import (
	"github.com/hopguard/hopguard/synapse/jsonrpc"
	"github.com/hopguard/hopguard/synapse/strictjson"
)

// Default limits on the MCP plane, whose body becomes Cerbos attributes. The demo's largest tool
// call (a refund: four arguments, a reason of at most 2000 characters) is a message of 11
// values, 4 members at most in an object, no array and 8000 bytes of string at most, and a batch
// of 32 of them 353 values and 2 KiB of checks: each default is at least 8 times what it needs.
const (
	DefaultMaxValues        = 10_000   // JSON values in one body
	DefaultMaxObjectMembers = 1_000    // members of one object
	DefaultMaxArrayElements = 1_000    // elements of one array (a batch is an array too)
	DefaultMaxStringBytes   = 64 << 10 // one string, key or value, unescaped
	DefaultMaxCheckBytes    = 1 << 20  // every check of a body as Cerbos receives it (ChecksSize)
)

// CerbosMaxRequestBytes is the largest request Cerbos accepts: its gRPC server's default
// maximum message size. The checks of one request are held to MaxCheckBytes well below it, so
// that the principal and the framing around them always fit.
const CerbosMaxRequestBytes = 4 << 20

// MaxCheckBytesCeiling is the most MaxCheckBytes may be: a quarter of Cerbos's limit is left to
// the principal (its token's claims and its task) and the request's own framing.
const MaxCheckBytesCeiling = CerbosMaxRequestBytes - CerbosMaxRequestBytes/4

// Limits bound the work one request may cause before Cerbos is asked, and the size of what
// Cerbos is asked. Each is enforced while the body is read (synapse/strictjson counts as it
// goes), so a body over a limit is refused after at most the limit's worth of work, whatever
// its size: code body_too_large for MaxBodyBytes, json_too_deep for MaxDepth, batch_too_large
// for MaxBatch, and request_too_complex for the rest.
//
// MaxBodyBytes, MaxDepth, MaxObjectMembers and MaxCheckBytes hold on both planes; the others on
// the MCP plane, where every value of the body is read and tool arguments become attributes. A
// model call's body is only validated (nothing but model, stream and the token limits is kept
// or sent to Cerbos), at a cost linear in its size, and a chat history legitimately holds long
// strings and many messages; but each key of a wide object costs a duplicate check (an 80,000-key
// object took 18 ms), so the members of an object are bounded there too.
//
// A zero or negative field takes its default (synapse/config refuses them), and MaxCheckBytes is
// held to MaxCheckBytesCeiling.
type Limits struct {
	MaxBodyBytes     int // longest body decoded
	MaxDepth         int // deepest nesting of objects and arrays in a body
	MaxBatch         int // most JSON-RPC messages in one batch, each one Cerbos check
	MaxValues        int // most JSON values in one body (objects, arrays and scalars; keys are not values)
	MaxObjectMembers int // most members of one object
	MaxArrayElements int // most elements of one array
	MaxStringBytes   int // longest string, key or value, in bytes once unescaped
	// MaxCheckBytes bounds the checks of one request as Cerbos receives them: attrSize's upper
	// bound on their protobuf encoding, attributes, ids and actions included. At most three
	// quarters of CerbosMaxRequestBytes.
	MaxCheckBytes int
}

// DefaultLimits returns every limit at its default.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:     MaxBodyBytes,
		MaxDepth:         MaxJSONDepth,
		MaxBatch:         MaxBatch,
		MaxValues:        DefaultMaxValues,
		MaxObjectMembers: DefaultMaxObjectMembers,
		MaxArrayElements: DefaultMaxArrayElements,
		MaxStringBytes:   DefaultMaxStringBytes,
		MaxCheckBytes:    DefaultMaxCheckBytes,
	}
}

// withDefaults fills every zero or negative field with its default, and holds MaxCheckBytes to
// its ceiling, so that no limit is ever off: a Limits that Validate refused is still bounded.
// It runs on every request, so it takes no pointers that would put l on the heap.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	l.MaxBodyBytes = orDefault(l.MaxBodyBytes, d.MaxBodyBytes)
	l.MaxDepth = orDefault(l.MaxDepth, d.MaxDepth)
	l.MaxBatch = orDefault(l.MaxBatch, d.MaxBatch)
	l.MaxValues = orDefault(l.MaxValues, d.MaxValues)
	l.MaxObjectMembers = orDefault(l.MaxObjectMembers, d.MaxObjectMembers)
	l.MaxArrayElements = orDefault(l.MaxArrayElements, d.MaxArrayElements)
	l.MaxStringBytes = orDefault(l.MaxStringBytes, d.MaxStringBytes)
	l.MaxCheckBytes = min(orDefault(l.MaxCheckBytes, d.MaxCheckBytes), MaxCheckBytesCeiling)
	return l
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// modelJSON is what a model call's body is held to: its size, its depth and the members of an
// object.
func (l Limits) modelJSON() strictjson.Limits {
	return strictjson.Limits{MaxBytes: l.MaxBodyBytes, MaxDepth: l.MaxDepth, MaxMembers: l.MaxObjectMembers}
}

// JSONRPC is what an MCP body is read with, for a reader that must read exactly the bodies
// mapping reads (synapse/extproc).
func (l Limits) JSONRPC() jsonrpc.Limits {
	l = l.withDefaults()
	return l.mcpJSONRPC()
}

func (l Limits) mcpJSONRPC() jsonrpc.Limits {
	return jsonrpc.Limits{JSON: l.mcpJSON(), MaxBatch: l.MaxBatch}
}

// mcpJSON is what an MCP body is held to: every limit.
func (l Limits) mcpJSON() strictjson.Limits {
	return strictjson.Limits{
		MaxBytes: l.MaxBodyBytes, MaxDepth: l.MaxDepth, MaxValues: l.MaxValues,
		MaxMembers: l.MaxObjectMembers, MaxElements: l.MaxArrayElements, MaxString: l.MaxStringBytes,
	}
}
