package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/hopguard/hopguard/synapse/tasks"
)

// Client calls the admin API, for the conformance harness, the demo and tests.
type Client struct {
	// BaseURL is e.g. http://127.0.0.1:9193.
	BaseURL string
	Token   string
	// HTTP defaults to http.DefaultClient.
	HTTP *http.Client
}

var _ tasks.Registry = (*Client)(nil)

// APIError is a non-2xx answer.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("synapse admin API: %d: %s", e.Status, e.Message)
}

// Unwrap lets callers test the registry's errors (tasks.ErrNotFound, ...)
// with errors.Is, as with a local registry.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return tasks.ErrNotFound
	case http.StatusConflict:
		return tasks.ErrExists
	case http.StatusBadRequest:
		return tasks.ErrInvalid
	}
	return nil
}

// Create creates a task.
func (c *Client) Create(ctx context.Context, req tasks.NewTask) (tasks.Task, error) {
	var t tasks.Task
	err := c.do(ctx, http.MethodPost, "/v1/tasks", req, http.StatusCreated, &t)
	return t, err
}

// Get returns one task.
func (c *Client) Get(ctx context.Context, id string) (tasks.Task, error) {
	var t tasks.Task
	err := c.do(ctx, http.MethodGet, "/v1/tasks/"+url.PathEscape(id), nil, http.StatusOK, &t)
	return t, err
}

// Revoke revokes a task.
func (c *Client) Revoke(ctx context.Context, id string) (tasks.Task, error) {
	var t tasks.Task
	err := c.do(ctx, http.MethodPost, "/v1/tasks/"+url.PathEscape(id)+"/revoke", nil, http.StatusOK, &t)
	return t, err
}

// List returns every task.
func (c *Client) List(ctx context.Context) ([]tasks.Task, error) {
	var l TaskList
	err := c.do(ctx, http.MethodGet, "/v1/tasks", nil, http.StatusOK, &l)
	return l.Tasks, err
}

func (c *Client) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("synapse admin API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != want {
		var e ErrorBody
		_ = json.Unmarshal(data, &e)
		return &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}
