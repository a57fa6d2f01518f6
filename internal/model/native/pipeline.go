package native

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
)

// PipelineFormatVersion is the version of the native model file.
const PipelineFormatVersion = 1

// Pipeline is a native Ferry model: the feature derivation from raw columns,
// the trained model, and how to read its outputs. It is what the `ferry`
// flavor's model.json holds.
type Pipeline struct {
	FormatVersion int           `json:"format_version"`
	Task          string        `json:"task"`
	Target        string        `json:"target"`
	ClassLabels   []string      `json:"class_labels,omitempty"`
	Features      []FeatureSpec `json:"features"`
	Trainer       string        `json:"trainer"` // gbdt, logistic or linear
	GBDT          *GBDT         `json:"-"`
	Linear        *Linear       `json:"linear,omitempty"`
	Encoder       *Encoder      `json:"encoder,omitempty"`

	// levels caches the category maps of Features for Predict; built once by
	// LoadPipeline (nil: built per call).
	levels levelIndexes
}

// Names of a native model's outputs, as runtime/native serves them and the
// signature (Pipeline.Signature) declares them.
const (
	OutputProbability   = "probability"   // binary: P(second class), double per row
	OutputProbabilities = "probabilities" // multiclass: K doubles per row, in class-label order
	OutputLabel         = "label"         // classification: the predicted class label, string
	OutputPrediction    = "prediction"    // regression: the predicted value, double
)

// Signature is the model's MLflow signature: the raw input columns it reads
// (numeric columns double, categorical string, timestamps datetime), and the
// outputs it gives per row — for binary models probability (double) and
// label (string), for multiclass models probabilities (an array of K
// doubles, in the order of ClassLabels) and label (string), for regression
// models prediction (double).
func (p *Pipeline) Signature() *model.Signature {
	sig := &model.Signature{}
	for _, c := range Inputs(p.Features) {
		t := model.TypeDouble
		switch c.Kind {
		case dataset.KindCategorical:
			t = model.TypeString
		case dataset.KindTimestamp:
			t = model.TypeDatetime
		}
		sig.Inputs = append(sig.Inputs, model.Spec{Name: c.Name, Type: t, Required: true})
	}
	label := model.Spec{Name: OutputLabel, Type: model.TypeString, Required: true}
	switch p.Task {
	case model.TaskBinary:
		sig.Outputs = []model.Spec{{Name: OutputProbability, Type: model.TypeDouble, Required: true}, label}
	case model.TaskMulticlass:
		sig.Outputs = []model.Spec{{Name: OutputProbabilities, Type: model.TypeArray, Required: true,
			Composite: json.RawMessage(`{"type": "array", "items": {"type": "double"}}`)}, label}
	default:
		sig.Outputs = []model.Spec{{Name: OutputPrediction, Type: model.TypeDouble, Required: true}}
	}
	return sig
}

// CheckXGBoostInputs reports whether XGBoost, given the raw input columns,
// predicts what p predicts: p is a GBDT (its trees export with
// GBDT.WriteXGBoostJSON) whose every feature is a numeric input column
// used as it is, so the export's features are the input columns, by name and
// in signature order. Otherwise it returns an error saying why not — a
// logistic or linear model, a categorical feature (Ferry codes its levels)
// or a part of a timestamp (Ferry derives it) — which names the feature.
func (p *Pipeline) CheckXGBoostInputs() error {
	if p.GBDT == nil {
		return fmt.Errorf("the %s trainer's models have no XGBoost form", p.Trainer)
	}
	for _, f := range p.Features {
		switch {
		case f.Part != "":
			return fmt.Errorf("feature %q is the %s of timestamp column %q, which Ferry derives", f.Name, f.Part, f.Column)
		case f.Kind != string(dataset.KindNumeric):
			return fmt.Errorf("feature %q is categorical, and Ferry codes its levels", f.Name)
		case f.Name != f.Column:
			return fmt.Errorf("feature %q reads column %q", f.Name, f.Column)
		}
	}
	return nil
}

// Outputs is the number of values Predict gives per row.
func (p *Pipeline) Outputs() int {
	if p.Task == model.TaskMulticlass {
		return len(p.ClassLabels)
	}
	return 1
}

// Predict scores every row of f: P(y=1) for binary, class probabilities
// (row-major, Outputs() per row) for multiclass, values for regression. f needs
// the raw input columns the features read.
func (p *Pipeline) Predict(ctx context.Context, f *dataset.Frame) ([]float64, error) {
	idx := p.levels
	if idx == nil {
		idx = indexLevels(p.Features)
	}
	feats, err := buildFeatures(f, p.Features, idx)
	if err != nil {
		return nil, err
	}
	return p.PredictFeatures(ctx, feats)
}

// PredictFeatures is Predict on features already derived (BuildFeatures):
// the trainer scores its validation rows with it.
func (p *Pipeline) PredictFeatures(ctx context.Context, feats []Feature) ([]float64, error) {
	switch {
	case p.GBDT != nil:
		return p.GBDT.PredictBatch(ctx, feats)
	case p.Linear != nil && p.Encoder != nil:
		rows := p.Encoder.Encode(feats)
		out := make([]float64, 0, len(rows)*p.Outputs())
		for _, r := range rows {
			out = append(out, p.Linear.Predict(r)...)
		}
		return out, nil
	}
	return nil, ferry.Errorf(ferry.EINVALID, "model has no trained %s model", p.Trainer)
}

// pipelineFields has Pipeline's fields without its methods, so that encoding
// it does not recurse into MarshalJSON.
type pipelineFields Pipeline

type pipelineJSON struct {
	pipelineFields
	GBDT json.RawMessage `json:"gbdt,omitempty"`
}

