// Package packaging turns a model version into artifacts that leave Ferry:
// reproducible bundles (a .tar.gz holding the model package and a bundle.json
// manifest) and OCI images (the ferry binary and the model, built with
// go-containerregistry, no Docker needed), and verifies them on the way back
// (DESIGN.md §5: packaging the same inputs twice gives byte-identical bundles).
//
// Reproducibility rests on fixed inputs and fixed encodings: entries sorted by
// name, modification time Meta.Created (Unix 0 when unset), uid/gid 0 and no
// user or group names, mode 0644 for files and 0755 for directories (0755 for
// the binary), PAX headers without access or change times, a gzip header
// without name or time, and klauspost/compress's gzip at a fixed level. The
// same package, Meta, Options and binary therefore give the same bytes and the
// same digests with the same build of Ferry; a different version of the gzip
// library may compress differently.
//
// Every file is streamed: hashed while it is copied, never read whole into
// memory. Only verified packages (those with a ferry.json, see model.Load) are
// packaged, and every byte copied is checked against the package's digests.
//
// Errors that a user can act on wrap a *ferry.Error: EINVALID for bad input,
// tampered, truncated or malformed bundles and images; ECONFLICT for a
// destination that already holds files; ENOTFOUND for a missing source.
// Integrity failures of a bundle are *IntegrityError values naming the entry.
//
// The functions hold no shared state and are safe for concurrent use; two
// calls must not write to the same destination.
package packaging

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// Meta describes the model version being packaged. It is recorded in
// bundle.json and in the image's labels and annotations, so every field is
// part of the artifact's digest.
type Meta struct {
	// Name is the registered model's name; required.
	Name string `json:"name"`
	// Version is the model version, from 1.
	Version int `json:"version"`
	// RunID and GitCommit trace the version to its training run and code.
	// Empty values are taken from the package's lineage.
	RunID     string `json:"run_id,omitempty"`
	GitCommit string `json:"git_commit,omitempty"`
	// DatasetDigests are the digests of the data the model was trained on, in
	// the caller's order. When nil they are taken from the package's lineage.
	DatasetDigests []string `json:"dataset_digests,omitempty"`
	// ModelDigest is the package's content address, pkg.Digest(). When empty it
	// is filled in; when set it must match the package.
	ModelDigest string `json:"model_digest"`
	// Created is a fixed time, the version's creation time: it is the
	// modification time of every archive entry and the image's creation time,
	// so it must not be time.Now() if the output is to be reproducible. It is
	// stored in UTC; the zero time means the Unix epoch.
	Created time.Time `json:"created"`
	// Labels are extra key/value pairs recorded in bundle.json and as image
	// labels. Keys must not use the org.opencontainers.image. or ferry.
	// prefixes, which this package sets.
	Labels map[string]string `json:"labels,omitempty"`
}

// Compression selects how a bundle or an image layer is compressed.
type Compression string

// Compressions. The empty value means CompressionGzip.
const (
	// CompressionGzip compresses with gzip (klauspost/compress) at
	// Options.Level: a .tar.gz bundle, application/vnd.oci.image.layer.v1.tar+gzip
	// layers.
	CompressionGzip Compression = "gzip"
	// CompressionNone writes plain tar: a .tar bundle, uncompressed
	// application/vnd.oci.image.layer.v1.tar layers. Fastest; model weights are
	// often close to incompressible anyway.
	CompressionNone Compression = "none"
)

// DefaultLevel is the gzip level used when Options.Level is 0: BestSpeed.
// klauspost/compress at level 1 stores incompressible data (such as float
// weights) at memory speed, and on a JSON model it is 2.2× as fast as level 6
// for an output 10 % larger; see BENCHMARKS.md "## Packaging". Levels 2–9
// trade speed for size and are equally reproducible.
const DefaultLevel = 1

// Options tune WriteBundle and WriteImage. The zero value is gzip at
// DefaultLevel without progress reports.
type Options struct {
	// Compression is CompressionGzip (the default) or CompressionNone.
	Compression Compression
	// Level is the gzip level, 1 (fastest) to 9 (smallest); 0 means
	// DefaultLevel. It is part of what makes the output reproducible: the same
	// inputs at another level give other bytes.
	Level int
	// Progress, when set, is called with the bytes of package files (and the
	// binary, for images) copied so far and the total, after every chunk of at
	// most 1 MiB and once at the start. It is called synchronously from the
	// writing goroutine and must return quickly.
	Progress func(done, total int64)
}

