//go:build onnx && cgo

package onnx

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// Supported reports whether this build has the ONNX runtime: true, since it
// was built with the onnx tag.
const Supported = true

// environment is ONNX Runtime's process-wide state. The library is loaded and
// its environment created once per process (onnxruntime_go keeps them in
// package variables, and ONNX Runtime allows one environment per process), so
// this is the one piece of package-level mutable state here, guarded by mu. It
// is never torn down: sessions come and go, the environment lives as long as
// the process.
var environment struct {
	mu      sync.Mutex
	library string // the library loaded; "" until the first successful init
	version string
}

// initEnvironment loads o.library and creates the environment, once. No
// library uses the one already loaded.
func initEnvironment(o options) error {
	library := o.library
	environment.mu.Lock()
	defer environment.mu.Unlock()
	if environment.library != "" {
		if library != "" && library != environment.library {
			return errorf(ferry.EINVALID, "ONNX Runtime is already loaded from %q in this process; it cannot also be loaded from %q", clip(environment.library), clip(library))
		}
		return nil
	}
	if library == "" {
		return errorf(ferry.EINVALID, "no ONNX Runtime library given: set %s to the path of libonnxruntime.so.1 (ONNX Runtime 1.24 or newer)", EnvLibrary)
	}
	if fi, err := os.Stat(library); err != nil || fi.IsDir() {
		return errorf(ferry.EINVALID, "the ONNX Runtime library %q (%s) is not a file", clip(library), EnvLibrary)
	}
	if ort.IsInitialized() { // initialised by someone else in this process
		return errorf(ferry.EINVALID, "ONNX Runtime was initialised outside Ferry's onnx runtime in this process")
	}
	ort.SetSharedLibraryPath(library)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		o.log.Error("onnx: initialise ONNX Runtime", "library", library, "err", err)
		return errorf(ferry.EINVALID, "cannot load ONNX Runtime from %q: %s (it must be ONNX Runtime 1.24 or newer for linux, C API version 24)", clip(library), clip(err.Error()))
	}
	environment.library = library
	environment.version = ort.GetVersion()
	o.log.Info("onnx: ONNX Runtime loaded", "library", library, "onnxruntime_version", environment.version)
	return nil
}

// Load loads the model of pkg's onnx flavor into an ONNX Runtime session. Its
// inputs and outputs (names, element types, shapes with -1 for dynamic
// dimensions such as the batch) are read from the graph; outputs that are not
// tensors (sequences and maps, e.g. skl2onnx's ZipMap) or have element types
// Ferry has no datatype for are left out, and a model left with no output is
// refused. Only the CPU execution provider is used: others that the MLmodel
// lists are logged and passed over, as onnxruntime falls back when they are
// absent.
//
// Errors wrap a *ferry.Error: ENOTFOUND when pkg has no onnx flavor or its data
// file is missing; EINVALID when the library cannot be loaded (see WithLibrary),
// the graph does not load, or an input is not a tensor of a supported type.
// The returned model is safe for concurrent use; its Close releases the
// session. Its Predict takes one tensor per graph input, matched by name (a
// single input may be unnamed), with the graph's rank and fixed dimensions;
// numbers are converted to the graph's element type where no value changes
// (FP64 to float32 rounds). It fails with EINVALID naming the input for
// tensors the graph cannot take, EUNAVAILABLE after Close, and ctx's error
// when ctx ends, which also stops the run.
func Load(ctx context.Context, pkg *model.Package, opts ...Option) (runtime.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := newOptions(opts)
	flavor, err := pkg.Manifest.ONNX()
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	path, err := pkg.DataPath(model.FlavorONNX)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if err := initEnvironment(o); err != nil {
		return nil, err
	}
	for _, p := range flavor.Providers {
		if p != "CPUExecutionProvider" {
			o.log.Warn("onnx: execution provider not available; using CPUExecutionProvider", "model", pkg.Dir, "provider", p)
		}
	}

	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx: session options: %w", err)
	}
	defer so.Destroy()
	if o.threads > 0 {
		if err := so.SetIntraOpNumThreads(o.threads); err != nil {
			return nil, fmt.Errorf("onnx: set threads: %w", err)
		}
	}

	inInfo, outInfo, err := ort.GetInputOutputInfoWithOptions(path, so)
	if err != nil {
		o.log.Warn("onnx: load graph", "model", pkg.Dir, "err", err)
		return nil, errorf(ferry.EINVALID, "the onnx flavor's %s is not a graph ONNX Runtime %s can load: %s", clip(flavor.Data), environment.version, clip(err.Error()))
	}
	m := &onnxModel{}
	for _, in := range inInfo {
		spec, err := specOf(in)
		if err != nil {
			return nil, errorf(ferry.EINVALID, "model input %q: %s", clip(in.Name), err)
		}
		m.inputs = append(m.inputs, spec)
	}
	for _, out := range outInfo {
		spec, err := specOf(out)
		if err != nil {
			o.log.Warn("onnx: output left out", "model", pkg.Dir, "output", out.Name, "reason", err.Error())
			continue
		}
		m.outputs = append(m.outputs, spec)
	}
	if len(m.outputs) == 0 {
		return nil, errorf(ferry.EINVALID, "the model has no output Ferry can return (outputs must be tensors of numbers, booleans or strings)")
	}
	checkSignature(pkg, m, o)

	names := func(specs []ioSpec) []string {
		s := make([]string, len(specs))
		for i, sp := range specs {
			s[i] = sp.Name
		}
		return s
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.session, err = ort.NewDynamicAdvancedSession(path, names(m.inputs), names(m.outputs), so)
	if err != nil {
		return nil, errorf(ferry.EINVALID, "cannot create an ONNX Runtime session for %s: %s", clip(flavor.Data), clip(err.Error()))
	}
	m.meta = runtime.Metadata{Platform: Platform}
	for _, sp := range m.inputs {
		m.meta.Inputs = append(m.meta.Inputs, sp.TensorSpec)
	}
	for _, sp := range m.outputs {
		m.meta.Outputs = append(m.meta.Outputs, sp.TensorSpec)
	}
	return m, nil
}