// MarshalJSON encodes the pipeline deterministically: the same model gives
// the same bytes.
func (p *Pipeline) MarshalJSON() ([]byte, error) {
	w := pipelineJSON{pipelineFields: pipelineFields(*p)}
	if p.GBDT != nil {
		b, err := p.GBDT.MarshalJSON()
		if err != nil {
			return nil, err
		}
		w.GBDT = b
	}
	return json.Marshal(w)
}

// LoadPipeline reads a model.json written by MarshalJSON. A malformed file
// is EINVALID.
func LoadPipeline(r io.Reader) (*Pipeline, error) {
	var w pipelineJSON
	dec := json.NewDecoder(io.LimitReader(r, 1<<30))
	if err := dec.Decode(&w); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "model file is not a Ferry model: %v", err)
	}
	p := Pipeline(w.pipelineFields)
	if p.FormatVersion != PipelineFormatVersion {
		return nil, ferry.Errorf(ferry.EINVALID, "model file has format version %d; this Ferry reads version %d", p.FormatVersion, PipelineFormatVersion)
	}
	if len(w.GBDT) > 0 {
		g, err := LoadGBDT(bytes.NewReader(w.GBDT))
		if err != nil {
			return nil, err
		}
		p.GBDT = g
	}
	if p.GBDT == nil && (p.Linear == nil || p.Encoder == nil) {
		return nil, ferry.Errorf(ferry.EINVALID, "model file has no trained model")
	}
	p.levels = indexLevels(p.Features)
	return &p, nil
}

// Labels turns the target column into labels for task: class indexes for
// classification (with the class names), values for regression. positive,
// when set for a binary task on a numeric column, is a threshold comparison
// such as "> 15". Rows with a missing target are an error naming the first.
func Labels(col *dataset.Column, task, positive string) (y []float64, classes []string, err error) {
	n := col.Len()
	y = make([]float64, n)
	switch {
	case positive != "":
		if task != model.TaskBinary || col.Kind != dataset.KindNumeric {
			return nil, nil, ferry.Errorf(ferry.EINVALID, "positive_when applies to a binary task on a numeric target; %q is %s", col.Name, col.Kind)
		}
		cmp, err := ParseComparison(positive)
		if err != nil {
			return nil, nil, err
		}
		for i, v := range col.Num {
			if v != v {
				return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q is missing in row %d", col.Name, i+1)
			}
			if cmp(v) {
				y[i] = 1
			}
		}
		classes = []string{"false", "true"}
	case task == model.TaskRegression:
		if col.Kind != dataset.KindNumeric {
			return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q is %s, but regression needs a numeric target", col.Name, col.Kind)
		}
		for i, v := range col.Num {
			if v != v {
				return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q is missing in row %d", col.Name, i+1)
			}
			y[i] = v
		}
		return y, nil, nil
	case col.Kind == dataset.KindCategorical:
		used := make([]bool, len(col.Levels))
		for i, c := range col.Codes {
			if c < 0 {
				return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q is missing in row %d", col.Name, i+1)
			}
			used[c] = true
		}
		// Classes in sorted order of their names, for stable class indexes.
		order := sortedLevels(col.Levels, used)
		index := levelIndex(order)
		for i, c := range col.Codes {
			y[i] = float64(index[col.Levels[c]])
		}
		classes = order
	case col.Kind == dataset.KindNumeric:
		distinct := map[float64]bool{}
		for i, v := range col.Num {
			if v != v {
				return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q is missing in row %d", col.Name, i+1)
			}
			if v != float64(int64(v)) || v < 0 {
				return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q has value %v in row %d; classification needs class numbers 0, 1, … (or use task: regression, or positive_when)", col.Name, v, i+1)
			}
			distinct[v] = true
			y[i] = v
		}
		k := 0
		for v := range distinct {
			k = max(k, int(v)+1)
		}
		for c := range k {
			classes = append(classes, fmt.Sprint(c))
		}
	default:
		return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q is %s; it must be numeric or categorical", col.Name, col.Kind)
	}
	present := map[float64]bool{}
	for _, v := range y {
		present[v] = true
	}
	if len(present) < 2 {
		return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q has a single class; classification needs at least two", col.Name)
	}
	if task == model.TaskBinary && len(classes) != 2 {
		return nil, nil, ferry.Errorf(ferry.EINVALID, "target %q has %d classes; use task: multiclass, or positive_when for a threshold", col.Name, len(classes))
	}
	return y, classes, nil
}

func sortedLevels(levels []string, used []bool) []string {
	var out []string
	for j, l := range levels {
		if used[j] {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// ParseComparison parses a positive_when rule — "> 15", ">= 0.5", "== 1",
// "!= 0", "< 3", "<= 2" — into its test. Anything else is EINVALID.
func ParseComparison(s string) (func(float64) bool, error) {
	t := strings.TrimSpace(s)
	for _, op := range []string{">=", "<=", "==", "!=", ">", "<"} {
		rest, ok := strings.CutPrefix(t, op)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "positive_when %q: %q is not a number", s, strings.TrimSpace(rest))
		}
		switch op {
		case ">=":
			return func(x float64) bool { return x >= v }, nil
		case "<=":
			return func(x float64) bool { return x <= v }, nil
		case "==":
			return func(x float64) bool { return x == v }, nil
		case "!=":
			return func(x float64) bool { return x != v }, nil
		case ">":
			return func(x float64) bool { return x > v }, nil
		default:
			return func(x float64) bool { return x < v }, nil
		}
	}
	return nil, ferry.Errorf(ferry.EINVALID, "positive_when %q: want a comparison such as \"> 15\"", s)
}
