package security_test

import (
	"slices"
	"testing"

	"github.com/hopguard/hopguard/conformance/security/bypass"
)

// TestBypassCorpus sends every case of the corpus, and the controls first, through every
// gateway that runs here.
func TestBypassCorpus(t *testing.T) {
	h := requireEnv(t)
	for _, g := range h.Gateways {
		t.Run(g.Name(), func(t *testing.T) {
			tg := target(t, g.Name())
			for _, c := range slices.Concat(bypass.Controls(), bypass.Corpus()) {
				t.Run(c.ID, func(t *testing.T) {
					res := bypass.Run(t.Context(), tg, c)
					suite.recorder.Result(res)
					if !res.Pass {
						t.Errorf("%s (%s): %s", c.ID, c.Attack, res.Problem)
					}
				})
			}
		})
	}
}
