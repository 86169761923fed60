package docs

import (
	"io/fs"
	"reflect"
	"sort"
	"testing"
)

// This file's inputs cite files that do not exist on purpose: the repository check skips it
// (parserFixtures).

func TestMarkdownLinks(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []link
	}{
		{"inline", "see [the contracts](CONTRACTS.md).", []link{{1, "CONTRACTS.md"}}},
		{"anchor and title", `[x](../docs/A.md#the-hop "The hop")`, []link{{1, "../docs/A.md#the-hop"}}},
		{"angle brackets", "[x](<my file.md>)", []link{{1, "my file.md"}}},
		{"image", "![diagram](img/flow.png)", []link{{1, "img/flow.png"}}},
		{"two on a line, third line", "a\nb\n[a](A.md) and [b](B.md)", []link{{3, "A.md"}, {3, "B.md"}}},
		{"web and same-page links are returned too", "[w](https://x.dev/A.md) [s](#top)", []link{{1, "https://x.dev/A.md"}, {1, "#top"}}},
		{"reference definition", "[ref]: GONE.md\n  [other]: <x/y.md>", []link{{1, "GONE.md"}, {2, "x/y.md"}}},
		{"code span", "`[x](GONE.md)` but [y](Y.md)", []link{{1, "Y.md"}}},
		{"double backtick span", "``a ` [x](GONE.md)`` [y](Y.md)", []link{{1, "Y.md"}}},
		{"unclosed backtick is text", "` [y](Y.md)", []link{{1, "Y.md"}}},
		{"fenced block", "```go\nm[k](GONE.md)\n```\n[y](Y.md)", []link{{4, "Y.md"}}},
		{"tilde fence, longer closing", "~~~\n[x](GONE.md)\n~~~~\n[y](Y.md)", []link{{4, "Y.md"}}},
		{"a shorter run does not close", "````\n```\n[x](GONE.md)\n````\n[y](Y.md)", []link{{5, "Y.md"}}},
		{"not a link", "f(x) [a] (b) [c]", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := markdownLinks(tc.text); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("markdownLinks(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestMentions(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []mention
	}{
		{"bare name in prose", "the shapes of STYLE.md \"Denials\"", []mention{{1, "STYLE.md"}}},
		{"Go comment, second line", "package x\n// see STYLE.md, section 2", []mention{{2, "STYLE.md"}}},
		{"sentence end", "Read CONTRACTS.md.", []mention{{1, "CONTRACTS.md"}}},
		{"possessive", "README.md's table", []mention{{1, "README.md"}}},
		{"with a folder", "(gateway-configs/envoy/README.md)", []mention{{1, "gateway-configs/envoy/README.md"}}},
		{"relative", "`../CONTRACTS.md`", []mention{{1, "../CONTRACTS.md"}}},
		{"absolute", "/srv/elsewhere/NOTES.md", []mention{{1, "/srv/elsewhere/NOTES.md"}}},
		{"docs path with anchor", "docs/ARCHITECTURE.md#the-hop", []mention{{1, "docs/ARCHITECTURE.md"}}},
		{"lower-case docs path", "see docs/notes.md and ./docs/more.md", []mention{{1, "docs/notes.md"}, {1, "./docs/more.md"}}},
		{"file:line", "CONTRACTS.md:12: text", []mention{{1, "CONTRACTS.md"}}},
		{"YAML value", "description: x (STYLE.md scenario 3)", []mention{{1, "STYLE.md"}}},
		{"lower-case file elsewhere", "out/conformance/report.md and trail.md", nil},
		{"web address", "https://github.com/o/r/blob/main/README.md", nil},
		{"host without scheme", "github.com/o/r/README.md", nil},
		{"not Markdown", "README.mdx NOTES.md5 README", nil},
		{"mixed case", "Notes.md", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mentions(tc.text); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("mentions(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"The hop and the request flow":            "the-hop-and-the-request-flow",
		"Denial responses (synapse/respond)":      "denial-responses-synapserespond",
		"synapse -> Cerbos gRPC metadata":         "synapse---cerbos-grpc-metadata",
		"`make up`: the front door":               "make-up-the-front-door",
		"Where [CONTRACTS](CONTRACTS.md) live":    "where-contracts-live",
		"Decision → file":                         "decision--file",
		"snake_case and kebab-case stay":          "snake_case-and-kebab-case-stay",
		"Ünïcode 1.40":                            "ünïcode-140",
		"agentgateway v1.4.1 (run through both)":  "agentgateway-v141-run-through-both",
		"What a gateway must do, and why it must": "what-a-gateway-must-do-and-why-it-must",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestHeadingAnchors(t *testing.T) {
	text := "# Title\n## Notes ##\nNotes\n```\n# not a heading\n```\n### Notes\n####### seven\n#hashtag\n    # indented code"
	got := keys(headingAnchors(text))
	want := []string{"notes", "notes-1", "title"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headingAnchors = %v, want %v", got, want)
	}
}

func TestSkipped(t *testing.T) {
	for p, want := range map[string]bool{
		".ci/run":                         true,
		"docs/links_parse_test.go":        true,
		"out/demo/trail.md":               true,
		"bin/cerbos":                      true,
		"synapse/mapping/testdata/fuzz/x": true,
		"gateway-configs/istio/generated/routes.json":            true,
		"gateway-configs/agentgateway/schema/config.schema.json": true,
		"x/vendor/y.go":                           true,
		"README.md":                               false,
		"docs/links_test.go":                      false,
		"agent/cmd/agent/main.go":                 false,
		"policies/bundle/_schemas/principal.json": false,
		"conformance/bin.go":                      false,
		"synapse/output/x.go":                     false,
		"policies/bundle/tests/llm_test.yaml":     false,
		"gateway-configs/agentgateway/schema.go":  false,
		"gateway-configs/agentgateway/internal/writeconfig/main.go": false,
	} {
		if got := skipped(p); got != want {
			t.Errorf("skipped(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestIsGenerated(t *testing.T) {
	for text, want := range map[string]bool{
		"// Code generated by mockery; DO NOT EDIT.\n\npackage x": true,
		"# Code generated by go generate. DO NOT EDIT.\nkey: v":   true,
		"package x\n// Nothing generated here; edit freely.":      false,
	} {
		if got := isGenerated([]byte(text)); got != want {
			t.Errorf("isGenerated(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestRepoCheck(t *testing.T) {
	contents := map[string]string{
		"README.md":             "# hopguard\n## The hop\n## Layout\n",
		"CONTRACTS.md":          "# Contracts\n## Denial responses (synapse/respond)\n",
		"docs/ARCHITECTURE.md":  "# Architecture\n## Identity\n",
		"agent/README.md":       "",
		"agent/model/model.go":  "",
		"synapse/pdp/client.go": "",
	}
	files := make([]string, 0, len(contents))
	for f := range contents {
		files = append(files, f)
	}
	r := newRepo(files, func(p string) ([]byte, error) {
		if s, ok := contents[p]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	})
	for _, tc := range []struct {
		name, file, text string
		problems         int
	}{
		{"link up a folder", "agent/README.md", "[c](../CONTRACTS.md)", 0},
		{"link from the root", "agent/README.md", "[c](/CONTRACTS.md)", 0},
		{"link to a folder", "README.md", "[m](agent/model) [m](agent/model/)", 0},
		{"link with anchor", "agent/README.md", "[d](../CONTRACTS.md#denial-responses-synapserespond)", 0},
		{"anchor in upper case", "README.md", "[d](docs/ARCHITECTURE.md#Identity)", 0},
		{"missing anchor", "README.md", "[d](docs/ARCHITECTURE.md#conformance)", 1},
		{"anchor on a non-Markdown file is not checked", "README.md", "[c](synapse/pdp/client.go#L10)", 0},
		{"missing file", "agent/README.md", "[d](../STYLE.md)", 1 + 1},
		{"escaped path", "README.md", "[d](docs%2FARCHITECTURE.md)", 0},
		{"outside the repository", "README.md", "[d](../elsewhere/x.txt)", 1},
		{"relative to the wrong folder", "agent/README.md", "[c](CONTRACTS.md)", 1},
		{"web and same-page links", "README.md", "[w](https://example.com/x.md) [m](mailto:a@b) [s](#layout) [s](#nowhere)", 0},
		{"links in Go files are not read", "agent/model/model.go", "// [x](gone.txt)", 0},
		{"mention from a folder below", "agent/model/model.go", "// see CONTRACTS.md and README.md", 0},
		{"mention with its folder", "synapse/pdp/client.go", "// agent/README.md, docs/ARCHITECTURE.md#identity", 0},
		{"mention relative to the file", "agent/model/model.go", "// ../README.md", 0},
		{"bare mention of a file in another folder", "synapse/pdp/client.go", "// ARCHITECTURE.md", 1},
		{"mention of a missing document", "synapse/pdp/client.go", "// STYLE.md \"Conformance\"", 1},
		{"mention outside the repository", "README.md", "../elsewhere/NOTES.md /srv/elsewhere/NOTES.md", 2},
		{"missing docs page", "README.md", "docs/notes.md", 1},
		{"link text names the target", "README.md", "[ARCHITECTURE.md](docs/ARCHITECTURE.md)", 0},
		{"link text in a Go file is a mention", "synapse/pdp/client.go", "// [ARCHITECTURE.md](docs/ARCHITECTURE.md)", 1},
		{"a bare mention beside a link", "README.md", "[the design](docs/ARCHITECTURE.md), ARCHITECTURE.md", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.check(tc.file, tc.text); len(got) != tc.problems {
				t.Errorf("check(%s, %q) = %q, want %d problems", tc.file, tc.text, got, tc.problems)
			}
		})
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
