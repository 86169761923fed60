package pdp

import (
	"errors"
	"math"
	"unicode/utf8"

	requestv1 "github.com/cerbos/cerbos/api/genpb/cerbos/request/v1"
	responsev1 "github.com/cerbos/cerbos/api/genpb/cerbos/response/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

var (
	// errInvalidUTF8 is what protobuf refuses in a proto3 string field.
	errInvalidUTF8 = errors.New("string field contains invalid UTF-8")
	// errTooDeep is what protobuf refuses to decode: messages nested deeper than its limit.
	errTooDeep = errors.New("exceeded maximum recursion depth")
)

// decodeLimit is protobuf's decoding limit (protowire.DefaultRecursionLimit): every message
// and every map entry is one level, the outermost message included. Encoding has none.
const decodeLimit = 10000

// checkEncode refuses what protobuf would refuse to encode and vtprotobuf does not: a string,
// or a map's string key, that is not UTF-8 (every message on the Cerbos connection is proto3).
func checkEncode(m proto.Message) error {
	return walker{limit: math.MaxInt / 2}.message(m)
}

// checkDecode refuses what protobuf would refuse to decode and vtprotobuf does not: invalid
// UTF-8 as in checkEncode, and nesting beyond protobuf's limit.
func checkDecode(m proto.Message) error {
	return walker{limit: decodeLimit}.message(m)
}

// walker walks the request and the response field by field, since reflection would cost more
// than vtprotobuf saves; the parts synapse neither sends nor asks for (aux data, request
// context, meta) and any other message are walked by reflection.
// TestWalkerCoversEveryField fails when a new genpb version adds a field.
type walker struct {
	limit int
}

func (w walker) message(m proto.Message) error {
	switch m := m.(type) {
	case *requestv1.CheckResourcesRequest:
		return w.request(m)
	case *responsev1.CheckResourcesResponse:
		return w.response(m)
	}
	return w.reflect(m.ProtoReflect(), 1)
}

// request 1, principal and resource entries 2, resources and principal attributes' entries 3.
func (w walker) request(r *requestv1.CheckResourcesRequest) error {
	if !utf8.ValidString(r.GetRequestId()) {
		return errInvalidUTF8
	}
	if p := r.GetPrincipal(); p != nil {
		if err := checkStrings(p.GetId(), p.GetPolicyVersion(), p.GetScope()); err != nil {
			return err
		}
		if err := checkStrings(p.GetRoles()...); err != nil {
			return err
		}
		if err := w.fields(p.GetAttr(), 3); err != nil {
			return err
		}
	}
	for _, e := range r.GetResources() {
		if err := checkStrings(e.GetActions()...); err != nil {
			return err
		}
		res := e.GetResource()
		if err := checkStrings(res.GetKind(), res.GetPolicyVersion(), res.GetId(), res.GetScope()); err != nil {
			return err
		}
		if err := w.fields(res.GetAttr(), 4); err != nil {
			return err
		}
	}
	return w.rare(2, r.GetAuxData(), r.GetRequestContext())
}

// response 1, results 2, their resources, validation errors, outputs and action entries 3.
func (w walker) response(r *responsev1.CheckResourcesResponse) error {
	if err := checkStrings(r.GetRequestId(), r.GetCerbosCallId()); err != nil {
		return err
	}
	for _, e := range r.GetResults() {
		res := e.GetResource()
		if err := checkStrings(res.GetId(), res.GetKind(), res.GetPolicyVersion(), res.GetScope()); err != nil {
			return err
		}
		for action := range e.GetActions() {
			if !utf8.ValidString(action) {
				return errInvalidUTF8
			}
		}
		for _, v := range e.GetValidationErrors() {
			if err := checkStrings(v.GetPath(), v.GetMessage()); err != nil {
				return err
			}
		}
		for _, o := range e.GetOutputs() {
			if err := checkStrings(o.GetSrc(), o.GetAction(), o.GetError()); err != nil {
				return err
			}
			if err := w.value(o.GetVal(), 4); err != nil {
				return err
			}
		}
		if err := w.rare(3, e.GetMeta()); err != nil {
			return err
		}
	}
	return nil
}

func checkStrings(ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return errInvalidUTF8
		}
	}
	return nil
}

// fields checks a map of values (an attribute map, a Struct's fields) whose entries sit at depth.
func (w walker) fields(m map[string]*structpb.Value, depth int) error {
	if len(m) > 0 && depth > w.limit {
		return errTooDeep
	}
	for k, v := range m {
		if !utf8.ValidString(k) {
			return errInvalidUTF8
		}
		if err := w.value(v, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// value checks v, a message at depth.
func (w walker) value(v *structpb.Value, depth int) error {
	if v == nil {
		return nil
	}
	if depth > w.limit {
		return errTooDeep
	}
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		if !utf8.ValidString(k.StringValue) {
			return errInvalidUTF8
		}
	case *structpb.Value_StructValue:
		if k.StructValue == nil {
			return nil
		}
		if depth+1 > w.limit {
			return errTooDeep
		}
		return w.fields(k.StructValue.GetFields(), depth+2)
	case *structpb.Value_ListValue:
		if k.ListValue == nil {
			return nil
		}
		if depth+1 > w.limit {
			return errTooDeep
		}
		for _, e := range k.ListValue.GetValues() {
			if err := w.value(e, depth+2); err != nil {
				return err
			}
		}
	}
	return nil
}

// rare walks, by reflection, sub-messages at depth that synapse's calls leave unset.
func (w walker) rare(depth int, ms ...proto.Message) error {
	for _, m := range ms {
		if r := m.ProtoReflect(); r.IsValid() {
			if err := w.reflect(r, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// reflect walks every populated field of m, a message at depth.
func (w walker) reflect(m protoreflect.Message, depth int) error {
	if depth > w.limit {
		return errTooDeep
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		err = w.field(fd, v, depth)
		return err == nil
	})
	return err
}

// field checks the field fd of a message at depth.
func (w walker) field(fd protoreflect.FieldDescriptor, v protoreflect.Value, depth int) error {
	switch {
	case fd.IsMap():
		return w.mapField(fd, v.Map(), depth+1)
	case fd.IsList():
		list := v.List()
		for i := range list.Len() {
			if err := w.single(fd, list.Get(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return w.single(fd, v, depth+1)
}

// mapField checks a map whose entries sit at depth.
func (w walker) mapField(fd protoreflect.FieldDescriptor, m protoreflect.Map, depth int) error {
	if m.Len() > 0 && depth > w.limit {
		return errTooDeep
	}
	keyIsString := fd.MapKey().Kind() == protoreflect.StringKind
	var err error
	m.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		if keyIsString && !utf8.ValidString(k.String()) {
			err = errInvalidUTF8
			return false
		}
		err = w.single(fd.MapValue(), v, depth+1)
		return err == nil
	})
	return err
}

// single checks one value of fd's kind, at depth if it is a message.
func (w walker) single(fd protoreflect.FieldDescriptor, v protoreflect.Value, depth int) error {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(v.String()) {
			return errInvalidUTF8
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return w.reflect(v.Message(), depth)
	}
	return nil
}
