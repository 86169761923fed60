// Package provenance gives hopguard's policy set a version that changes with any change to what
// decides: the sha256 of the bundle's files but its tests and the file the version is written
// in. synapse asks Cerbos for the resource Kind with every check, and its policy's one rule
// outputs that version, so whoever reads a decision (synapse's audit record, the agent's hop)
// knows which policy set made it, straight from the decision point, even while the set changes
// under a running Cerbos.
package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
)

// File is where the version is written, relative to the bundle: an exportConstants policy
// named "provenance" that every resource policy imports.
const File = "export_constants/provenance.yaml"

// The resource synapse adds to every check (resource_policies/provenance.yaml): Action on it is
// allowed to anyone, and its rule's output is the version.
const (
	Kind   = "hopguard:provenance"
	ID     = "provenance"
	Action = "read"
)

// testsDir holds Cerbos's test suites: they decide nothing.
const testsDir = "tests"

// prefix starts every version; hexDigits of the digest follow (64 bits: enough to tell
// versions apart, short enough to read in a log line).
const (
	prefix    = "sha256:"
	hexDigits = 16
)

// versionLine is the constant's line in File.
var versionLine = regexp.MustCompile(`(?m)^(\s*policy_version:\s*)"[^"\n]*"\s*$`)

// Version is the version of the bundle in bundle: a digest of every file's path and contents,
// in path order, but those of tests/ and File.
func Version(bundle fs.FS) (string, error) {
	var files []string
	err := fs.WalkDir(bundle, ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p == testsDir:
			return fs.SkipDir
		case d.IsDir() || p == File:
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file: a bundle holds files and directories only", p)
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read the policy bundle: %w", err)
	}
	slices.Sort(files)
	h := sha256.New()
	for _, p := range files {
		b, err := fs.ReadFile(bundle, p)
		if err != nil {
			return "", fmt.Errorf("read the policy bundle: %w", err)
		}
		// Length-prefixed, so that no two bundles hash the same bytes.
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
	}
	return prefix + hex.EncodeToString(h.Sum(nil))[:hexDigits], nil
}

// Stamped is the version written in the bundle's File.
func Stamped(bundle fs.FS) (string, error) {
	b, err := fs.ReadFile(bundle, File)
	if err != nil {
		return "", fmt.Errorf("read the policy version: %w", err)
	}
	m := versionLine.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s has no policy_version line", File)
	}
	v := bytes.TrimSpace(bytes.TrimPrefix(m[0], m[1]))
	return string(bytes.Trim(v, `"`)), nil
}

// ErrStale is returned by Check for a bundle whose written version is not its own.
var ErrStale = errors.New("the policy version written in the bundle is stale")

// Check says whether the version written in the bundle at dir is its version.
func Check(dir string) error {
	bundle := os.DirFS(dir)
	want, err := Version(bundle)
	if err != nil {
		return err
	}
	got, err := Stamped(bundle)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: %s says %s, the bundle is %s (make policy-stamp)", ErrStale, path.Join(dir, File), got, want)
	}
	return nil
}

// Stamp writes the bundle's version into its File at dir and returns it. The file is replaced
// by a rename, so a Cerbos watching dir never reads half of it.
func Stamp(dir string) (string, error) {
	version, err := Version(os.DirFS(dir))
	if err != nil {
		return "", err
	}
	target := filepath.Join(dir, filepath.FromSlash(File))
	b, err := os.ReadFile(target)
	if err != nil {
		return "", fmt.Errorf("read the policy version: %w", err)
	}
	if !versionLine.Match(b) {
		return "", fmt.Errorf("%s has no policy_version line", target)
	}
	stamped := versionLine.ReplaceAll(b, []byte(`${1}"`+version+`"`))
	if bytes.Equal(stamped, b) {
		return version, nil
	}
	if err := WriteFile(target, stamped); err != nil {
		return "", err
	}
	return version, nil
}

// WriteFile replaces the file at name by one holding b, with a rename: a Cerbos watching its
// directory sees the old file or the new one, never a part of it (a truncated policy can still
// parse, and without its last DENY rule). The temporary file's name does not end in .yaml, so
// Cerbos does not read it.
func WriteFile(name string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes it otherwise
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
