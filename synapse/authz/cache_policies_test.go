package authz_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// clockReads are the CEL functions of Cerbos's policy language whose result depends on when a
// check runs rather than on its request.
var clockReads = regexp.MustCompile(`\b(now|timeSince)\s*\(`)

// TestPoliciesDecideFromTheRequestAlone holds the shipped policies to what makes the decision
// cache (cache.go) sound: a decision is a function of the request to Cerbos. A rule that reads
// the clock could decide an identical request differently a second later; before adding one,
// turn the cache off by default (synapse/config, decisionCache.ttl) or bound it below the
// rule's resolution, and change this test.
func TestPoliciesDecideFromTheRequestAlone(t *testing.T) {
	dir := filepath.Join("..", "..", "policies", "bundle")
	var read int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		read++
		if m := clockReads.Find(b); m != nil {
			t.Errorf("%s reads the clock (%q): the decision cache would reuse a decision that time changes", path, m)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotZero(t, read, "no policies found under %s", dir)
}
