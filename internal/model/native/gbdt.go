package native

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/ferry-ml/ferry/internal/parallel"
)

// GBDT objectives, the values of GBDTParams.Objective and GBDT.Objective.
const (
	ObjectiveBinary     = "binary"     // logistic loss, labels 0 or 1, predicts P(y=1)
	ObjectiveMulticlass = "multiclass" // softmax, labels 0..K-1, K trees per round, predicts K probabilities
	ObjectiveRegression = "regression" // squared error, predicts the value
)

// ErrInvalidGBDT reports input data, parameters or a serialized model that
// a GBDT cannot use. Errors of the GBDT trainer, LoadGBDT and the prediction
// methods wrap it for those cases, so callers can test with errors.Is and
// map it to ferry.EINVALID.
var ErrInvalidGBDT = errors.New("invalid gbdt input")

// Feature is one model input column, after derivation from the raw columns
// (see BuildFeatures). Exactly one of Num and Codes is set: Num makes the
// feature numeric (NaN marks a missing value), Codes makes it categorical
// (codes index Levels; -1 marks a missing value). Levels names the
// categories; when it is nil the feature has max(code)+1 categories named by
// their codes.
type Feature struct {
	Name   string
	Num    []float64
	Codes  []int32
	Levels []string
}

// Categorical reports whether f is a categorical feature.
func (f *Feature) Categorical() bool { return f.Codes != nil }

// Len is the number of rows of f.
func (f *Feature) Len() int {
	if f.Codes != nil {
		return len(f.Codes)
	}
	return len(f.Num)
}

// GBDTParams are the hyperparameters a GBDT was trained with, as the model
// file records them; the trainer (internal/train/gbdt) documents their
// meaning and defaults.
type GBDTParams struct {
	Objective       string  `json:"objective"`
	NumClass        int     `json:"num_class"` // multiclass only; 0 = max label + 1
	NumRounds       int     `json:"num_rounds"`
	LearningRate    float64 `json:"learning_rate"`
	MaxDepth        int     `json:"max_depth"`
	MaxLeaves       int     `json:"max_leaves"`
	MinChildWeight  float64 `json:"min_child_weight"`
	Lambda          float64 `json:"lambda"`
	Gamma           float64 `json:"gamma"`
	Subsample       float64 `json:"subsample"`         // row fraction per round, (0, 1]
	ColSampleByTree float64 `json:"colsample_bytree"`  // feature fraction per tree, (0, 1]
	MaxBins         int     `json:"max_bins"`          // value bins per numeric feature, 2..256
	MaxCatThreshold int     `json:"max_cat_threshold"` // categories on one side of a categorical split stay fewer than this, as in XGBoost
	// EarlyStoppingRounds stops training when the validation metric has not
	// improved for that many rounds and keeps the trees up to the best round.
	// It needs a validation set; 0 disables it.
	EarlyStoppingRounds int    `json:"early_stopping_rounds"`
	Seed                uint64 `json:"seed"`
	// NumThreads bounds the goroutines working at once; 0 means GOMAXPROCS.
	// The model does not depend on it.
	NumThreads int `json:"-"`
}

// GBDT is a trained gradient-boosted tree ensemble. It predicts from raw
// feature values: numeric splits compare float32(x) < threshold (thresholds
// are float32 values), categorical splits test the category code against a
// set. Margins are summed in float32 in tree order, starting from the base
// margin, exactly as XGBoost's predictor does, so the XGBoost export
// (WriteXGBoostJSON) predicts the same numbers.
//
// A GBDT is immutable after NewGBDT or LoadGBDT returns it and safe for
// concurrent use.
type GBDT struct {
	Objective string // ObjectiveBinary, ObjectiveMulticlass or ObjectiveRegression
	NumClass  int    // K for multiclass, 1 otherwise
	// BaseScore is the initial prediction in XGBoost's convention: a
	// probability for binary (the margin is its log-odds), the value for
	// regression, the margin of every class for multiclass.
	BaseScore float64
	// BestIteration is the last round kept (rounds count from 0); with early
	// stopping the trees after the best validation round are dropped.
	BestIteration int
	Features      []FeatureInfo
	Params        GBDTParams // as trained, defaults filled in

	trees []Tree
	isCat []bool
	base  float32
}

// NewGBDT returns the ensemble of trees described by h's exported fields
// (Objective, NumClass, BaseScore, BestIteration, Features, Params), ready to
// predict. It keeps trees, which the caller must not modify afterwards; the
// trainer and LoadGBDT have checked them.
func NewGBDT(h GBDT, trees []Tree) *GBDT {
	m := &GBDT{Objective: h.Objective, NumClass: h.NumClass, BaseScore: h.BaseScore, BestIteration: h.BestIteration,
		Features: h.Features, Params: h.Params, trees: trees}
	m.prepare()
	return m
}

