package train

import (
	"context"
	"fmt"
	"math"
	"runtime"
)

// GBDT is a trained gradient-boosted tree ensemble. It predicts from raw
// feature values: numeric splits compare float32(x) < threshold (thresholds
// are float32 values), categorical splits test the category code against a
// set. Margins are summed in float32 in tree order, starting from the base
// margin, exactly as XGBoost's predictor does, so the XGBoost export
// (WriteXGBoostJSON) predicts the same numbers.
//
// A GBDT is immutable after TrainGBDT or LoadGBDT returns it and safe for
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

	trees []gbdtTree
	isCat []bool
	base  float32
}

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
	m.base = m.baseMargin()
	for i := range m.trees {
		m.trees[i].finish(m.isCat)
	}
}

// baseMargin is the margin every row starts from, computed in float32 the
// way XGBoost 1.7 turns base_score into a margin (-logf(1/p - 1) for binary).
func (m *GBDT) baseMargin() float32 {
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
		return nil, fmt.Errorf("train: gbdt predict: %w: row has %d values, model has %d features", ErrInvalidGBDT, len(row), len(m.Features))
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
		out[0] = sigmoid(out[0])
	case ObjectiveMulticlass:
		softmax(out, out)
	}
}

// PredictBatch predicts every row of d (whose features must match the
// model's in number, order and kind; Label and Weight are ignored) and
// returns NumOutputs values per row, row after row. Rows are spread over
// GOMAXPROCS goroutines; ctx is checked between blocks of rows. Errors wrap
// ErrInvalidGBDT for mismatched data, or are ctx.Err().
func (m *GBDT) PredictBatch(ctx context.Context, d *GBDTData) ([]float64, error) {
	if len(d.Features) != len(m.Features) {
		return nil, fmt.Errorf("train: gbdt predict: %w: %d features, model has %d", ErrInvalidGBDT, len(d.Features), len(m.Features))
	}
	n := -1
	for j := range d.Features {
		f := &d.Features[j]
		if (f.Num == nil) == (f.Codes == nil) || f.Categorical() != m.isCat[j] {
			return nil, fmt.Errorf("train: gbdt predict: %w: feature %d (%q) does not match the model's kind", ErrInvalidGBDT, j, f.Name)
		}
		if n >= 0 && f.Len() != n {
			return nil, fmt.Errorf("train: gbdt predict: %w: features have %d and %d rows", ErrInvalidGBDT, n, f.Len())
		}
		n = f.Len()
	}
	k := m.NumClass
	out := make([]float64, n*k)
	errs := make([]error, numBlocks(n))
	parallelFor(runtime.GOMAXPROCS(0), numBlocks(n), func(b int) {
		if err := ctx.Err(); err != nil {
			errs[b] = err
			return
		}
		lo, hi := b*blockSize, min((b+1)*blockSize, n)
		acc := make([]float32, (hi-lo)*k)
		for i := range acc {
			acc[i] = m.base
		}
		for ti := range m.trees {
			t := &m.trees[ti]
			for i := lo; i < hi; i++ {
				acc[(i-lo)*k+t.Class] += t.Value[t.leafColumns(d.Features, i)]
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

// gbdtTree is one regression tree in struct-of-arrays form; node 0 is the
// root and children always have larger indexes than their parent.
type gbdtTree struct {
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
	// route[node] is the set of bins that go left, during training only.
	route [][4]uint64
}

func (t *gbdtTree) addNode() int32 {
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.DefaultLeft = append(t.DefaultLeft, false)
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	t.Value = append(t.Value, 0)
	t.Gain = append(t.Gain, 0)
	t.Hess = append(t.Hess, 0)
	t.Cats = append(t.Cats, nil)
	t.route = append(t.route, [4]uint64{})
	return int32(len(t.Feature) - 1)
}

func (t *gbdtTree) setSplit(id int32, g *grower, s *splitInfo, l, r int32) {
	f := &g.bf[s.feature]
	t.Feature[id] = int32(s.feature)
	t.DefaultLeft[id] = s.defaultLeft
	t.Left[id], t.Right[id] = l, r
	t.Gain[id] = float32(s.gain)
	for b, left := range g.goLeft(s) {
		if left {
			t.route[id][b>>6] |= 1 << (b & 63)
		}
	}
	if !f.categorical {
		t.Threshold[id] = f.upper[s.bin]
		return
	}
	cats := []int32{}
	for b := 0; b < f.numBins; b++ {
		left := s.catLeft[b>>6]&(1<<(b&63)) != 0
		if left != s.defaultLeft {
			cats = append(cats, f.binCode[b])
		}
	}
	t.Cats[id] = cats
}

// finish builds the category bitsets.
func (t *gbdtTree) finish(isCat []bool) {
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

func (t *gbdtTree) inCats(node int32, c int64) bool {
	bits := t.catBits[node]
	return c >= 0 && c>>6 < int64(len(bits)) && bits[c>>6]&(1<<(c&63)) != 0
}

// defaultChild is where missing values go; otherChild the other side.
func (t *gbdtTree) defaultChild(node int32) int32 {
	if t.DefaultLeft[node] {
		return t.Left[node]
	}
	return t.Right[node]
}

func (t *gbdtTree) otherChild(node int32) int32 {
	if t.DefaultLeft[node] {
		return t.Right[node]
	}
	return t.Left[node]
}

// leafRow is the leaf reached by a row of raw values.
func (t *gbdtTree) leafRow(row []float64, isCat []bool) int32 {
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

// leafBins is the leaf reached by row i of binned columns (training only).
func (t *gbdtTree) leafBins(cols [][]uint8, i int) int32 {
	node := int32(0)
	for {
		f := t.Feature[node]
		if f < 0 {
			return node
		}
		b := cols[f][i]
		if t.route[node][b>>6]>>(b&63)&1 != 0 {
			node = t.Left[node]
		} else {
			node = t.Right[node]
		}
	}
}

// leafColumns is the leaf reached by row i of column data.
func (t *gbdtTree) leafColumns(features []Feature, i int) int32 {
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
