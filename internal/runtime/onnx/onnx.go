// Package onnx serves models of MLflow's onnx flavor in-process with ONNX
// Runtime, through github.com/yalue/onnxruntime_go (cgo).
//
// The runtime exists only in builds with the onnx build tag and cgo:
//
//	CGO_ENABLED=1 go build -tags onnx ./cmd/ferry
//
// and needs ONNX Runtime's shared library at run time, named by the
// composition root from FERRY_ONNXRUNTIME_LIB (see LibraryFromEnv) and passed
// in with WithLibrary. The library must speak the C API version of the
// headers that onnxruntime_go carries: onnxruntime_go v1.27.0 has those of
// ONNX Runtime 1.24.1 (ORT_API_VERSION 24); a newer library also serves older
// API versions. .ci/onnx.sh fetches the matching library.
//
// In a build without the tag (or without cgo), Load has the same signature and
// fails with an ENOTIMPLEMENTED error that says how to get a build with ONNX support, so
// the composition root needs no build tags of its own; Supported reports which
// build this is.
//
// A loaded model holds one ONNX Runtime session, whose Run is safe for
// concurrent use; every Predict builds its own input and output tensors.
package onnx

import (
	"context"
	"log/slog"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// EnvLibrary is the environment variable that names ONNX Runtime's shared
// library (libonnxruntime.so.1). Only LibraryFromEnv reads it, from the
// environment the composition root hands over.
const EnvLibrary = "FERRY_ONNXRUNTIME_LIB"

// Platform is the V2 metadata platform of ONNX models.
const Platform = "onnx"

// NoSupportMessage is the message of the error Load returns in a build without
// the onnx tag.
const NoSupportMessage = "this build of Ferry has no ONNX support: rebuild with -tags onnx (cgo) and set " + EnvLibrary

// LibraryFromEnv returns the value of FERRY_ONNXRUNTIME_LIB in environ
// ("KEY=value" entries, as os.Environ returns them), "" when it is absent. When
// the key appears more than once the last value wins, as for os/exec.
func LibraryFromEnv(environ []string) string {
	lib := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, EnvLibrary+"="); ok {
			lib = v
		}
	}
	return lib
}

// Option configures Load.
type Option func(*options)

type options struct {
	library string
	threads int
	log     *slog.Logger
}

// WithLibrary names ONNX Runtime's shared library, e.g.
// /root/.cache/ferry-ci/onnxruntime/libonnxruntime.so.1. The first successful
// Load of the process loads it; ONNX Runtime cannot be loaded twice, so a later
// Load naming another library fails with EINVALID, and a later Load naming
// none uses the one loaded.
func WithLibrary(path string) Option { return func(o *options) { o.library = path } }

// WithIntraOpThreads sets how many threads one session uses inside an
// operator; 0 (the default) lets ONNX Runtime choose (one per core).
func WithIntraOpThreads(n int) Option { return func(o *options) { o.threads = n } }

// WithLogger sets the logger for load-time notes (skipped outputs, execution
// providers that are not available); the default discards them.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Loader returns Load with opts bound, for a runtime.Registry.
func Loader(opts ...Option) runtime.Loader {
	return func(ctx context.Context, pkg *model.Package) (runtime.Model, error) {
		return Load(ctx, pkg, opts...)
	}
}

// codedError is an error a user can act on: it reads "onnx: <message>" and
// wraps the *ferry.Error that carries the code and the message.
type codedError struct{ fe *ferry.Error }

func (e *codedError) Error() string { return "onnx: " + e.fe.Message }
func (e *codedError) Unwrap() error { return e.fe }

func errorf(code, format string, args ...any) error {
	return &codedError{fe: ferry.Errorf(code, format, args...)}
}

// clip shortens s for an error message.
func clip(s string) string {
	const most = 300
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}