// Trees returns the model's trees in order (round by round, class by class
// within a round). The caller must not modify them.
func (m *GBDT) Trees() []Tree { return m.trees }

// FeatureInfo describes an input feature of a model.
type FeatureInfo struct {
	Name        string
	Categorical bool
	Levels      []string // category names, when the training data had them
	NumLevels   int      // number of categories (codes 0..NumLevels-1)
}

// NumTrees is the number of trees (rounds × NumClass).
func (m *GBDT) NumTrees() int { return len(m.trees) }

// NumOutputs is the length of one row's prediction: NumClass for
// multiclass, 1 otherwise.
func (m *GBDT) NumOutputs() int { return m.NumClass }

// prepare derives the unexported fields from the exported ones.
func (m *GBDT) prepare() {
	m.isCat = make([]bool, len(m.Features))
	for j, f := range m.Features {
		m.isCat[j] = f.Categorical
	}
	m.base = m.BaseMargin()
	for i := range m.trees {
		m.trees[i].finish(m.isCat)
	}
}

// BaseMargin is the margin every row starts from, computed in float32 the
// way XGBoost 1.7 turns base_score into a margin (-logf(1/p - 1) for binary).
func (m *GBDT) BaseMargin() float32 {
	p := float32(m.BaseScore)
	if m.Objective == ObjectiveBinary {
		t := float32(1)/p - float32(1)
		return float32(-math.Log(float64(t)))
	}
	return p
}

// Predict returns the prediction for one row of raw feature values in
// training order: P(y=1) for binary, NumClass probabilities for multiclass,
// the value for regression. Numeric features are given as is (NaN =
// missing); categorical ones by their code as a float64 (NaN or a negative
// code = missing; a code never seen in training takes the missing-value
// branch). It returns an error wrapping ErrInvalidGBDT when row has the
// wrong length.
func (m *GBDT) Predict(row []float64) ([]float64, error) {
	out, err := m.PredictMargin(row)
	if err != nil {
		return nil, err
	}
	m.transform(out)
	return out, nil
}

// PredictMargin is Predict before the link function: log-odds for binary,
// per-class scores for multiclass.
func (m *GBDT) PredictMargin(row []float64) ([]float64, error) {
	if len(row) != len(m.Features) {
		return nil, fmt.Errorf("native: gbdt predict: %w: row has %d values, model has %d features", ErrInvalidGBDT, len(row), len(m.Features))
	}
	acc := make([]float32, m.NumClass)
	for c := range acc {
		acc[c] = m.base
	}
	for i := range m.trees {
		t := &m.trees[i]
		acc[t.Class] += t.Value[t.leafRow(row, m.isCat)]
	}
	out := make([]float64, m.NumClass)
	for c, v := range acc {
		out[c] = float64(v)
	}
	return out, nil
}

func (m *GBDT) transform(out []float64) {
	switch m.Objective {
	case ObjectiveBinary:
		out[0] = Sigmoid(out[0])
	case ObjectiveMulticlass:
		Softmax(out, out)
	}
}

// Sigmoid is the logistic function, the link of binary models.
func Sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// Softmax writes the softmax of margin to out (which may be margin), the
// link of multiclass models.
func Softmax(margin, out []float64) {
	mx := margin[0]
	for _, v := range margin[1:] {
		mx = max(mx, v)
	}
	var s float64
	for c, v := range margin {
		out[c] = math.Exp(v - mx)
		s += out[c]
	}
	for c := range out {
		out[c] /= s
	}
}

// predictBlock is the row block of PredictBatch's parallel loop.
const predictBlock = 1 << 14

