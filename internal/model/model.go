// Package model reads and writes model packages: a directory with an MLmodel
// file in MLflow's format, the files it names, and — for packages Ferry writes —
// a ferry.json beside it holding the sha256 of every file, the task and class
// labels, the training-data profile and the lineage (DESIGN.md §5).
//
// Packages written by MLflow (flavors xgboost, lightgbm, onnx, python_function
// and others) load too; they carry no ferry.json and so are not verified.
//
// Writing goes through a Builder (or Save), which streams files into the
// directory, hashes them as they are written and finishes with MLmodel and
// ferry.json, each written atomically. The same inputs give byte-identical
// files. Reading goes through Load, which verifies every digest before it
// parses anything.
//
// Errors that a user can act on wrap a *ferry.Error: EINVALID for malformed or
// tampered packages, ENOTFOUND for missing packages and flavors, ETOOLARGE for
// files over a limit, ECONFLICT for a Builder pointed at a non-empty directory.
package model

import (
	"errors"
	"fmt"

	"github.com/ferry-ml/ferry"
)

// File names inside a package.
const (
	// ManifestFile is MLflow's MLmodel file at the root of every package.
	ManifestFile = "MLmodel"
	// InfoFile is Ferry's section, beside MLmodel; packages written by MLflow
	// have none.
	InfoFile = "ferry.json"
)

// FormatVersion is the version of the package format this build writes and the
// newest it reads. It is stored in ferry.json, in the ferry flavor and in the
// MLmodel's metadata as ferry_format_version.
const FormatVersion = 1

// Limits on what Load and ParseManifest read into memory.
const (
	// MaxManifestSize bounds an MLmodel file. MLflow's are a few kilobytes;
	// signatures of wide tables reach tens.
	MaxManifestSize = 1 << 20
	// MaxInfoSize bounds ferry.json, which holds the training-data profile.
	MaxInfoSize = 64 << 20
)

// MetadataFormatVersionKey is the MLmodel metadata key under which Ferry
// records FormatVersion, so that MLflow users see which format wrote a model.
const MetadataFormatVersionKey = "ferry_format_version"

// ErrFlavorNotFound is in the chain of errors that report a package without the
// requested flavor (or without any flavor Ferry can serve). Those errors also
// wrap an ENOTFOUND *ferry.Error.
var ErrFlavorNotFound = errors.New("model: flavor not found")

// codedError is an error of this package that a user can act on: it reads as
// "model: <message>" and wraps a *ferry.Error carrying the code and the
// message, plus an optional sentinel for errors.Is.
type codedError struct {
	fe       *ferry.Error
	sentinel error
}

func (e *codedError) Error() string { return "model: " + e.fe.Message }

func (e *codedError) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.fe}
	}
	return []error{e.fe, e.sentinel}
}

// errorf returns a codedError with the given ferry code.
func errorf(code, format string, args ...any) error {
	return &codedError{fe: ferry.Errorf(code, format, args...)}
}

// invalidf returns an EINVALID codedError.
func invalidf(format string, args ...any) error {
	return errorf(ferry.EINVALID, format, args...)
}

// flavorNotFound returns an ENOTFOUND error wrapping ErrFlavorNotFound.
func flavorNotFound(format string, args ...any) error {
	return &codedError{fe: ferry.Errorf(ferry.ENOTFOUND, format, args...), sentinel: ErrFlavorNotFound}
}

// Problem says what is wrong with one file of a verified package.
type Problem int

// The problems Load reports through an *IntegrityError.
const (
	// Tampered: the file's bytes do not match the digest in ferry.json.
	Tampered Problem = iota + 1
	// Missing: ferry.json lists the file but it is not in the directory.
	Missing
	// Unexpected: the file is in the directory but ferry.json does not list it.
	Unexpected
	// NotRegular: the entry is a symbolic link, device or other non-regular file.
	NotRegular
)

// IntegrityError reports a file of a Ferry package that fails verification. It
// names the file, and wraps an EINVALID *ferry.Error with the same message so
// that transports report it as a client-side problem.
type IntegrityError struct {
	// File is the file's slash-separated path relative to the package directory.
	File    string
	Problem Problem
}

func (e *IntegrityError) message() string {
	switch e.Problem {
	case Tampered:
		return fmt.Sprintf("file %q does not match its digest (tampered or corrupt)", e.File)
	case Missing:
		return fmt.Sprintf("file %q is listed in %s but missing (incomplete package)", e.File, InfoFile)
	case Unexpected:
		return fmt.Sprintf("file %q is not listed in %s (added after packaging)", e.File, InfoFile)
	case NotRegular:
		return fmt.Sprintf("file %q is not a regular file (links and devices are refused)", e.File)
	}
	return fmt.Sprintf("file %q failed verification", e.File)
}

// Error implements error: `model: file "model.json" does not match its digest (tampered or corrupt)`.
func (e *IntegrityError) Error() string { return "model: " + e.message() }

// Unwrap returns the EINVALID *ferry.Error behind e.
func (e *IntegrityError) Unwrap() error { return ferry.Errorf(ferry.EINVALID, "%s", e.message()) }
