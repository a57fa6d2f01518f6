package lightgbm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// zeroThreshold is LightGBM's kZeroThreshold (1e-35f): values within it of
// zero are zero for splits whose missing type is Zero.
var zeroThreshold = float64(float32(1e-35))

// Output kinds, which name the model's outputs.
const (
	kindValue       = iota // regression, ranking, raw scores: "prediction"
	kindProbability        // binary, cross-entropy: "probability"
	kindClasses            // multiclass: "probabilities"
)

// objective is what the model's objective line says about its outputs.
type objective struct {
	name    string
	kind    int
	classes int  // multiclass objectives: num_class; 0 for others
	single  bool // the objective has one output per row
	convert func(out []float64)
}

// parseObjective reads an objective line as LightGBM's ObjectiveFunction
// ToString writes it: a name, then key:value parameters and flags.
func parseObjective(line string) (objective, error) {
	words := strings.Fields(line)
	if len(words) == 0 {
		return objective{kind: kindValue, convert: identity}, nil
	}
	o := objective{name: words[0], kind: kindValue, single: true, convert: identity}
	params := map[string]string{}
	flags := map[string]bool{}
	for _, w := range words[1:] {
		if k, v, ok := strings.Cut(w, ":"); ok {
			params[k] = v
		} else {
			flags[w] = true
		}
	}
	positive := func(key string) (float64, error) {
		v, ok := params[key]
		if !ok {
			return 0, fmt.Errorf("no %s parameter", key)
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !(x > 0) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("%s:%s must be a positive number", key, clip(v))
		}
		return x, nil
	}
	classes := func() (int, error) {
		v, ok := params["num_class"]
		if !ok {
			return 0, fmt.Errorf("no num_class parameter")
		}
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			return 0, fmt.Errorf("num_class:%s must be a positive integer", clip(v))
		}
		return k, nil
	}
	switch o.name {
	case "regression", "regression_l1", "huber", "fair", "quantile", "mape", "mean_absolute_percentage_error":
		if flags["sqrt"] { // trained on sign(y)·sqrt(|y|)
			o.convert = func(out []float64) {
				for i, x := range out {
					out[i] = math.Copysign(x*x, x)
				}
			}
		}
	case "poisson", "gamma", "tweedie":
		o.convert = func(out []float64) {
			for i, x := range out {
				out[i] = math.Exp(x)
			}
		}
	case "binary":
		s, err := positive("sigmoid")
		if err != nil {
			return o, err
		}
		o.kind, o.convert = kindProbability, sigmoid(s)
	case "cross_entropy", "xentropy":
		o.kind, o.convert = kindProbability, sigmoid(1)
	case "cross_entropy_lambda", "xentlambda":
		o.convert = func(out []float64) {
			for i, x := range out {
				out[i] = math.Log(1 + math.Exp(x))
			}
		}
	case "multiclass", "softmax":
		k, err := classes()
		if err != nil {
			return o, err
		}
		o.kind, o.classes, o.single, o.convert = kindClasses, k, false, softmax
	case "multiclassova", "multiclass_ova", "ova", "ovr":
		k, err := classes()
		if err != nil {
			return o, err
		}
		s, err := positive("sigmoid")
		if err != nil {
			return o, err
		}
		o.kind, o.classes, o.single, o.convert = kindClasses, k, false, sigmoid(s)
	case "lambdarank", "rank_xendcg":
	case "none", "null", "custom", "na":
		o.single = false
	default:
		return o, fmt.Errorf("unknown objective %q", clip(o.name))
	}
	return o, nil
}

func identity([]float64) {}

// sigmoid returns the transform 1/(1+exp(-s·x)) of every output.
func sigmoid(s float64) func([]float64) {
	return func(out []float64) {
		for i, x := range out {
			out[i] = 1 / (1 + math.Exp(-s*x))
		}
	}
}

