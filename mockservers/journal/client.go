package journal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxJournalBytes bounds how much of a journal response the client reads.
const maxJournalBytes = 16 << 20

// Client reads and resets the journal of a mock over HTTP.
type Client struct {
	baseURL string
	http    *http.Client
}

// NewClient returns a client for the mock at baseURL (e.g.
// "http://127.0.0.1:18103"). A nil httpClient means http.DefaultClient.
func NewClient(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), http: httpClient}
}

// Entries returns what reached the mock since its last reset, oldest first.
func (c *Client) Entries(ctx context.Context) ([]Entry, error) {
	resp, err := c.do(ctx, http.MethodGet, EntriesPath)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body entriesResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJournalBytes)).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode journal of %s: %w", c.baseURL, err)
	}
	return body.Entries, nil
}

// Reset restores the mock's seed state and empties its journal.
func (c *Client) Reset(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodPost, ResetPath)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func (c *Client) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s%s: %w", method, c.baseURL, path, err)
	}
	if resp.StatusCode/100 != 2 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s %s%s: status %d: %s", method, c.baseURL, path, resp.StatusCode, strings.TrimSpace(string(snippet)))
	}
	return resp, nil
}
