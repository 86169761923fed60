package pdp

import (
	"encoding/json"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// attrValue converts one attribute. The values the mapper and the principal produce (strings,
// float64 numbers, bools, nil, maps and lists of them) are built directly; anything else goes
// through JSON, so that every JSON-shaped value still works ([]string, json.RawMessage,
// json.Number, structs with tags). Both paths give the same Value: the direct one only takes
// what JSON would encode unchanged, and leaves the rest (invalid UTF-8, NaN, infinities) to it.
//
// Going through JSON for everything cost a fifth of synapse's CPU per check (BENCHMARKS.md).
func attrValue(v any) (*structpb.Value, error) {
	if val, ok := directValue(v); ok {
		return val, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	val := &structpb.Value{}
	if err := val.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return val, nil
}

// directValue builds v without JSON, or reports that it cannot do so faithfully.
func directValue(v any) (*structpb.Value, bool) {
	switch v := v.(type) {
	case nil:
		return structpb.NewNullValue(), true
	case string:
		if !utf8.ValidString(v) {
			return nil, false // JSON replaces the invalid bytes
		}
		return structpb.NewStringValue(v), true
	case bool:
		return structpb.NewBoolValue(v), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false // JSON refuses them
		}
		return structpb.NewNumberValue(v), true
	case int:
		return structpb.NewNumberValue(float64(v)), true
	case int64:
		return structpb.NewNumberValue(float64(v)), true
	case []string:
		if v == nil {
			return structpb.NewNullValue(), true // JSON encodes a nil slice as null
		}
		list := make([]*structpb.Value, len(v))
		for i, s := range v {
			val, ok := directValue(s)
			if !ok {
				return nil, false
			}
			list[i] = val
		}
		return structpb.NewListValue(&structpb.ListValue{Values: list}), true
	case []any:
		if v == nil {
			return structpb.NewNullValue(), true // JSON encodes a nil slice as null
		}
		list := make([]*structpb.Value, len(v))
		for i, e := range v {
			val, ok := directValue(e)
			if !ok {
				return nil, false
			}
			list[i] = val
		}
		return structpb.NewListValue(&structpb.ListValue{Values: list}), true
	case map[string]any:
		if v == nil {
			return structpb.NewNullValue(), true // JSON encodes a nil map as null
		}
		fields := make(map[string]*structpb.Value, len(v))
		for k, e := range v {
			if !utf8.ValidString(k) {
				return nil, false
			}
			val, ok := directValue(e)
			if !ok {
				return nil, false
			}
			fields[k] = val
		}
		return structpb.NewStructValue(&structpb.Struct{Fields: fields}), true
	}
	return nil, false
}
