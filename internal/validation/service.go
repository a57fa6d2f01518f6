package validation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// VersionLoader loads registered versions by models:/ URI;
// *runtime.VersionLoader is one.
type VersionLoader interface {
	LoadVersion(ctx context.Context, uri string) (*runtime.Loaded, error)
}

// DataResolver turns a data:/name/version reference into a local file and
// the asset version it holds.
type DataResolver interface {
	ResolveData(ctx context.Context, ref string) (path string, asset dataset.Asset, err error)
}

// CheckRecorder records a check's verdict on a registered version, as the
// principal in ctx; the registry's promotion rules read it.
type CheckRecorder interface {
	RecordCheck(ctx context.Context, name string, version int, kind, verdict, details string) error
}

// CheckKind is the kind of check a validation is recorded as.
const CheckKind = "validation"

// Service validates registered versions: the use case behind `ferry
// validate`, and later the validate step of pipelines. It is safe for
// concurrent use when its dependencies are.
type Service struct {
	Models VersionLoader
	Data   DataResolver
	Checks CheckRecorder
}

// Request says what to validate and how.
type Request struct {
	// URI names the candidate: models:/name/3, models:/name@alias, ...
	URI string
	// Data is the evaluation data: data:/name/version or a local file.
	Data string
	// Baseline names the version to compare with: "@alias", a version
	// number, or a models:/ URI; "" means none.
	Baseline string
	// Policy holds the gates; nil means only schema and prediction checks.
	Policy *Policy
	// Target, PositiveWhen and Task override what the package records.
	Target, PositiveWhen, Task string
	// Slices are reported per value (only the policy's are gated).
	Slices []string
}

// ErrBaseline marks a validation that could not be done because its
// baseline could not be loaded.
var ErrBaseline = errors.New("validation: baseline cannot be loaded")

// ValidateVersion evaluates the candidate on the data, judges it with the
// policy against the baseline evaluated on the same rows, and records the
// verdict as a "validation" check on the candidate (an error verdict is
// recorded as fail). It returns the report whenever one was made, with an
// error when the validation could not be completed; a failed gate is not an
// error (see Report.Verdict).
func (s *Service) ValidateVersion(ctx context.Context, req Request) (*Report, error) {
	cand, err := s.Models.LoadVersion(ctx, req.URI)
	if err != nil {
		return nil, err
	}
	defer cand.Close()
	in := Input{
		Candidate: modelOf(cand, req.URI), User: auth.PrincipalFrom(ctx), SliceColumns: req.Slices, Policy: req.Policy,
		Target: req.Target, PositiveWhen: req.PositiveWhen, Task: req.Task,
	}
	if info := cand.Package.Info; info != nil {
		if in.Target == "" {
			in.Target = info.Target
		}
		if in.PositiveWhen == "" {
			in.PositiveWhen = info.PositiveWhen
		}
	}
	if req.Baseline != "" {
		uri := baselineURI(cand.Version.Name, req.Baseline)
		base, err := s.Models.LoadVersion(ctx, uri)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBaseline, &ferry.Error{Code: ferry.ErrorCode(err), Message: fmt.Sprintf("The baseline %s cannot be loaded, so the validation cannot be done: %s", req.Baseline, ferry.ErrorMessage(err))})
		}
		defer base.Close()
		m := modelOf(base, uri)
		in.Baseline = &m
	}
	path := req.Data
	in.DataRef = DataRef{URI: req.Data}
	if strings.HasPrefix(req.Data, "data:") {
		var asset dataset.Asset
		if path, asset, err = s.Data.ResolveData(ctx, req.Data); err != nil {
			return nil, err
		}
		in.DataRef.Digest = asset.Digest
	}
	if in.Data, err = dataset.Read(ctx, path, dataset.ReadOptions{}); err != nil {
		return nil, err
	}
	rep, verr := Validate(ctx, in)
	if rep == nil {
		return nil, verr
	}
	details, err := json.Marshal(rep)
	if err != nil {
		return rep, fmt.Errorf("validation: encode report: %w", err)
	}
	verdict := rep.Verdict
	if verdict == VerdictError {
		verdict = VerdictFail
	}
	if err := s.Checks.RecordCheck(ctx, cand.Version.Name, cand.Version.Version, CheckKind, verdict, string(details)); err != nil {
		return rep, err
	}
	return rep, verr
}

// baselineURI expands "@alias" and "3" to models:/ URIs of name.
func baselineURI(name, ref string) string {
	switch {
	case strings.HasPrefix(ref, "@"):
		return "models:/" + name + ref
	case !strings.HasPrefix(ref, "models:/"):
		return "models:/" + name + "/" + ref
	}
	return ref
}

func modelOf(l *runtime.Loaded, uri string) Model {
	return Model{
		Ref:     Ref{Model: l.Version.Name, Version: l.Version.Version, URI: uri},
		Pkg:     l.Package,
		Predict: RuntimePredictor(l.Model),
	}
}