// PredictBatch predicts every row of feats (which must match the model's
// features in number, order and kind) and returns NumOutputs values per row,
// row after row. Rows are spread over GOMAXPROCS goroutines; ctx is checked
// between blocks of rows. Errors wrap ErrInvalidGBDT for mismatched data, or
// are ctx.Err().
func (m *GBDT) PredictBatch(ctx context.Context, feats []Feature) ([]float64, error) {
	if len(feats) != len(m.Features) {
		return nil, fmt.Errorf("native: gbdt predict: %w: %d features, model has %d", ErrInvalidGBDT, len(feats), len(m.Features))
	}
	n := -1
	for j := range feats {
		f := &feats[j]
		if (f.Num == nil) == (f.Codes == nil) || f.Categorical() != m.isCat[j] {
			return nil, fmt.Errorf("native: gbdt predict: %w: feature %d (%q) does not match the model's kind", ErrInvalidGBDT, j, f.Name)
		}
		if n >= 0 && f.Len() != n {
			return nil, fmt.Errorf("native: gbdt predict: %w: features have %d and %d rows", ErrInvalidGBDT, n, f.Len())
		}
		n = f.Len()
	}
	n = max(n, 0)
	k := m.NumClass
	out := make([]float64, n*k)
	blocks := (n + predictBlock - 1) / predictBlock
	errs := make([]error, blocks)
	parallel.For(runtime.GOMAXPROCS(0), blocks, func(b int) {
		if err := ctx.Err(); err != nil {
			errs[b] = err
			return
		}
		lo, hi := b*predictBlock, min((b+1)*predictBlock, n)
		acc := make([]float32, (hi-lo)*k)
		for i := range acc {
			acc[i] = m.base
		}
		for ti := range m.trees {
			t := &m.trees[ti]
			for i := lo; i < hi; i++ {
				acc[(i-lo)*k+t.Class] += t.Value[t.leafColumns(feats, i)]
			}
		}
		for i := lo; i < hi; i++ {
			row := out[i*k : (i+1)*k]
			for c := range row {
				row[c] = float64(acc[(i-lo)*k+c])
			}
			m.transform(row)
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Tree is one regression tree in struct-of-arrays form; node 0 is the root
// and children always have larger indexes than their parent.
type Tree struct {
	Class       int       // output (class) the tree adds to
	Feature     []int32   // split feature, -1 for leaves
	Threshold   []float32 // numeric splits: float32(x) < Threshold goes left
	DefaultLeft []bool    // missing (and, for categorical splits, unlisted) values go left
	Left, Right []int32
	// Value is the leaf output with the learning rate applied; for inner
	// nodes it is the output the node would have had as a leaf.
	Value []float32
	Gain  []float32 // split gain, 0 for leaves
	Hess  []float64 // hessian sum of the training rows in the node
	// Cats lists, for a categorical split, the category codes sent away
	// from the default side (ascending); every other code, a missing value
	// and a code never seen in training go to the default side.
	Cats [][]int32

	catBits [][]uint64 // Cats as bitsets, built by finish
}

// finish builds the category bitsets.
func (t *Tree) finish(isCat []bool) {
	t.catBits = make([][]uint64, len(t.Feature))
	for i, f := range t.Feature {
		if f < 0 || !isCat[f] {
			continue
		}
		maxc := int32(0)
		for _, c := range t.Cats[i] {
			maxc = max(maxc, c)
		}
		bits := make([]uint64, maxc/64+1)
		for _, c := range t.Cats[i] {
			bits[c>>6] |= 1 << (c & 63)
		}
		t.catBits[i] = bits
	}
}

func (t *Tree) inCats(node int32, c int64) bool {
	bits := t.catBits[node]
	return c >= 0 && c>>6 < int64(len(bits)) && bits[c>>6]&(1<<(c&63)) != 0
}

// defaultChild is where missing values go; otherChild the other side.
func (t *Tree) defaultChild(node int32) int32 {
	if t.DefaultLeft[node] {
		return t.Left[node]
	}
	return t.Right[node]
}

func (t *Tree) otherChild(node int32) int32 {
	if t.DefaultLeft[node] {
		return t.Right[node]
	}
	return t.Left[node]
}

// leafRow is the leaf reached by a row of raw values.
func (t *Tree) leafRow(row []float64, isCat []bool) int32 {
	node := int32(0)
	for t.Feature[node] >= 0 {
		j := t.Feature[node]
		v := row[j]
		switch {
		case math.IsNaN(v):
			node = t.defaultChild(node)
		case isCat[j]:
			if v >= 0 && v < math.MaxInt32 && t.inCats(node, int64(v)) {
				node = t.otherChild(node)
			} else {
				node = t.defaultChild(node)
			}
		case float32(v) < t.Threshold[node]:
			node = t.Left[node]
		default:
			node = t.Right[node]
		}
	}
	return node
}

// leafColumns is the leaf reached by row i of column data.
func (t *Tree) leafColumns(features []Feature, i int) int32 {
	node := int32(0)
	for t.Feature[node] >= 0 {
		f := &features[t.Feature[node]]
		if f.Codes != nil {
			if t.inCats(node, int64(f.Codes[i])) {
				node = t.otherChild(node)
			} else {
				node = t.defaultChild(node)
			}
			continue
		}
		v := f.Num[i]
		switch {
		case math.IsNaN(v):
			node = t.defaultChild(node)
		case float32(v) < t.Threshold[node]:
			node = t.Left[node]
		default:
			node = t.Right[node]
		}
	}
	return node
}