// checkSignature logs where a tensor signature in MLmodel disagrees with the
// graph; the graph is what the session runs, so it wins.
func checkSignature(pkg *model.Package, m *onnxModel, o options) {
	sig := pkg.Manifest.Signature
	if !sig.IsTensorBased() || sig.Inputs[0].Name == "" {
		return
	}
	for _, sp := range sig.Inputs {
		if !slices.ContainsFunc(m.inputs, func(in ioSpec) bool { return in.Name == sp.Name }) {
			o.log.Warn("onnx: signature input not in the graph; the graph's inputs are served", "model", pkg.Dir, "input", sp.Name)
		}
	}
}

// onnxModel is an ONNX model loaded into an ONNX Runtime session. Its methods are
// safe for concurrent use; Close waits for running Predicts.
type onnxModel struct {
	session *ort.DynamicAdvancedSession
	inputs  []ioSpec
	outputs []ioSpec
	meta    runtime.Metadata

	mu     sync.RWMutex // held for reading by Predict, for writing by Close
	closed bool
}

// Metadata describes the graph's inputs and outputs; platform "onnx". Callers
// must not modify it.
func (m *onnxModel) Metadata() runtime.Metadata { return m.meta }

// Predict runs the graph on inputs, one tensor per graph input, matched by
// name (a single input may be unnamed). Numbers are converted to the element
// type the graph takes when no value changes (FP64 to a float input may
// round, as float32 does); shapes must have the graph's rank and its fixed
// dimensions. It returns one tensor per served output, in graph order.
//
// Errors: EINVALID for inputs the graph cannot take (naming the input and what
// it expected) and for inputs ONNX Runtime rejects while running;
// EUNAVAILABLE after Close; ctx's error when ctx ends, which also stops the
// run.
func (m *onnxModel) Predict(ctx context.Context, inputs []runtime.Tensor) ([]runtime.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errorf(ferry.EUNAVAILABLE, "the model is closed")
	}
	ordered, err := m.match(inputs)
	if err != nil {
		return nil, err
	}
	in := make([]ort.Value, 0, len(m.inputs))
	defer func() {
		for _, v := range in {
			v.Destroy()
		}
	}()
	for i, sp := range m.inputs {
		v, err := toValue(sp, ordered[i])
		if err != nil {
			return nil, err
		}
		in = append(in, v)
	}

	out := make([]ort.Value, len(m.outputs)) // nil: ONNX Runtime allocates
	defer func() {
		for _, v := range out {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	if err := m.run(ctx, in, out); err != nil {
		return nil, err
	}
	result := make([]runtime.Tensor, len(out))
	for i, v := range out {
		t, err := fromValue(m.outputs[i], v)
		if err != nil {
			return nil, err
		}
		result[i] = t
	}
	return result, nil
}

// run runs the session, terminating it when ctx ends.
func (m *onnxModel) run(ctx context.Context, in, out []ort.Value) error {
	if ctx.Done() == nil {
		if err := m.session.Run(in, out); err != nil {
			return runError(err)
		}
		return nil
	}
	ro, err := ort.NewRunOptions()
	if err != nil {
		return fmt.Errorf("onnx: run options: %w", err)
	}
	defer ro.Destroy()
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(terminated)
		_ = ro.Terminate()
	})
	err = m.session.RunWithOptions(in, out, ro)
	if !stop() {
		<-terminated // Terminate ran or is running; let it finish before Destroy
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err != nil {
		return runError(err)
	}
	return nil
}

func runError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "Error running network: ")
	return errorf(ferry.EINVALID, "ONNX Runtime could not score the input: %s", clip(msg))
}

// match orders inputs as the graph's inputs, checking names.
func (m *onnxModel) match(inputs []runtime.Tensor) ([]*runtime.Tensor, error) {
	ordered := make([]*runtime.Tensor, len(m.inputs))
	if len(m.inputs) == 1 && len(inputs) == 1 && inputs[0].Name == "" {
		ordered[0] = &inputs[0]
		return ordered, nil
	}
	for i := range inputs {
		t := &inputs[i]
		idx := slices.IndexFunc(m.inputs, func(sp ioSpec) bool { return sp.Name == t.Name })
		switch {
		case idx < 0:
			return nil, errorf(ferry.EINVALID, "unknown input %q (the model takes %s)", clip(t.Name), m.inputList())
		case ordered[idx] != nil:
			return nil, errorf(ferry.EINVALID, "input %q is given twice", clip(t.Name))
		}
		ordered[idx] = t
	}
	for i, t := range ordered {
		if t == nil {
			return nil, errorf(ferry.EINVALID, "missing input %q (the model takes %s)", clip(m.inputs[i].Name), m.inputList())
		}
	}
	return ordered, nil
}

func (m *onnxModel) inputList() string {
	var b strings.Builder
	for i, sp := range m.inputs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q %s %v", sp.Name, sp.Datatype, sp.Shape)
	}
	return b.String()
}

// Close releases the session after running Predicts return. Later Predicts
// fail with EUNAVAILABLE; a second Close does nothing.
func (m *onnxModel) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if err := m.session.Destroy(); err != nil {
		return fmt.Errorf("onnx: close session: %w", err)
	}
	return nil
}
