package docs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestEveryReferenceStaysInTheRepository holds the repository to citing only what it holds:
//   - in Markdown, a link to a relative path must name a tracked file or folder, and an anchor on
//     a Markdown file must name one of its headings (web links and links within the same page
//     are not checked);
//   - in any text file, a mention of an upper-case Markdown file (a README, the contracts) or of
//     a path under docs/ must name a tracked file: relative to the file that mentions it, to the
//     repository's root or, for a bare name, to a folder above the file.
//
// It reads the files git tracks (every file below the module's root where git cannot answer),
// leaving out what is not the project's own prose: build output, vendored trees, test data,
// generated files, copied upstream schemas and this package's own parser fixtures.
func TestEveryReferenceStaysInTheRepository(t *testing.T) {
	root := moduleRoot(t)
	files, err := listFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	r := newRepo(files, func(p string) ([]byte, error) { return os.ReadFile(filepath.Join(root, filepath.FromSlash(p))) })
	var problems []string
	for _, f := range files {
		if skipped(f) {
			continue
		}
		data, err := r.read(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // tracked, but deleted in this work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !isText(data) || isGenerated(data) {
			continue
		}
		problems = append(problems, r.check(f, string(data))...)
	}
	if len(problems) > 0 {
		t.Errorf("references to files the repository does not hold: %d. Point each at a file git tracks "+
			"(docs/ARCHITECTURE.md, CONTRACTS.md, a folder's README, ...; git add a new one):\n\t%s",
			len(problems), strings.Join(problems, "\n\t"))
	}
}

// moduleRoot is the first folder at or above the test's own that holds a go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod at or above the test's folder")
		}
		dir = parent
	}
}

// listFiles returns the files git tracks below root, slash-separated and relative to it; where
// git cannot answer (no git, or not a checkout) every file below root but .git's.
func listFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "-C", root, "ls-files", "-z")
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files, err
}

// parserFixtures holds the table tests of this file's parsers, whose inputs cite files that do
// not exist on purpose.
const parserFixtures = "docs/links_parse_test.go"

// skipped reports whether a tracked file is left unread: build output (out/, bin/), vendored
// trees, test data, generated files (a generated/ folder), upstream JSON schemas copied as they
// are, the CI entry point (it looks for the machine's own files beside the repository) and
// this package's parser fixtures.
func skipped(p string) bool {
	if p == ".ci/run" || p == parserFixtures {
		return true
	}
	dirs := strings.Split(path.Dir(p), "/")
	if dirs[0] == "out" || dirs[0] == "bin" {
		return true
	}
	for _, d := range dirs {
		switch d {
		case "vendor", "node_modules", "third_party", "testdata", "generated":
			return true
		}
	}
	if strings.HasSuffix(p, ".json") && (strings.HasSuffix(p, ".schema.json") || slices.Contains(dirs, "schema")) {
		return true
	}
	return false
}

// isText reports whether data looks like text: no NUL in its first 8 KiB.
func isText(data []byte) bool {
	return !bytes.Contains(data[:min(len(data), 8<<10)], []byte{0})
}

var generatedMarker = regexp.MustCompile(`(?m)^\W*Code generated .*DO NOT EDIT`)

// isGenerated reports whether data carries the "Code generated ... DO NOT EDIT" marker near
// its top.
func isGenerated(data []byte) bool {
	return generatedMarker.Match(data[:min(len(data), 2<<10)])
}

// repo is the set of tracked files and the folders that hold them.
type repo struct {
	files   map[string]bool
	dirs    map[string]bool
	read    func(path string) ([]byte, error)
	anchors map[string]map[string]bool // per Markdown file, read once
}

func newRepo(files []string, read func(string) ([]byte, error)) *repo {
	r := &repo{files: map[string]bool{}, dirs: map[string]bool{".": true}, read: read, anchors: map[string]map[string]bool{}}
	for _, f := range files {
		r.files[f] = true
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			r.dirs[d] = true
		}
	}
	return r
}

func (r *repo) exists(p string) bool { return r.files[p] || r.dirs[p] }

// check returns one line per reference of file f (whose text is text) that leaves the
// repository.
func (r *repo) check(f, text string) []string {
	var problems []string
	if strings.HasSuffix(f, ".md") {
		for _, l := range markdownLinks(text) {
			if why := r.checkLink(f, l.target); why != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: link (%s): %s", f, l.line, l.target, why))
			}
		}
	}
	if strings.HasSuffix(f, ".md") {
		// The text of a link names what its target points at, and the target is checked above:
		// [ARCHITECTURE.md](docs/ARCHITECTURE.md) is not a mention of a root ARCHITECTURE.md.
		text = linkTextOf.ReplaceAllStringFunc(text, blankLinkText)
	}
	for _, m := range mentions(text) {
		if !r.mentionExists(f, m.path) {
			problems = append(problems, fmt.Sprintf("%s:%d: mentions %s, which is not in the repository", f, m.line, m.path))
		}
	}
	return problems
}