// FormatVersion is the version of the bundle format (bundle.json's
// format_version) this build writes and the newest it reads.
const FormatVersion = 1

// Names inside bundles and images.
const (
	// ManifestName is the bundle's manifest, its first entry.
	ManifestName = "bundle.json"
	// ModelDir is the directory holding the package, in bundles and images
	// (where it is /model).
	ModelDir = "model"
	// BinaryPath is the ferry binary's path in images.
	BinaryPath = "/usr/local/bin/ferry"
	// Port is the TCP port the image's server listens on. MLflow's
	// `mlflow models build-docker` images serve on 8080 (5000 is the tracking
	// server's default), and so do Ferry's images: FERRY_ADDR is set to
	// 0.0.0.0:8080 and the port is exposed.
	Port = 8080
)

// Limits on what readers hold in memory.
const (
	// MaxManifestSize bounds bundle.json.
	MaxManifestSize = 16 << 20
)

// Label and annotation keys set on images.
const (
	LabelTitle          = "org.opencontainers.image.title"
	LabelVersion        = "org.opencontainers.image.version"
	LabelRevision       = "org.opencontainers.image.revision"
	LabelCreated        = "org.opencontainers.image.created"
	LabelModelName      = "ferry.model.name"
	LabelModelVersion   = "ferry.model.version"
	LabelRunID          = "ferry.run.id"
	LabelModelDigest    = "ferry.model.digest"
	LabelDatasetDigests = "ferry.dataset.digests" // comma-separated, in Meta order
)

// codedError is an error of this package that a user can act on: it reads as
// "packaging: <message>" and wraps a *ferry.Error with the code and message.
type codedError struct{ fe *ferry.Error }

func (e *codedError) Error() string { return "packaging: " + e.fe.Message }
func (e *codedError) Unwrap() error { return e.fe }

func errorf(code, format string, args ...any) error {
	return &codedError{fe: ferry.Errorf(code, format, args...)}
}

func invalidf(format string, args ...any) error { return errorf(ferry.EINVALID, format, args...) }

// Problem says what is wrong with one entry of a bundle.
type Problem int

// The problems VerifyBundle and ExtractBundle report through *IntegrityError.
const (
	// Tampered: the entry's bytes do not match its digest.
	Tampered Problem = iota + 1
	// Missing: bundle.json lists the file but the archive lacks it.
	Missing
	// Unexpected: the archive holds a file bundle.json does not list.
	Unexpected
	// NotRegular: the entry is a link, device or other non-regular file.
	NotRegular
	// UnsafePath: the entry's name is absolute, leaves the bundle (../) or is
	// not in canonical form.
	UnsafePath
	// Duplicate: the entry appears twice.
	Duplicate
	// Truncated: the archive ends inside or before the entry.
	Truncated
	// WrongSize: the entry's size differs from bundle.json's.
	WrongSize
	// Inconsistent: bundle.json and the package's ferry.json disagree on the
	// file.
	Inconsistent
)

// IntegrityError reports an entry of a bundle that fails verification. It
// names the entry and wraps an EINVALID *ferry.Error with the same message.
type IntegrityError struct {
	// File is the entry's name in the archive, e.g. "model/model.json".
	File    string
	Problem Problem
	// Detail adds what the archive reader said, for Truncated.
	Detail string
}

func (e *IntegrityError) message() string {
	f := clip(e.File)
	switch e.Problem {
	case Tampered:
		return fmt.Sprintf("bundle file %q does not match its digest", f)
	case Missing:
		return fmt.Sprintf("bundle file %q is listed in %s but missing from the archive", f, ManifestName)
	case Unexpected:
		return fmt.Sprintf("bundle file %q is not listed in %s", f, ManifestName)
	case NotRegular:
		return fmt.Sprintf("bundle entry %q is not a regular file or directory (links and devices are refused)", f)
	case UnsafePath:
		return fmt.Sprintf("bundle entry %q has an unsafe path (absolute, leaving the bundle or not canonical)", f)
	case Duplicate:
		return fmt.Sprintf("bundle entry %q appears more than once", f)
	case Truncated:
		if e.File == "" {
			return "bundle is truncated or corrupt before its first entry" + detail(e.Detail)
		}
		return fmt.Sprintf("bundle is truncated or corrupt at file %q", f) + detail(e.Detail)
	case WrongSize:
		return fmt.Sprintf("bundle file %q has a different size than %s lists", f, ManifestName)
	case Inconsistent:
		return fmt.Sprintf("%s and %s/%s disagree on bundle file %q", ManifestName, ModelDir, model.InfoFile, f)
	}
	return fmt.Sprintf("bundle entry %q failed verification", f)
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}

