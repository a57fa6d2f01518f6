package validation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
)

// Names of the package checks.
const (
	CheckDigests      = "digests"
	CheckSignature    = "signature"
	CheckLoads        = "loads"
	CheckInputExample = "input_example"
	CheckPredictions  = "predictions"
)

// PredictionsFile is the file in which Ferry's trainer saves the model's
// predictions of its input example: {"predictions": [...]}, the values
// Predictor returns for the example's rows.
const PredictionsFile = "input_example_predictions.json"

// LatencyRows is the number of single-row predictions the latency budget
// is measured over.
const LatencyRows = 200

// exampleTolerance is the relative difference allowed between a prediction
// of the input example and the saved one.
const exampleTolerance = 1e-9

// maxExampleSize bounds the input example and predictions files read.
const maxExampleSize = 64 << 20

// CheckPackage checks the package of m and returns one result per check,
// and the total size in bytes of the package's files:
//
//   - digests (p.CheckDigests): every file is verified against ferry.json
//     again (model.Load); a failure names the file. Skipped for packages
//     MLflow wrote, which have no digests.
//   - signature (p.RequireSignature): MLmodel has an input signature.
//   - loads (always): m.Predict answers the input example (or, without one,
//     the first row of data) with outputs values per row.
//   - input_example (p.CheckInputExample): the predictions of the input
//     example match input_example_predictions.json to a relative 1e-9.
//     Skipped when the package has no example or no saved predictions.
//
// m.Pkg must not be nil. Predictor errors that are EINVALID fail a check;
// other predictor errors and ctx's error are returned, as are I/O errors
// other than a missing file. CheckPackage does not modify the package.
func CheckPackage(ctx context.Context, m Model, outputs int, data *dataset.Frame, p *PackagePolicy) ([]CheckResult, int64, error) {
	if p == nil {
		p = &PackagePolicy{}
	}
	pkg := m.Pkg
	var out []CheckResult
	if p.CheckDigests {
		r, err := checkDigests(ctx, pkg)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	if p.RequireSignature {
		r := CheckResult{Name: CheckSignature, Passed: true, Message: "MLmodel has an input signature"}
		if sig := pkg.Manifest.Signature; sig == nil || len(sig.Inputs) == 0 {
			r = CheckResult{Name: CheckSignature, Message: "MLmodel has no input signature; log the model with one (mlflow.models.infer_signature) or train it with Ferry"}
		}
		out = append(out, r)
	}

	example, exErr := readInputExample(pkg)
	if exErr != nil && !errors.Is(exErr, errNoExample) {
		var fe *ferry.Error
		if !errors.As(exErr, &fe) {
			return nil, 0, exErr
		}
	}
	probe, what := example, "the input example"
	if example == nil {
		if data == nil || data.Len() == 0 {
			probe = nil
		} else {
			probe, what = data.Take([]int{0}), "the first row of the evaluation data"
		}
	}
	var got []float64
	switch {
	case probe == nil:
		out = append(out, CheckResult{Name: CheckLoads, Passed: true, Skipped: true, Message: "no input example and no data to try the model on"})
	default:
		pred, err := m.Predict(ctx, probe)
		switch {
		case err != nil && ferry.ErrorCode(err) != ferry.EINVALID:
			return nil, 0, fmt.Errorf("validation: predict %s: %w", what, err)
		case err != nil:
			out = append(out, CheckResult{Name: CheckLoads, Message: fmt.Sprintf("the model fails on %s: %s", what, ferry.ErrorMessage(err))})
		case len(pred) != probe.Len()*outputs:
			out = append(out, CheckResult{Name: CheckLoads, Message: fmt.Sprintf("the model gives %d values for the %d rows of %s; want %d per row", len(pred), probe.Len(), what, outputs)})
		default:
			got = pred
			out = append(out, CheckResult{Name: CheckLoads, Passed: true, Message: fmt.Sprintf("the model loads and predicts %s", what)})
		}
	}

	if p.CheckInputExample {
		out = append(out, checkExample(pkg, example, exErr, got))
	}
	size, err := packageSize(pkg.Dir)
	if err != nil {
		return nil, 0, err
	}
	return out, size, nil
}

// checkDigests verifies the package again.
func checkDigests(ctx context.Context, pkg *model.Package) (CheckResult, error) {
	if !pkg.Verified() {
		return CheckResult{Name: CheckDigests, Passed: true, Skipped: true,
			Message: "the package has no ferry.json (written by MLflow): there are no digests to verify"}, nil
	}
	_, err := model.Load(ctx, pkg.Dir)
	if err == nil {
		return CheckResult{Name: CheckDigests, Passed: true, Message: fmt.Sprintf("all %d files match their digests", len(pkg.Info.Files))}, nil
	}
	if ctx.Err() != nil {
		return CheckResult{}, ctx.Err()
	}
	var ie *model.IntegrityError
	if errors.As(err, &ie) {
		return CheckResult{Name: CheckDigests, Message: ferry.ErrorMessage(err) + "; the package must not be used"}, nil
	}
	if code := ferry.ErrorCode(err); code == ferry.EINVALID || code == ferry.ENOTFOUND || code == ferry.ETOOLARGE {
		return CheckResult{Name: CheckDigests, Message: "the package does not load: " + ferry.ErrorMessage(err)}, nil
	}
	return CheckResult{}, fmt.Errorf("validation: verify package: %w", err)
}

// checkExample compares the predictions of the example with the saved ones.
func checkExample(pkg *model.Package, example *dataset.Frame, exErr error, got []float64) CheckResult {
	r := CheckResult{Name: CheckInputExample}
	switch {
	case errors.Is(exErr, errNoExample):
		r.Passed, r.Skipped, r.Message = true, true, "the package has no input example"
		return r
	case exErr != nil:
		r.Message = "the input example cannot be read: " + ferry.ErrorMessage(exErr)
		return r
	case got == nil:
		r.Message = "the model does not predict its input example (see the loads check)"
		return r
	}
	want, err := readPredictions(pkg)
	if errors.Is(err, errNoExample) {
		r.Passed, r.Skipped = true, true
		r.Message = fmt.Sprintf("the model predicts its %d-row input example, but the package has no %s to compare with (not written by Ferry's trainer)", example.Len(), PredictionsFile)
		return r
	} else if err != nil {
		r.Message = fmt.Sprintf("%s cannot be read: %s", PredictionsFile, ferry.ErrorMessage(err))
		return r
	}
	if len(want) != len(got) {
		r.Message = fmt.Sprintf("the model gives %d values for the input example; %s holds %d", len(got), PredictionsFile, len(want))
		return r
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); !(d <= exampleTolerance*max(math.Abs(got[i]), math.Abs(want[i]))) {
			r.Message = fmt.Sprintf("prediction %d of the input example is %s; %s holds %s (relative difference %.3g, at most %g allowed)",
				i+1, strconv.FormatFloat(got[i], 'g', -1, 64), PredictionsFile, strconv.FormatFloat(want[i], 'g', -1, 64), d/max(math.Abs(got[i]), math.Abs(want[i])), exampleTolerance)
			return r
		}
	}
	r.Passed = true
	r.Message = fmt.Sprintf("the %d predictions of the input example match %s", len(want), PredictionsFile)
	return r
}

