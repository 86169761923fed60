// Package policywatch follows the policy set a running Cerbos decides with: which version it
// serves (asked over its HTTP API, as synapse asks with every check: policies/provenance), and
// which policy files it refused to load (its log). `make up` prints both as they change; the
// policy-change scenarios wait on them.
package policywatch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hopguard/hopguard/policies/provenance"
)

// probe asks for the resource whose policy outputs the policy set's version.
var probe = fmt.Appendf(nil, `{"requestId":"policy-version-probe","principal":{"id":"policy-version-probe","roles":["policy-version-probe"]},`+
	`"resources":[{"resource":{"kind":%q,"id":%q},"actions":[%q]}]}`, provenance.Kind, provenance.ID, provenance.Action)

// maxAnswer bounds Cerbos's answer to the probe.
const maxAnswer = 64 << 10

// Served asks the Cerbos whose HTTP API is at cerbosURL which version of the policy set it
// decides under.
func Served(ctx context.Context, client *http.Client, cerbosURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cerbosURL+"/api/check/resources", bytes.NewReader(probe))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask Cerbos for the policy version: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ask Cerbos for the policy version: it answered %s", resp.Status)
	}
	var answer struct {
		Results []struct {
			Outputs []struct {
				Val any `json:"val"`
			} `json:"outputs"`
		} `json:"results"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&answer); err != nil {
		return "", fmt.Errorf("Cerbos's answer to the policy version probe: %w", err)
	}
	for _, r := range answer.Results {
		for _, o := range r.Outputs {
			if v, ok := o.Val.(string); ok {
				return v, nil
			}
		}
	}
	return "", errors.New("Cerbos serves no policy version: its policies predate " + provenance.File)
}

// AwaitServed waits, up to timeout, until Cerbos decides under version.
func AwaitServed(ctx context.Context, client *http.Client, cerbosURL, version string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		got, err := Served(ctx, client, cerbosURL)
		if err == nil && got == version {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("it still decides under %s", got)
			}
			return fmt.Errorf("Cerbos did not decide under %s within %s: %w", version, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Refusal is a policy file Cerbos would not load: it keeps deciding with the last good set.
type Refusal struct {
	// File is the file, relative to the bundle ("resource_policies/mcp_payments.yaml"), when
	// Cerbos names it apart from the error.
	File string
	// Error is Cerbos's own account.
	Error string
}

func (r Refusal) String() string {
	if r.File == "" {
		return r.Error
	}
	return r.File + ": " + r.Error
}

// Cerbos's log messages for a policy it would not load (0.55.0): one it cannot parse, and one
// it cannot compile.
const (
	msgUnreadable = "Failed to read policy from file"
	msgUncompiled = "Error processing storage event, maintaining last valid state"
)

// Refusals reads Cerbos's JSON log from offset from and returns the policies it refused there,
// and the offset it read up to (a partial last line is left for the next read).
func Refusals(path string, from int64) ([]Refusal, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, from, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, from, err
	}
	var out []Refusal
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			// EOF, with or without a partial line: read it again next time.
			return out, from, nil
		}
		from += int64(len(line))
		if refusal, ok := parseRefusal(line); ok {
			out = append(out, refusal)
		}
	}
}

// AwaitRefusal waits, up to timeout, until Cerbos's log at path says, after offset from, that it
// refused the policy file called file.
func AwaitRefusal(ctx context.Context, path string, from int64, file string, timeout time.Duration) (Refusal, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		refusals, next, err := Refusals(path, from)
		if err == nil {
			from = next
			for _, r := range refusals {
				if strings.Contains(r.String(), file) {
					return r, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return Refusal{}, fmt.Errorf("Cerbos's log %s says nothing of refusing %s within %s", path, file, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func parseRefusal(line []byte) (Refusal, bool) {
	var entry struct {
		Message string `json:"message"`
		File    string `json:"file"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(line, &entry) != nil {
		return Refusal{}, false
	}
	if entry.Message != msgUnreadable && entry.Message != msgUncompiled {
		return Refusal{}, false
	}
	return Refusal{File: entry.File, Error: entry.Error}, true
}

// Follow reports, every interval until ctx ends, a change of the version Cerbos decides under
// and each policy file it refused (from its log at logPath, from where the log ends now).
func Follow(ctx context.Context, client *http.Client, cerbosURL, logPath string, interval time.Duration, report func(string)) {
	var offset int64
	if info, err := os.Stat(logPath); err == nil {
		offset = info.Size()
	}
	version, _ := Served(ctx, client, cerbosURL)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		var refusals []Refusal
		refusals, offset, _ = Refusals(logPath, offset)
		for _, r := range refusals {
			report(fmt.Sprintf("Cerbos refused a policy and keeps deciding with the last good set: %s", r))
		}
		now, err := Served(ctx, client, cerbosURL)
		if err == nil && now != version {
			report(fmt.Sprintf("Cerbos now decides under policy set %s (was %s)", now, orNone(version)))
			version = now
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