// linkTextOf matches the "[text](" that opens an inline link or image.
var linkTextOf = regexp.MustCompile(`\[[^\]\n]*\]\(`)

// blankLinkText replaces the text of "[text](" with spaces.
func blankLinkText(s string) string {
	return "[" + strings.Repeat(" ", len(s)-3) + "]("
}

var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// checkLink says what is wrong with a Markdown link target in file from, or "" when nothing
// is (or when the target is a web address or an anchor in the same page).
func (r *repo) checkLink(from, target string) string {
	if target == "" || strings.HasPrefix(target, "#") || scheme.MatchString(target) {
		return ""
	}
	ref, anchor, _ := strings.Cut(target, "#")
	ref, _, _ = strings.Cut(ref, "?")
	if s, err := url.PathUnescape(ref); err == nil {
		ref = s
	}
	p, ok := resolve(from, ref)
	if !ok {
		return "outside the repository"
	}
	if !r.exists(p) {
		return "no such file or folder in the repository"
	}
	if anchor == "" || !strings.HasSuffix(p, ".md") || !r.files[p] {
		return ""
	}
	if s, err := url.PathUnescape(anchor); err == nil {
		anchor = s
	}
	anchors, err := r.anchorsOf(p)
	if err != nil {
		return err.Error()
	}
	if !anchors[strings.ToLower(anchor)] {
		return fmt.Sprintf("%s has no heading with the anchor #%s", p, anchor)
	}
	return ""
}

func (r *repo) anchorsOf(p string) (map[string]bool, error) {
	if a, ok := r.anchors[p]; ok {
		return a, nil
	}
	data, err := r.read(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", p, err)
	}
	a := headingAnchors(string(data))
	r.anchors[p] = a
	return a, nil
}

// resolve turns a reference made in file from into a path from the repository's root: a
// leading "/" means the root, anything else is relative to from's folder. It fails for a path
// that climbs out of the repository.
func resolve(from, ref string) (string, bool) {
	var p string
	if rest, ok := strings.CutPrefix(ref, "/"); ok {
		p = path.Clean("./" + rest)
	} else {
		p = path.Join(path.Dir(from), ref)
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, true
}

// mentionExists reports whether a document mentioned in file from is in the repository:
// relative to from, from the root, or (a bare name) in a folder above from.
func (r *repo) mentionExists(from, p string) bool {
	if q, ok := resolve(from, p); ok && r.files[q] {
		return true
	}
	if strings.HasPrefix(p, "/") {
		return false // resolve already read it from the root
	}
	if q := path.Clean(p); !strings.HasPrefix(q, "../") && r.files[q] {
		return true
	}
	if !strings.Contains(p, "/") {
		for d := path.Dir(from); d != "."; d = path.Dir(d) {
			if r.files[path.Join(d, p)] {
				return true
			}
		}
	}
	return false
}

// link is a Markdown link target and the line it is on.
type link struct {
	line   int
	target string
}

var (
	// inlineLink matches the "](target "title")" of an inline link or image.
	inlineLink = regexp.MustCompile(`\]\(\s*(<[^>\n]*>|[^\s)]*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)`)
	// referenceDefinition matches "[label]: target" at the start of a line.
	referenceDefinition = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>\n]*>|\S+)`)
)

// markdownLinks returns the targets of the inline links, images and reference definitions of
// a Markdown text, leaving out code: fenced blocks and code spans.
func markdownLinks(text string) []link {
	var links []link
	var fence string
	for i, line := range strings.Split(text, "\n") {
		var inFence bool
		fence, inFence = fenceState(fence, line)
		if inFence {
			continue
		}
		line = blankCodeSpans(line)
		for _, m := range referenceDefinition.FindAllStringSubmatch(line, -1) {
			links = append(links, link{i + 1, strings.Trim(m[1], "<>")})
		}
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			links = append(links, link{i + 1, strings.Trim(m[1], "<>")})
		}
	}
	return links
}

// fenceState follows fenced code blocks line by line: given the open fence ("" for none) and
// the next line, it returns the fence open after that line and whether the line is part of a
// block (its fences included).
func fenceState(open, line string) (string, bool) {
	trimmed := strings.TrimLeft(line, " ")
	if len(line)-len(trimmed) > 3 {
		return open, open != ""
	}
	run := leadingRun(trimmed)
	if open == "" {
		if len(run) >= 3 && (run[0] == '`' || run[0] == '~') && !(run[0] == '`' && strings.Contains(trimmed[len(run):], "`")) {
			return run, true
		}
		return "", false
	}
	if len(run) >= len(open) && run[0] == open[0] && strings.TrimSpace(trimmed[len(run):]) == "" {
		return "", true
	}
	return open, true
}

