package visibility

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// ErrUnreadable is returned for an answer Read cannot read: it is withheld, never passed on.
var ErrUnreadable = errors.New("the list answer cannot be read")

// message is a JSON-RPC message of an answer, its result kept as it came but for the lists.
type message struct {
	raw    json.RawMessage
	fields []member
	// result is the members of the result, nil when it is not an object.
	result []member
	lists  []list
}

// member is one member of a JSON object: its name, and its value as it came.
type member struct {
	name  string
	value json.RawMessage
}

// list is the items a result holds under one listing's field, and their names.
type list struct {
	listing Listing
	items   []json.RawMessage
	names   []string
}

// Answer is a list answer (tools/list, resources/list, prompts/list) as a gateway hands it on:
// its content type and body.
type Answer struct {
	messages []*message
	// events is the body's event stream, for text/event-stream; nil for JSON.
	events []event
	batch  bool
	split  splitter
}

// event is one server-sent event: its lines as they came, and which of them carry data.
type event struct {
	lines []string
	// data is the index in Answer.messages of the message its data held, -1 for none.
	data int
}

// Read parses a list answer: a JSON-RPC response (or a batch of them) in application/json, or
// in the events of a text/event-stream. Every result's tools, resources and prompts are read
// (Listings); messages that are not a result (a notification, an error) are kept as they are.
func Read(contentType string, body []byte) (*Answer, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("%w: content type %q: %w", ErrUnreadable, contentType, err)
	}
	a := &Answer{}
	switch mt {
	case "application/json":
		return a, a.readJSON(bytes.TrimSpace(body))
	case "text/event-stream":
		return a, a.readEvents(string(body))
	default:
		return nil, fmt.Errorf("%w: content type %s", ErrUnreadable, mt)
	}
}

func (a *Answer) readJSON(body []byte) error {
	if len(body) > 0 && body[0] == '[' {
		batch, err := a.split.arrayElements(body)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnreadable, err)
		}
		a.batch = true
		for _, raw := range batch {
			if _, err := a.add(raw); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := a.add(body)
	return err
}

// readEvents splits an event stream into events (separated by blank lines) and reads each
// event's data as one JSON-RPC message.
func (a *Answer) readEvents(body string) error {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	for _, block := range strings.Split(body, "\n\n") {
		if block == "" {
			continue
		}
		ev := event{lines: strings.Split(block, "\n"), data: -1}
		var data []string
		for _, line := range ev.lines {
			if v, ok := strings.CutPrefix(line, "data:"); ok {
				data = append(data, strings.TrimPrefix(v, " "))
			}
		}
		if len(data) > 0 {
			i, err := a.add(json.RawMessage(strings.Join(data, "\n")))
			if err != nil {
				return err
			}
			ev.data = i
		}
		a.events = append(a.events, ev)
	}
	return nil
}

// add reads one JSON-RPC message and returns its index.
func (a *Answer) add(raw json.RawMessage) (int, error) {
	m := &message{raw: raw}
	var err error
	if m.fields, err = a.split.objectMembers(raw); err != nil {
		return 0, fmt.Errorf("%w: a message is not a JSON object: %w", ErrUnreadable, err)
	}
	result, ok, err := exactKey(m.fields, "result")
	if err != nil || !ok {
		a.messages = append(a.messages, m)
		return len(a.messages) - 1, err
	}
	if isObject(result) {
		if m.result, err = a.split.objectMembers(result); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrUnreadable, err)
		}
		for _, l := range Listings() {
			items, ok, err := exactKey(m.result, l.Field)
			if err != nil {
				return 0, err
			}
			if ok {
				if err := m.readList(&a.split, l, items); err != nil {
					return 0, err
				}
			}
		}
	}
	a.messages = append(a.messages, m)
	return len(a.messages) - 1, nil
}

func (m *message) readList(split *splitter, l Listing, raw json.RawMessage) error {
	read := list{listing: l}
	items, err := split.arrayElements(raw)
	if err != nil {
		return fmt.Errorf("%w: result.%s is not a list", ErrUnreadable, l.Field)
	}
	read.items = items
	for _, it := range items {
		members, err := split.objectMembers(it)
		if err != nil {
			return fmt.Errorf("%w: an item of result.%s is not an object", ErrUnreadable, l.Field)
		}
		rawName, ok, err := exactKey(members, l.Key)
		if err != nil {
			return err
		}
		var name string
		// A string, not null: encoding/json would leave a name of null empty without an error.
		if !ok || !bytes.HasPrefix(rawName, []byte(`"`)) || json.Unmarshal(rawName, &name) != nil {
			return fmt.Errorf("%w: an item of result.%s without a %s", ErrUnreadable, l.Field, l.Key)
		}
		read.names = append(read.names, name)
	}
	m.lists = append(m.lists, read)
	return nil
}

// splitter splits JSON objects and arrays into their parts, in one pass over each, reusing one
// decoder for every part of an answer. The parts are slices of the input: nothing is copied.
type splitter struct {
	in  *bytes.Buffer
	dec jsontext.Decoder
}

