package security_test

import (
	"slices"
	"testing"

	"github.com/hopguard/hopguard/conformance/security/bypass"
)

// TestBypassCorpus sends every case of the corpus, and the controls first, through every
// gateway that runs here, in HTTP/1.1 as written and again over HTTP/2.
func TestBypassCorpus(t *testing.T) {
	h := requireEnv(t)
	for _, g := range h.Gateways {
		for _, http2 := range []bool{false, true} {
			tg := target(t, g.Name())
			tg.HTTP2 = http2
			if http2 {
				tg.Gateway = overHTTP2(g.Name())
			}
			t.Run(tg.Gateway, func(t *testing.T) {
				for _, c := range slices.Concat(bypass.Controls(), bypass.Corpus()) {
					t.Run(c.ID, func(t *testing.T) {
						res := bypass.Run(t.Context(), tg, c)
						suite.recorder.Result(res)
						switch {
						case res.Skipped != "":
							t.Skip(res.Skipped)
						case !res.Pass:
							t.Errorf("%s (%s): %s", c.ID, c.Attack, res.Problem)
						}
					})
				}
			})
		}
	}
}