// leadingRun is the run of '`' or '~' that s starts with.
func leadingRun(s string) string {
	if s == "" || (s[0] != '`' && s[0] != '~') {
		return ""
	}
	n := 1
	for n < len(s) && s[n] == s[0] {
		n++
	}
	return s[:n]
}

// blankCodeSpans replaces every code span of a line (from a run of backticks to the next run
// of the same length) with spaces.
func blankCodeSpans(line string) string {
	if !strings.Contains(line, "`") {
		return line
	}
	b := []byte(line)
	for i := 0; i < len(b); {
		if b[i] != '`' {
			i++
			continue
		}
		n := backticks(b, i)
		end := -1
		for j := i + n; j < len(b); {
			if b[j] != '`' {
				j++
				continue
			}
			m := backticks(b, j)
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			i += n
			continue
		}
		for k := i; k < end; k++ {
			b[k] = ' '
		}
		i = end
	}
	return string(b)
}

func backticks(b []byte, i int) int {
	n := 0
	for i+n < len(b) && b[i+n] == '`' {
		n++
	}
	return n
}

// atxHeading matches a "# heading" line; group 1 is its text without a closing run of '#'.
var atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)

// headingAnchors returns the anchors GitHub gives the headings of a Markdown text (lower
// case; a repeated one gets "-1", "-2", ...). Only "#" headings count.
func headingAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	var fence string
	for _, line := range strings.Split(text, "\n") {
		var inFence bool
		if fence, inFence = fenceState(fence, line); inFence {
			continue
		}
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			anchors[s] = true
		}
		seen[s]++
	}
	return anchors
}

var linkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

// slug is GitHub's anchor for a heading: link syntax reduced to its text, lower case, letters,
// digits, '-' and '_' kept, each space a '-', everything else dropped.
func slug(heading string) string {
	heading = linkText.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, c := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(c) || unicode.IsNumber(c) || unicode.IsMark(c) || c == '-' || c == '_':
			b.WriteRune(c)
		case c == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// mention is a document named in a text and the line it is on.
type mention struct {
	line int
	path string
}

var (
	// pathToken is a run of the characters a file path (or a "file:line" pair, or a web
	// address's host and path) is made of in prose and code alike.
	pathToken = regexp.MustCompile(`[A-Za-z0-9_.~/:+-]+`)
	// upperCaseDoc is the name of a document such as the README or the contracts.
	upperCaseDoc = regexp.MustCompile(`^[A-Z][A-Z0-9_-]*\.md$`)
)

// mentions returns every mention in text of an upper-case Markdown file (README.md,
// CONTRACTS.md, with or without a folder) and of a Markdown file under docs/, leaving out web
// addresses (with a scheme, or starting with a host name).
func mentions(text string) []mention {
	var found []mention
	for i, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, ".md") {
			continue
		}
		for _, tok := range pathToken.FindAllString(line, -1) {
			if strings.Contains(tok, "://") {
				continue
			}
			for _, p := range strings.Split(tok, ":") {
				p = strings.TrimRight(p, ".")
				if isDocument(p) {
					found = append(found, mention{i + 1, p})
				}
			}
		}
	}
	return found
}

// isDocument reports whether a path token names a document this test holds to the repository.
func isDocument(p string) bool {
	if !strings.HasSuffix(p, ".md") {
		return false
	}
	if first, _, nested := strings.Cut(p, "/"); nested && strings.Contains(first[min(1, len(first)):], ".") && first != ".." {
		return false // a host name: github.com/owner/repo/README.md
	}
	if upperCaseDoc.MatchString(path.Base(p)) {
		return true
	}
	rest := strings.TrimLeft(p, "/")
	for {
		if r, ok := strings.CutPrefix(rest, "./"); ok {
			rest = r
		} else if r, ok := strings.CutPrefix(rest, "../"); ok {
			rest = r
		} else {
			break
		}
	}
	return strings.HasPrefix(rest, "docs/")
}
