package journal

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// describeLimit bounds how much of a body is buffered to describe a request;
// the rest streams through to the mock untouched.
const describeLimit = 1 << 20

// Wrap returns a handler that serves the journal endpoints and records every
// other request before passing it to next.
func (j *Journal) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case EntriesPath:
			j.serveEntries(w, r)
			return
		case ResetPath:
			j.serveReset(w, r)
			return
		}
		j.Record(j.describe(r))
		next.ServeHTTP(w, r)
	})
}

// describe builds the entry for r. It leaves r.Body readable from the start.
func (j *Journal) describe(r *http.Request) Entry {
	e := Entry{
		Time:       j.cfg.Now().UTC(),
		HTTPMethod: r.Method,
		Path:       r.URL.Path,
		Credential: classifyCredential(r.Header, j.cfg.ProviderKeys),
	}
	var head []byte
	if r.Body != nil && r.Body != http.NoBody {
		// A read error only shortens what is described; the mock still sees
		// the same bytes and the same error when it reads on.
		head, _ = io.ReadAll(io.LimitReader(r.Body, describeLimit))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	}
	e.BodySHA256 = bodyDigest(head)
	e.Fields = bodyFields(head)
	if j.cfg.Describe != nil {
		j.cfg.Describe(r, head, &e)
	}
	return e
}

type entriesResponse struct {
	Entries []Entry `json:"entries"`
}

func (j *Journal) serveEntries(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	entries := j.Entries()
	if entries == nil {
		entries = []Entry{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(entriesResponse{Entries: entries})
}

func (j *Journal) serveReset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	j.Reset()
	w.WriteHeader(http.StatusNoContent)
}