func (s *splitter) start(raw []byte) *jsontext.Decoder {
	// jsontext decodes a bytes.Buffer in place, where it would copy any other reader's input.
	s.in = bytes.NewBuffer(raw)
	s.dec.Reset(s.in)
	return &s.dec
}

// value is the value dec has just read, as a slice of raw.
func value(raw []byte, dec *jsontext.Decoder, v jsontext.Value) json.RawMessage {
	end := int(dec.InputOffset())
	return json.RawMessage(raw[end-len(v) : end : end])
}

// objectMembers splits a JSON object into its members. It refuses what jsontext refuses by
// default and encoding/json, which MCP clients decode with, would read in a way of its own: a
// member named twice, here or in any value (encoding/json keeps the last), invalid UTF-8 (it
// replaces it), and trailing data.
func (s *splitter) objectMembers(raw []byte) ([]member, error) {
	dec := s.start(raw)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errors.New("not a JSON object")
	}
	var members []member
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String() // before the next read, which voids tok
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		members = append(members, member{name: name, value: value(raw, dec, v)})
	}
	return members, end(dec, '}')
}

// arrayElements splits a JSON array into its elements, with the same refusals.
func (s *splitter) arrayElements(raw []byte) ([]json.RawMessage, error) {
	dec := s.start(raw)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
		return nil, errors.New("not a JSON array")
	}
	elements := []json.RawMessage{}
	for dec.PeekKind() != ']' && dec.PeekKind() != 0 {
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		elements = append(elements, value(raw, dec, v))
	}
	return elements, end(dec, ']')
}

// end reads the closing delimiter of what dec has read, and then nothing but the input's end.
func end(dec *jsontext.Decoder, closing jsontext.Kind) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != closing {
		return fmt.Errorf("want %v, got %v", closing, tok.Kind())
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return errors.New("data after the value")
	}
	return nil
}

// isObject says whether raw, a JSON value, is an object.
func isObject(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// exactKey is the value of the member named key. A name that differs from it in case only
// ("Tools") is refused: Go's encoding/json, which MCP clients decode with, matches names without
// regard to case, so a variant would reach a client unfiltered.
func exactKey(members []member, key string) (json.RawMessage, bool, error) {
	var value json.RawMessage
	found := false
	for _, m := range members {
		switch {
		case m.name == key:
			value, found = m.value, true
		case strings.EqualFold(m.name, key):
			return nil, false, fmt.Errorf("%w: the key %q differs from %q in case only", ErrUnreadable, m.name, key)
		}
	}
	return value, found, nil
}

// Items are the names of every item the answer lists under listing, in order.
func (a *Answer) Items(listing Listing) []string {
	var names []string
	for _, m := range a.messages {
		for _, l := range m.lists {
			if l.listing.Method == listing.Method {
				names = append(names, l.names...)
			}
		}
	}
	return names
}

// Keep returns the answer with only the items keep says yes to (by the listing's method and the
// item's name), everything else as it came.
func (a *Answer) Keep(keep func(method, item string) bool) ([]byte, error) {
	rendered := make([]json.RawMessage, len(a.messages))
	for i, m := range a.messages {
		out, err := m.keep(keep)
		if err != nil {
			return nil, err
		}
		rendered[i] = out
	}
	switch {
	case a.events != nil:
		var b strings.Builder
		for _, ev := range a.events {
			wroteData := false
			for _, line := range ev.lines {
				if strings.HasPrefix(line, "data:") {
					// The message goes back as one data line where its data was.
					if !wroteData && ev.data >= 0 {
						b.WriteString("data: ")
						b.Write(rendered[ev.data])
						b.WriteString("\n")
						wroteData = true
					}
					continue
				}
				b.WriteString(line)
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
		return []byte(b.String()), nil
	case a.batch:
		return json.Marshal(rendered)
	case len(rendered) == 1:
		return rendered[0], nil
	default:
		return nil, fmt.Errorf("%w: no message", ErrUnreadable)
	}
}

func (m *message) keep(keep func(method, item string) bool) (json.RawMessage, error) {
	if m.lists == nil {
		return m.raw, nil
	}
	result := slices.Clone(m.result)
	hidden := false
	for _, l := range m.lists {
		var kept bytes.Buffer
		kept.WriteByte('[')
		n := 0
		for i, it := range l.items {
			if !keep(l.listing.Method, l.names[i]) {
				hidden = true
				continue
			}
			if n > 0 {
				kept.WriteByte(',')
			}
			kept.Write(it)
			n++
		}
		kept.WriteByte(']')
		replace(result, l.listing.Field, kept.Bytes())
	}
	if !hidden {
		// Nothing to take out: the message goes on as it came.
		return m.raw, nil
	}
	fields := slices.Clone(m.fields)
	replace(fields, "result", object(result))
	return object(fields), nil
}

// replace sets the value of every member named name (there is one: objectMembers refuses two).
func replace(members []member, name string, value json.RawMessage) {
	for i := range members {
		if members[i].name == name {
			members[i].value = value
		}
	}
}

// object writes a JSON object of members, in their order. The values are written as they are:
// each was read and validated by objectMembers, so they are not validated and compacted again
// as json.Marshal would (a third of the response path's CPU per list before).
func object(members []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(m.name) // a string always encodes
		b.Write(name)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}
