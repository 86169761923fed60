package visibility

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"slices"
	"strings"
)

// ErrUnreadable is returned for an answer Read cannot read: it is withheld, never passed on.
var ErrUnreadable = errors.New("the list answer cannot be read")

// message is a JSON-RPC message of an answer, its result kept as it came but for the lists.
type message struct {
	raw    json.RawMessage
	fields map[string]json.RawMessage
	result map[string]json.RawMessage
	lists  []list
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
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil {
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
	if err := json.Unmarshal(raw, &m.fields); err != nil {
		return 0, fmt.Errorf("%w: a message is not a JSON object: %w", ErrUnreadable, err)
	}
	result, ok, err := exactKey(m.fields, "result")
	if err != nil || !ok {
		a.messages = append(a.messages, m)
		return len(a.messages) - 1, err
	}
	if json.Unmarshal(result, &m.result) == nil {
		for _, l := range Listings() {
			items, ok, err := exactKey(m.result, l.Field)
			if err != nil {
				return 0, err
			}
			if ok {
				if err := m.readList(l, items); err != nil {
					return 0, err
				}
			}
		}
	}
	a.messages = append(a.messages, m)
	return len(a.messages) - 1, nil
}

func (m *message) readList(l Listing, raw json.RawMessage) error {
	read := list{listing: l}
	if err := json.Unmarshal(raw, &read.items); err != nil || read.items == nil {
		return fmt.Errorf("%w: result.%s is not a list", ErrUnreadable, l.Field)
	}
	for _, it := range read.items {
		var item map[string]json.RawMessage
		if err := json.Unmarshal(it, &item); err != nil {
			return fmt.Errorf("%w: an item of result.%s is not an object", ErrUnreadable, l.Field)
		}
		rawName, ok, err := exactKey(item, l.Key)
		if err != nil {
			return err
		}
		var name string
		if !ok || json.Unmarshal(rawName, &name) != nil {
			return fmt.Errorf("%w: an item of result.%s without a %s", ErrUnreadable, l.Field, l.Key)
		}
		read.names = append(read.names, name)
	}
	m.lists = append(m.lists, read)
	return nil
}

// exactKey is obj[key]. A key that differs from it in case only ("Tools") is refused: Go's
// encoding/json, which MCP clients decode with, matches keys without regard to case, so a
// variant would reach a client unfiltered.
func exactKey(obj map[string]json.RawMessage, key string) (json.RawMessage, bool, error) {
	for k := range obj {
		if k != key && strings.EqualFold(k, key) {
			return nil, false, fmt.Errorf("%w: the key %q differs from %q in case only", ErrUnreadable, k, key)
		}
	}
	v, ok := obj[key]
	return v, ok, nil
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
	result, fields := maps.Clone(m.result), maps.Clone(m.fields)
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
		result[l.listing.Field] = kept.Bytes()
	}
	if !hidden {
		// Nothing to take out: the message goes on as it came.
		return m.raw, nil
	}
	fields["result"] = object(result)
	return object(fields), nil
}

// object writes a JSON object of fields, its keys sorted as encoding/json sorts a map's. The
// values are written as they are: each was read by encoding/json, which validated it, so they
// are not validated and compacted again as json.Marshal would (a third of the response path's
// CPU per list before).
func object(fields map[string]json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(fields)) {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k) // a string always encodes
		b.Write(key)
		b.WriteByte(':')
		b.Write(fields[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}
