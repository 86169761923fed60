// Package narrate tells the story of a run: one readable line per hop for
// people, or one JSON object per hop for machines, then a summary.
package narrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hopguard/hopguard/agent/loop"
	"github.com/hopguard/hopguard/agent/trace"
)

// Narrator writes hops as they happen and the run's summary at the end.
type Narrator interface {
	Hop(trace.Hop)
	Summary(loop.Result)
}

// New returns a JSON narrator when asJSON is set, a text one otherwise.
func New(w io.Writer, asJSON bool) Narrator {
	if asJSON {
		return &JSON{w: w}
	}
	return &Text{w: w}
}

// Text writes one line per hop:
//
//	[mcp payments] tools/call refund_issue -> DENY refund_cap_exceeded: tier-1-support refund cap exceeded (remediation: step_up, approvers tier-2-lead)
type Text struct {
	mu sync.Mutex
	w  io.Writer
}

// NewText returns a text narrator writing to w.
func NewText(w io.Writer) *Text { return &Text{w: w} }

// Hop writes one hop's line.
func (t *Text) Hop(h trace.Hop) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(t.w, Line(h))
}

// Summary writes how the run ended.
func (t *Text) Summary(r loop.Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var open, left []string
	for _, s := range r.Servers {
		if s.State == loop.ServerOpen {
			open = append(open, s.Name)
		} else {
			left = append(left, s.Name+" ("+string(s.State)+")")
		}
	}
	fmt.Fprintf(t.w, "servers: open %s; left out %s\n", listOrNone(open), listOrNone(left))
	fmt.Fprintf(t.w, "outcome: %s after %d model call(s) with %s on ticket %s as %s, %d denial(s) on the way\n",
		r.Outcome, r.Steps, orNone(r.Model), r.Ticket, principal(r), r.Denials())
	switch {
	case r.Outcome == loop.Success:
		fmt.Fprintf(t.w, "answer: %s\n", oneLine(r.Answer))
	case r.Denial != nil:
		fmt.Fprintf(t.w, "stopped by a denial: %s\n", r.Denial)
	case r.Reason != "":
		fmt.Fprintf(t.w, "stopped: %s\n", oneLine(r.Reason))
	}
}

// Line renders one hop.
func Line(h trace.Hop) string {
	var b strings.Builder
	b.WriteString("[")
	b.WriteString(string(h.Plane))
	if h.Target != "" {
		b.WriteString(" ")
		b.WriteString(h.Target)
	}
	b.WriteString("] ")
	b.WriteString(h.Action)
	if h.Tool != "" {
		b.WriteString(" ")
		b.WriteString(h.Tool)
	}
	b.WriteString(" -> ")
	b.WriteString(strings.ToUpper(string(h.Decision)))
	switch {
	case h.Denial != nil:
		b.WriteString(" ")
		b.WriteString(h.Denial.String())
	case h.Reason != "":
		b.WriteString(" ")
		b.WriteString(oneLine(h.Reason))
	}
	if h.Note != "" {
		if h.Decision == trace.Allow {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(oneLine(h.Note))
	}
	if h.Policy != "" {
		b.WriteString(" [policy ")
		b.WriteString(oneLine(h.Policy))
		b.WriteString("]")
	}
	return b.String()
}

// JSON writes one JSON object per line: {"type":"hop",...} for each hop and
// {"type":"summary",...} at the end (the Result without its hops).
type JSON struct {
	mu sync.Mutex
	w  io.Writer
}

// NewJSON returns a JSON narrator writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{w: w} }

type hopLine struct {
	Type string `json:"type"`
	trace.Hop
}

type summaryLine struct {
	Type string `json:"type"`
	loop.Result
	Denials  int `json:"denials"`
	ExitCode int `json:"exit_code"`
}

// Hop writes one hop.
func (j *JSON) Hop(h trace.Hop) { j.write(hopLine{Type: "hop", Hop: h}) }

// Summary writes the result without its hops, which were written already.
func (j *JSON) Summary(r loop.Result) {
	denials := r.Denials()
	r.Hops = nil
	j.write(summaryLine{Type: "summary", Result: r, Denials: denials, ExitCode: r.Outcome.ExitCode()})
}

func (j *JSON) write(v any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	raw, err := json.Marshal(v)
	if err != nil {
		raw, _ = json.Marshal(map[string]string{"type": "error", "error": err.Error()})
	}
	raw = append(raw, '\n')
	_, _ = j.w.Write(raw)
}

func principal(r loop.Result) string {
	if r.Actor != "" {
		return r.Principal + " (actor " + r.Actor + ")"
	}
	return r.Principal
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "no model"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// maxJSONLine bounds one line ReadJSON accepts: a hop carries a tool call's arguments, which
// the gateway bounds at 1 MiB of body.
const maxJSONLine = 4 << 20

// ReadJSON reads back what a JSON narrator wrote: it tells onHop (when set) about each hop as
// its line arrives, and returns the Result of the summary line with the hops in it. An
// output that ends without a summary, or holds a line that is not one of the narrator's, is
// an error, with the hops read so far in the Result.
func ReadJSON(r io.Reader, onHop func(trace.Hop)) (loop.Result, error) {
	var hops []trace.Hop
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64<<10), maxJSONLine)
	for scanner.Scan() {
		line := scanner.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var head struct {
			Type  string `json:"type"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			return loop.Result{Hops: hops}, fmt.Errorf("read the agent's JSON: %w", err)
		}
		switch head.Type {
		case "hop":
			var h hopLine
			if err := json.Unmarshal(line, &h); err != nil {
				return loop.Result{Hops: hops}, fmt.Errorf("read a hop: %w", err)
			}
			hops = append(hops, h.Hop)
			if onHop != nil {
				onHop(h.Hop)
			}
		case "summary":
			var s summaryLine
			if err := json.Unmarshal(line, &s); err != nil {
				return loop.Result{Hops: hops}, fmt.Errorf("read the summary: %w", err)
			}
			s.Result.Hops = hops
			return s.Result, nil
		case "error":
			return loop.Result{Hops: hops}, fmt.Errorf("the narrator failed: %s", head.Error)
		default:
			return loop.Result{Hops: hops}, fmt.Errorf("read the agent's JSON: a line of type %q", head.Type)
		}
	}
	if err := scanner.Err(); err != nil {
		return loop.Result{Hops: hops}, fmt.Errorf("read the agent's JSON: %w", err)
	}
	return loop.Result{Hops: hops}, errors.New("the agent's JSON ended without a summary")
}