// Error implements error: `packaging: bundle file "model/model.json" does not match its digest`.
func (e *IntegrityError) Error() string { return "packaging: " + e.message() }

// Unwrap returns the EINVALID *ferry.Error behind e.
func (e *IntegrityError) Unwrap() error { return ferry.Errorf(ferry.EINVALID, "%s", e.message()) }

// normalize checks meta against pkg and returns the Meta that is recorded:
// lineage defaults filled in, Created in UTC, ModelDigest set.
func normalize(pkg *model.Package, meta Meta) (Meta, error) {
	if pkg == nil {
		return Meta{}, invalidf("no model package given")
	}
	if !pkg.Verified() || pkg.Digest() == "" {
		return Meta{}, invalidf("the model package in %q has no %s with file digests (written by MLflow?); save it through Ferry first", clip(pkg.Dir), model.InfoFile)
	}
	switch {
	case meta.Name == "":
		return Meta{}, invalidf("the model needs a name")
	case !utf8.ValidString(meta.Name) || strings.ContainsFunc(meta.Name, isControl):
		return Meta{}, invalidf("model name %q is not printable UTF-8", clip(meta.Name))
	case meta.Version < 1:
		return Meta{}, invalidf("model version %d is not a version number (from 1)", meta.Version)
	}
	if meta.ModelDigest == "" {
		meta.ModelDigest = pkg.Digest()
	} else if meta.ModelDigest != pkg.Digest() {
		return Meta{}, invalidf("meta names model digest %q but the package's is %q", clip(meta.ModelDigest), pkg.Digest())
	}
	lin := pkg.Info.Lineage
	if meta.RunID == "" {
		meta.RunID = lin.RunID
	}
	if meta.GitCommit == "" {
		meta.GitCommit = lin.GitCommit
	}
	if meta.DatasetDigests == nil && len(lin.Datasets) > 0 {
		for _, d := range lin.Datasets {
			meta.DatasetDigests = append(meta.DatasetDigests, d.Digest)
		}
	}
	meta.DatasetDigests = slices.Clone(meta.DatasetDigests)
	for _, d := range meta.DatasetDigests {
		if d == "" || strings.Contains(d, ",") {
			return Meta{}, invalidf("dataset digest %q is empty or holds a comma", clip(d))
		}
	}
	for k, v := range meta.Labels {
		switch {
		case k == "" || !utf8.ValidString(k) || !utf8.ValidString(v):
			return Meta{}, invalidf("labels need non-empty UTF-8 keys and UTF-8 values")
		case strings.HasPrefix(k, "org.opencontainers.image.") || strings.HasPrefix(k, "ferry."):
			return Meta{}, invalidf("label %q uses a reserved prefix (org.opencontainers.image. and ferry. are set by Ferry)", clip(k))
		}
	}
	if len(meta.Labels) == 0 {
		meta.Labels = nil
	} else {
		meta.Labels = maps.Clone(meta.Labels)
	}
	if meta.Created.IsZero() {
		meta.Created = time.Unix(0, 0)
	}
	meta.Created = meta.Created.UTC()
	return meta, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// options resolves the defaults of o.
func (o Options) resolve() (Options, error) {
	switch o.Compression {
	case "":
		o.Compression = CompressionGzip
	case CompressionGzip, CompressionNone:
	default:
		return o, invalidf("compression %q is not gzip or none", clip(string(o.Compression)))
	}
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	if o.Compression == CompressionGzip && (o.Level < 1 || o.Level > 9) {
		return o, invalidf("gzip level %d is not between 1 and 9", o.Level)
	}
	return o, nil
}

// clip shortens user-supplied strings quoted in messages.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// progressCounter reports bytes copied to an Options.Progress callback.
type progressCounter struct {
	fn          func(done, total int64)
	done, total int64
}

func (p *progressCounter) add(n int64) {
	if p == nil || p.fn == nil {
		return
	}
	p.done += n
	p.fn(p.done, p.total)
}

// countWriter counts bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
