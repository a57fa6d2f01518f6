package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Tasks a model can perform.
const (
	TaskBinary     = "binary"
	TaskMulticlass = "multiclass"
	TaskRegression = "regression"
)

// FerryInfo is Ferry's section of a package, stored beside MLmodel in
// ferry.json. JSON field order is fixed and map keys are sorted, so the same
// value always encodes to the same bytes.
type FerryInfo struct {
	// FormatVersion is the package format; Builder.Finish sets it.
	FormatVersion int `json:"format_version"`
	// Task is TaskBinary, TaskMulticlass, TaskRegression or "" (unknown).
	Task string `json:"task,omitempty"`
	// ClassLabels are the classes in the order of the model's outputs.
	ClassLabels []string `json:"class_labels,omitempty"`
	// Target is the label column the model was trained to predict, and
	// PositiveWhen the comparison that made a numeric target binary
	// ("> 15"); validation reads them to score the model as it was trained.
	Target       string `json:"target,omitempty"`
	PositiveWhen string `json:"positive_when,omitempty"`
	// Lineage traces the model to the run, code and data that made it.
	Lineage Lineage `json:"lineage"`
	// Files maps the slash-separated path of every file of the package except
	// ferry.json (MLmodel included) to "sha256:<hex>". Builder.Finish computes
	// it; a caller's value is ignored.
	Files map[string]string `json:"files"`
	// Profile is the training-data profile monitoring uses as its baseline. It
	// is opaque here: the dataset package produces and reads it.
	Profile json.RawMessage `json:"profile,omitempty"`
}

// Lineage records where a model came from.
type Lineage struct {
	RunID     string `json:"run_id,omitempty"`
	GitCommit string `json:"git_commit,omitempty"`
	// GitDirty reports uncommitted changes in the working tree at training time.
	GitDirty bool         `json:"git_dirty,omitempty"`
	Datasets []DatasetRef `json:"datasets,omitempty"`
	// Trainer names the trainer: a built-in one or the user's command.
	Trainer      string            `json:"trainer,omitempty"`
	Params       map[string]string `json:"params,omitempty"`
	FerryVersion string            `json:"ferry_version,omitempty"`
}

// DatasetRef is a dataset version a model was trained or validated on.
type DatasetRef struct {
	Name string `json:"name"`
	// Digest is the dataset version's content digest, e.g. "sha256:...".
	Digest string `json:"digest"`
	URI    string `json:"uri,omitempty"`
}

// validate checks what a caller gives Builder.Finish.
func (fi *FerryInfo) validate() error {
	switch fi.Task {
	case "", TaskBinary, TaskMulticlass, TaskRegression:
	default:
		return invalidf("%s: task %q is not binary, multiclass or regression", InfoFile, clip(fi.Task))
	}
	n := len(fi.ClassLabels)
	switch {
	case fi.Task == TaskRegression && n > 0:
		return invalidf("%s: a regression model has no class labels", InfoFile)
	case fi.Task == TaskBinary && n != 0 && n != 2:
		return invalidf("%s: a binary model has 2 class labels, not %d", InfoFile, n)
	case fi.Task == TaskMulticlass && n == 1:
		return invalidf("%s: a multiclass model has at least 2 class labels", InfoFile)
	}
	seen := map[string]bool{}
	for _, l := range fi.ClassLabels {
		if !utf8.ValidString(l) {
			return invalidf("%s: a class label is not UTF-8", InfoFile)
		}
		if seen[l] {
			return invalidf("%s: class label %q appears twice", InfoFile, clip(l))
		}
		seen[l] = true
	}
	if len(fi.Profile) > 0 && !json.Valid(fi.Profile) {
		return invalidf("%s: the profile is not valid JSON", InfoFile)
	}
	for i, d := range fi.Lineage.Datasets {
		if d.Name == "" || d.Digest == "" {
			return invalidf("%s: lineage dataset %d needs a name and a digest", InfoFile, i)
		}
	}
	for k, v := range fi.Lineage.Params {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return invalidf("%s: lineage params need non-empty UTF-8 names and UTF-8 values", InfoFile)
		}
	}
	return nil
}

// marshal encodes fi deterministically: two-space indentation, fields in
// declaration order, map keys sorted, no HTML escaping, a final newline.
func (fi *FerryInfo) marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(fi); err != nil {
		return nil, fmt.Errorf("model: encode %s: %w", InfoFile, err)
	}
	return buf.Bytes(), nil
}

// parseInfo decodes and checks a ferry.json read from a package.
func parseInfo(data []byte) (*FerryInfo, error) {
	var fi FerryInfo
	if err := json.Unmarshal(data, &fi); err != nil {
		return nil, invalidf("%s is not valid: %s", InfoFile, jsonProblem(err))
	}
	if len(fi.Profile) > 0 {
		fi.Profile = compactJSON(fi.Profile) // undo ferry.json's indentation
	}
	if fi.FormatVersion < 1 {
		return nil, invalidf("%s: format_version %d is not a package format", InfoFile, fi.FormatVersion)
	}
	if fi.FormatVersion > FormatVersion {
		return nil, invalidf("%s: format_version %d is newer than this Ferry reads (%d); upgrade Ferry", InfoFile, fi.FormatVersion, FormatVersion)
	}
	if _, ok := fi.Files[ManifestFile]; !ok {
		return nil, invalidf("%s does not list %s", InfoFile, ManifestFile)
	}
	for p, d := range fi.Files {
		if c, err := cleanRelPath(p); err != nil || c != p {
			return nil, invalidf("%s lists %q, which is not a clean relative path", InfoFile, clip(p))
		}
		if p == InfoFile {
			return nil, invalidf("%s lists itself", InfoFile)
		}
		if !validDigest(d) {
			return nil, invalidf("%s: the digest of %q is not \"sha256:\" and 64 hex digits", InfoFile, clip(p))
		}
	}
	return &fi, nil
}

func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// cleanRelPath checks a path named inside a package (a flavor's data file, a
// file added to a Builder) and returns it cleaned and slash-separated. It
// rejects empty, absolute and backslashed paths, paths that leave the package
// (../../etc/passwd) and paths this system cannot represent. The error says why.
func cleanRelPath(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("the path is empty")
	case strings.ContainsRune(p, 0):
		return "", errors.New("the path contains a NUL byte")
	case !utf8.ValidString(p):
		return "", errors.New("the path is not UTF-8")
	case strings.Contains(p, `\`):
		return "", errors.New("the path contains a backslash; use forward slashes")
	case path.IsAbs(p) || filepath.IsAbs(p) || filepath.VolumeName(p) != "":
		return "", errors.New("the path is absolute; it must be relative to the package")
	}
	c := path.Clean(p)
	switch {
	case c == ".":
		return "", errors.New("the path names the package directory itself")
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", errors.New("the path leaves the package directory")
	case !fs.ValidPath(c):
		return "", errors.New("the path is not a valid relative path")
	}
	if _, err := filepath.Localize(c); err != nil {
		return "", errors.New("the path is not valid on this system")
	}
	return c, nil
}