// softmax turns scores into probabilities as LightGBM's Common::Softmax does.
func softmax(out []float64) {
	hi := math.Inf(-1)
	for _, x := range out {
		hi = max(hi, x)
	}
	sum := 0.0
	for i, x := range out {
		out[i] = math.Exp(x - hi)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
}

// PredictRaw writes the raw scores of row — the sum of every tree for each
// output — to out, as LightGBM's predict does with raw_score (for a random
// forest too: LightGBM averages its trees only in Predict). row holds
// NumFeatures values (NaN for a missing one) and out NumOutputs; it panics,
// like a slice index, if either is shorter.
func (b *Booster) PredictRaw(row, out []float64) {
	k := b.NumTreePerIteration
	out = out[:k]
	_ = row[b.MaxFeatureIdx]
	clear(out)
	for i := range b.trees {
		out[i%k] += b.trees[i].predict(row)
	}
}

// Predict writes the predictions of row to out, as LightGBM's predict does
// without raw_score: the raw scores, divided by the number of iterations for
// a random forest (average_output), transformed by the objective (sigmoid
// for binary, softmax for multiclass, exp for poisson, gamma and tweedie, and
// so on). Lengths are as for PredictRaw.
func (b *Booster) Predict(row, out []float64) {
	b.PredictRaw(row, out)
	k := b.NumTreePerIteration
	if b.AverageOutput {
		iterations := float64(len(b.trees) / k)
		for c := range out[:k] {
			out[c] /= iterations
		}
	}
	b.obj.convert(out[:k])
}

// predict returns the value of the leaf row reaches: for a linear tree, as
// LightGBM's Tree::Predict, the leaf's constant plus its linear model of
// row, or its leaf_value when one of the model's features is NaN.
func (t *tree) predict(row []float64) float64 {
	l := t.leaf(row)
	if t.leafConst == nil {
		return t.leafValue[l]
	}
	v := t.leafConst[l]
	for i := t.linearStart[l]; i < t.linearStart[l+1]; i++ {
		x := row[t.leafFeatures[i]]
		if math.IsNaN(x) {
			return t.leafValue[l]
		}
		v += t.leafCoeff[i] * x
	}
	return v
}

// leaf returns the index of the leaf row reaches.
func (t *tree) leaf(row []float64) int32 {
	if len(t.left) == 0 {
		return 0
	}
	node := int32(0)
	for node >= 0 {
		x := row[t.splitFeature[node]]
		d := t.decision[node]
		var left bool
		if d&categoricalMask != 0 {
			left = t.categoricalLeft(x, node)
		} else {
			left = numericalLeft(x, d, t.threshold[node])
		}
		if left {
			node = t.left[node]
		} else {
			node = t.right[node]
		}
	}
	return ^node
}

// numericalLeft is LightGBM's NumericalDecision: NaN counts as 0 unless the
// missing type is NaN; a missing value (0 for Zero, NaN for NaN) goes to the
// default side; any other value goes left when it is <= threshold.
func numericalLeft(x float64, d uint8, threshold float64) bool {
	missing := (d >> 2) & 3
	if math.IsNaN(x) && missing != missingNaN {
		x = 0
	}
	if (missing == missingZero && x >= -zeroThreshold && x <= zeroThreshold) || (missing == missingNaN && math.IsNaN(x)) {
		return d&defaultLeftMask != 0
	}
	return x <= threshold
}

// categoricalLeft is LightGBM's CategoricalDecision: the category is the
// value truncated to an integer; it goes left when it is in the node's
// bitset. Negative values, NaN and values beyond int32 go right (LightGBM's
// static_cast<int> of NaN gives INT_MIN on the platforms it ships for).
func (t *tree) categoricalLeft(x float64, node int32) bool {
	if !(x > -1 && x < 1<<31) {
		return false
	}
	c := uint32(int32(x))
	i := int(t.threshold[node])
	words := t.catThreshold[t.catBoundaries[i]:t.catBoundaries[i+1]]
	w := int(c / 32)
	if w >= len(words) {
		return false
	}
	return words[w]>>(c%32)&1 != 0
}

// numberText is the category a number stands for: its text as fmt's %v
// formats it (3 → "3", 2.5 → "2.5"), "" (missing) for NaN.
func numberText(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return fmt.Sprint(x)
}
