// Package admin is synapse's admin HTTP API, on its own port and behind a
// bearer token: the task registry's create, get, list and revoke
// (CONTRACTS.md, "synapse admin API").
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hopguard/hopguard/synapse/tasks"
)

// maxBodyBytes bounds a request body; a task is a few hundred bytes.
const maxBodyBytes = 64 << 10

// TaskList is the body of GET /v1/tasks.
type TaskList struct {
	Tasks []tasks.Task `json:"tasks"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

type handler struct {
	registry tasks.Registry
	log      *slog.Logger
}

// NewHandler serves the admin API over registry. Every request must carry
// "Authorization: Bearer <token>"; token must not be empty.
func NewHandler(registry tasks.Registry, token string, log *slog.Logger) (http.Handler, error) {
	if token == "" {
		return nil, errors.New("admin API: empty token")
	}
	h := &handler{registry: registry, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/tasks", h.create)
	mux.HandleFunc("GET /v1/tasks", h.list)
	mux.HandleFunc("GET /v1/tasks/{id}", h.get)
	mux.HandleFunc("POST /v1/tasks/{id}/revoke", h.revoke)
	return requireBearer(token, mux), nil
}

// requireBearer guards every path, unknown ones included, so that an
// unauthenticated caller learns nothing about the API.
func requireBearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="synapse-admin"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: "missing or wrong admin bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	var req tasks.NewTask
	if err := decodeBody(w, r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
		return
	}
	task, err := h.registry.Create(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "task created", "task", task.ID, "principal", task.Principal, "agent_id", task.AgentID, "ticket_id", task.TicketID)
	w.Header().Set("Location", "/v1/tasks/"+task.ID)
	writeJSON(w, http.StatusCreated, task)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	task, err := h.registry.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, task)
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request) {
	task, err := h.registry.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "task revoked", "task", task.ID)
	writeJSON(w, http.StatusOK, task)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	all, err := h.registry.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TaskList{Tasks: all})
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, tasks.ErrInvalid):
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
	case errors.Is(err, tasks.ErrNotFound):
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: "task not found"})
	case errors.Is(err, tasks.ErrExists):
		writeJSON(w, http.StatusConflict, ErrorBody{Error: "a task with this id already exists"})
	default:
		// The registry failed (PostgreSQL away, the file unwritable). A revocation is acknowledged
		// only once stored, so this one was not: the caller must retry, and learns nothing more
		// than that; the details stay in the log.
		h.log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: "the task registry is unavailable: not done, retry"})
	}
}

func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type must be application/json, got %q", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON body: more than one value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