// errNoExample reports a package without an input example (or without
// saved predictions).
var errNoExample = errors.New("validation: no input example")

// readPackageFile reads a file of the package, refusing paths that leave it.
// A missing file is errNoExample.
func readPackageFile(pkg *model.Package, rel string) ([]byte, error) {
	root, err := os.OpenRoot(pkg.Dir)
	if err != nil {
		return nil, fmt.Errorf("validation: open package: %w", err)
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoExample
	} else if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%s: %v", rel, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxExampleSize+1))
	if err != nil {
		return nil, fmt.Errorf("validation: read %s: %w", rel, err)
	}
	if len(b) > maxExampleSize {
		return nil, ferry.Errorf(ferry.ETOOLARGE, "%s is larger than %d bytes", rel, maxExampleSize)
	}
	return b, nil
}

// readPredictions reads input_example_predictions.json.
func readPredictions(pkg *model.Package) ([]float64, error) {
	b, err := readPackageFile(pkg, PredictionsFile)
	if err != nil {
		return nil, err
	}
	var v struct {
		Predictions []float64 `json:"predictions"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Predictions == nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%s does not hold {\"predictions\": [numbers]}", PredictionsFile)
	}
	return v.Predictions, nil
}

// readInputExample reads the package's input example into a frame, typed
// by the signature where it names the column. It reads MLflow's dataframe
// examples: pandas "split" ({"columns", "data"}, optionally inside
// "dataframe_split") and "records" ([{column: value}]). errNoExample when
// the package has none; EINVALID for an example it cannot read.
func readInputExample(pkg *model.Package) (*dataset.Frame, error) {
	info := pkg.Manifest.SavedInputExample
	if info == nil || info.ArtifactPath == "" {
		return nil, errNoExample
	}
	b, err := readPackageFile(pkg, info.ArtifactPath)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%s is not JSON", info.ArtifactPath)
	}
	var names []string
	var rows [][]any
	switch d := doc.(type) {
	case map[string]any:
		if inner, ok := d["dataframe_split"].(map[string]any); ok {
			d = inner
		}
		cols, ok1 := d["columns"].([]any)
		data, ok2 := d["data"].([]any)
		if !ok1 || !ok2 {
			return nil, ferry.Errorf(ferry.EINVALID, "%s is not a split-oriented dataframe ({\"columns\": [...], \"data\": [[...]]})", info.ArtifactPath)
		}
		for _, c := range cols {
			s, ok := c.(string)
			if !ok {
				return nil, ferry.Errorf(ferry.EINVALID, "%s: column names must be strings", info.ArtifactPath)
			}
			names = append(names, s)
		}
		for _, r := range data {
			row, ok := r.([]any)
			if !ok || len(row) != len(names) {
				return nil, ferry.Errorf(ferry.EINVALID, "%s: every row must hold %d values", info.ArtifactPath, len(names))
			}
			rows = append(rows, row)
		}
	case []any:
		index := map[string]int{}
		for _, r := range d {
			rec, ok := r.(map[string]any)
			if !ok {
				return nil, ferry.Errorf(ferry.EINVALID, "%s: records must be objects", info.ArtifactPath)
			}
			for k := range rec {
				if _, ok := index[k]; !ok {
					index[k] = len(names)
					names = append(names, k)
				}
			}
		}
		slices.Sort(names)
		for i, n := range names {
			index[n] = i
		}
		for _, r := range d {
			row := make([]any, len(names))
			for k, v := range r.(map[string]any) {
				row[index[k]] = v
			}
			rows = append(rows, row)
		}
	default:
		return nil, ferry.Errorf(ferry.EINVALID, "%s is not a dataframe example", info.ArtifactPath)
	}
	if len(rows) == 0 {
		return nil, ferry.Errorf(ferry.EINVALID, "%s has no rows", info.ArtifactPath)
	}
	types := map[string]string{}
	if sig := pkg.Manifest.Signature; sig != nil {
		for _, in := range sig.Inputs {
			types[in.Name] = in.Type
		}
	}
	cols := make([]*dataset.Column, len(names))
	for j, name := range names {
		values := make([]any, len(rows))
		for i := range rows {
			values[i] = rows[i][j]
		}
		c, err := exampleColumn(name, kindOfType(types[name]), values)
		if err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "%s: %s", info.ArtifactPath, err)
		}
		cols[j] = c
	}
	f, err := dataset.NewFrame(cols...)
	if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%s: %s", info.ArtifactPath, ferry.ErrorMessage(err))
	}
	return f, nil
}

// exampleColumn builds a column of kind (inferred when "") from JSON values.
func exampleColumn(name string, kind dataset.Kind, values []any) (*dataset.Column, error) {
	if kind == "" {
		kind = dataset.KindNumeric
		for _, v := range values {
			if _, ok := v.(string); ok {
				kind = dataset.KindCategorical
				break
			}
		}
	}
	switch kind {
	case dataset.KindNumeric:
		nums := make([]float64, len(values))
		for i, v := range values {
			switch x := v.(type) {
			case nil:
				nums[i] = math.NaN()
			case json.Number:
				f, err := strconv.ParseFloat(string(x), 64)
				if err != nil {
					return nil, fmt.Errorf("column %q row %d: %s is not a number", name, i+1, x)
				}
				nums[i] = f
			case bool:
				if x {
					nums[i] = 1
				}
			case string:
				f, err := strconv.ParseFloat(x, 64)
				if err != nil {
					return nil, fmt.Errorf("column %q row %d: %q is not a number", name, i+1, x)
				}
				nums[i] = f
			default:
				return nil, fmt.Errorf("column %q row %d: want a number", name, i+1)
			}
		}
		return dataset.NewNumeric(name, nums), nil
	case dataset.KindTimestamp:
		ts := make([]time.Time, len(values))
		for i, v := range values {
			switch x := v.(type) {
			case nil:
			case json.Number: // pandas' default date unit: milliseconds
				ms, err := x.Int64()
				if err != nil {
					return nil, fmt.Errorf("column %q row %d: %s is not a time", name, i+1, x)
				}
				ts[i] = time.UnixMilli(ms).UTC()
			case string:
				t, err := parseExampleTime(x)
				if err != nil {
					return nil, fmt.Errorf("column %q row %d: %q is not a time", name, i+1, x)
				}
				ts[i] = t
			default:
				return nil, fmt.Errorf("column %q row %d: want a time", name, i+1)
			}
		}
		return dataset.NewTimestamp(name, ts), nil
	}
	strs := make([]string, len(values))
	for i, v := range values {
		switch x := v.(type) {
		case nil:
		case string:
			strs[i] = x
		case json.Number:
			strs[i] = x.String()
		case bool:
			strs[i] = strconv.FormatBool(x)
		default:
			return nil, fmt.Errorf("column %q row %d: want a string", name, i+1)
		}
	}
	return dataset.NewCategorical(name, strs), nil
}

// parseExampleTime reads the time formats of input examples: RFC 3339 (as
// Ferry writes) and pandas' ISO forms without a zone (UTC).
func parseExampleTime(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", time.DateOnly} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// packageSize sums the sizes of the regular files under dir.
func packageSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("validation: size of package: %w", err)
	}
	return total, nil
}

// MeasureLatency predicts single rows of f, one call each, over up to rows
// rows spread evenly over f (after three warm-up calls), and returns the 99th
// percentile of the call durations (nearest rank). The frames are built
// before the clock starts. An error of predict or ctx stops the measurement
// and is returned.
func MeasureLatency(ctx context.Context, predict Predictor, f *dataset.Frame, rows int) (time.Duration, error) {
	n := f.Len()
	if n == 0 || rows <= 0 {
		return 0, ferry.Errorf(ferry.EINVALID, "no rows to measure latency on")
	}
	rows = min(rows, n)
	frames := make([]*dataset.Frame, rows)
	for i := range frames {
		frames[i] = f.Take([]int{i * n / rows})
	}
	for i := range min(3, rows) {
		if _, err := predict(ctx, frames[i]); err != nil {
			return 0, err
		}
	}
	d := make([]time.Duration, rows)
	for i, fr := range frames {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		if _, err := predict(ctx, fr); err != nil {
			return 0, err
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d[int(math.Ceil(0.99*float64(rows)))-1], nil
}
