// Package xgboost is Ferry's own evaluator of XGBoost models: it reads the
// JSON and UBJSON model files that XGBoost saves (the JSON format of 1.0 and
// later) and its legacy binary format (what XGBoost 1.x writes for a name
// such as MLflow's model.xgb, and 0.x wrote without a header), checked
// against 1.7.4, and predicts exactly as XGBoost does, in pure Go. It serves the MLflow xgboost flavor
// through runtime.Model (see Load) and is usable on its own (LoadFile,
// Booster.PredictRow, Booster.Predict).
//
// Supported: the gbtree and dart boosters (dart's per-tree weights folded into
// the leaves), numerical and categorical splits, missing values (NaN follows
// the split's default direction), the objectives listed in Objectives, and
// base_score in both the scalar ("5E-1") and the list ("[5E-1]") spelling.
// Not supported, with an ENOTIMPLEMENTED error: gblinear, multi-target trees
// (num_target > 1, vector leaves). (The legacy binary format cannot hold
// categorical splits or feature names.)
//
// Prediction follows XGBoost 1.7's CPU predictor: features are compared as
// float32 (a value goes left when value < split_condition); a categorical
// value is truncated to an integer and goes right when that category is in
// the split's set, left otherwise (also when it is negative or at least
// 2^24), as XGBoost 1.7.4 does (checked with unseen, negative, fractional and
// huge values); the margin starts at base_score mapped into margin
// space by the objective and adds each tree's leaf value in float32, in tree
// order, per output group (tree i belongs to group tree_info[i]); the
// objective's transform (sigmoid, exp, softmax, ...) is then applied in
// float64 to the float32 margin.
package xgboost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ferry-ml/ferry"
)

// MaxModelSize is the largest model file LoadFile and Load read (1 GiB).
// Decoding holds the file and its decoded form in memory at once.
const MaxModelSize = 1 << 30

// Model file formats.
const (
	FormatJSON   = "json"
	FormatUBJSON = "ubj"
)

// node flags, in the high bits of node.info; the low bits hold the feature.
const (
	flagLeaf        = 1 << 31
	flagDefaultLeft = 1 << 30
	flagCategorical = 1 << 29
	featMask        = 1<<29 - 1
	maxFeatures     = featMask + 1
)

// node is one node of a tree in the booster's flat node array. Trees are laid
// out breadth first, so the right child of a split always follows its left
// child and every child comes after its parent. A leaf is its own left
// child and never goes right, so a walk that goes on from a leaf stays
// there: trees can be walked a fixed number of steps (their depth) without
// testing for leaves.
type node struct {
	// info is flagLeaf for a leaf; for a split, the feature index with
	// flagDefaultLeft (missing values go left) and flagCategorical.
	info uint32
	// value is a leaf's value (times its tree's dart weight), a numerical
	// split's threshold, or, for a categorical split, the index of its
	// category set in Booster.cats (as the bits of the float32).
	value float32
	// left is the index of a split's left child in the node array, and a
	// leaf's own index.
	left int32
}

// Booster is a loaded XGBoost model. It is immutable once loaded and safe for
// concurrent use.
type Booster struct {
	nodes  []node
	roots  []int32   // index of each tree's root in nodes
	groups []int32   // output group of each tree
	depths []int32   // depth of each tree (0 for a lone leaf)
	cats   [][]int32 // sorted category sets of the categorical splits

	numFeature int
	numGroup   int       // margins per row: num_class, or 1
	base       []float32 // initial margin of each group
	obj        objective
	hasCat     bool

	featureNames []string
	featureTypes []string
	version      string
}

// LoadFile reads a model file saved by XGBoost's save_model. The format is
// taken from the content: JSON starts with '{' followed by a key or space,
// UBJSON with '{' followed by a type marker; any other file is read in
// XGBoost's legacy binary format (see ParseBinary), which MLflow saved as
// model.xgb with XGBoost 1.x.
//
// Errors wrap a *ferry.Error: ENOTFOUND when the file does not exist,
// ETOOLARGE above MaxModelSize, EINVALID for a corrupt or inconsistent model
// (with what is wrong and where), ENOTIMPLEMENTED for models this package
// does not evaluate. It never panics on bad input.
func LoadFile(path string) (*Booster, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("xgboost: load %s: %w", filepath.Base(path), err)
	}
	return b, nil
}

// readFile reads at most MaxModelSize bytes of path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ferry.Errorf(ferry.ENOTFOUND, "no XGBoost model file %q", filepath.Base(path))
	} else if err != nil {
		return nil, fmt.Errorf("xgboost: open model: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxModelSize+1))
	if err != nil {
		return nil, fmt.Errorf("xgboost: read model: %w", err)
	}
	if len(data) > MaxModelSize {
		return nil, ferry.Errorf(ferry.ETOOLARGE, "the XGBoost model file %q is larger than %d bytes", filepath.Base(path), MaxModelSize)
	}
	return data, nil
}

// Parse decodes a model from the bytes of a JSON, UBJSON or legacy binary
// model file, telling them apart as LoadFile does; errors as for LoadFile.
func Parse(data []byte) (*Booster, error) {
	switch sniff(data) {
	case FormatJSON:
		return ParseJSON(data)
	case FormatUBJSON:
		return ParseUBJSON(data)
	}
	return ParseBinary(data)
}

// sniff returns FormatJSON or FormatUBJSON for data that starts like one, ""
// otherwise.
func sniff(data []byte) string {
	s := strings.TrimLeft(string(data[:min(len(data), 64)]), " \t\r\n")
	if len(s) < 2 || s[0] != '{' {
		return ""
	}
	switch s[1] {
	case '"', '}', ' ', '\t', '\r', '\n':
		return FormatJSON
	case 'i', 'U', 'I', 'l', 'L', '$', '#', 'N':
		return FormatUBJSON
	}
	return ""
}

// ParseJSON decodes a model saved as JSON; errors as for LoadFile.
func ParseJSON(data []byte) (*Booster, error) {
	doc, err := decodeJSON(data)
	if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "the XGBoost model is not valid JSON: %s", err)
	}
	return build(&doc)
}

// ParseUBJSON decodes a model saved as UBJSON (.ubj); errors as for LoadFile.
func ParseUBJSON(data []byte) (*Booster, error) {
	doc, err := decodeUBJSON(data)
	if err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "the XGBoost model is not valid UBJSON: %s", err)
	}
	return build(&doc)
}

// NumFeature is the number of features a row has.
func (b *Booster) NumFeature() int { return b.numFeature }

// NumOutputs is the number of values PredictRow writes per row: 1 for
// multi:softmax (the class), NumGroups otherwise (the classes of
// multi:softprob, 1 for binary and regression models).
func (b *Booster) NumOutputs() int { return b.obj.outputs(b.numGroup) }

// NumGroups is the number of margins per row (PredictMarginRow): the number
// of classes for multi-class objectives, 1 otherwise.
func (b *Booster) NumGroups() int { return b.numGroup }

// NumTrees is the number of trees.
func (b *Booster) NumTrees() int { return len(b.roots) }

// Objective is the model's objective, e.g. "binary:logistic".
func (b *Booster) Objective() string { return b.obj.name }

// FeatureNames returns the model's feature names, nil when it has none. The
// caller must not modify the slice.
func (b *Booster) FeatureNames() []string { return b.featureNames }

// FeatureTypes returns the model's feature types ("float", "int", "i", "q",
// "c"), nil when it has none. The caller must not modify the slice.
func (b *Booster) FeatureTypes() []string { return b.featureTypes }

// Version is the XGBoost version that saved the model, e.g. "1.7.4"; "" when
// the file does not say.
func (b *Booster) Version() string { return b.version }

// PredictRow writes the prediction of one row to out: the probability of the
// positive class for binary:logistic, the class probabilities for
// multi:softprob, the class index for multi:softmax, the value for
// regression. row holds the row's features in order, NaN for a missing
// value; out receives NumOutputs values. It panics, like an index out of
// range, when row is shorter than NumFeature or out than NumOutputs.
//
// PredictRow allocates nothing (for models of up to 64 classes) and is safe
// for concurrent use.
func (b *Booster) PredictRow(row []float32, out []float64) {
	_ = row[:b.numFeature]
	if b.numGroup == 1 {
		out[0] = b.obj.transform1(b.margin1(row))
		return
	}
	var stack [64]float32
	var m []float32
	if b.numGroup <= len(stack) {
		m = stack[:b.numGroup]
	} else {
		m = make([]float32, b.numGroup)
	}
	b.margins(row, m)
	b.obj.transform(m, out[:b.obj.outputs(b.numGroup)])
}

// PredictMarginRow writes the untransformed margins of one row to out
// (NumGroups values), as XGBoost's predict(output_margin=True) does; it
// panics when row is shorter than NumFeature or out than NumGroups.
func (b *Booster) PredictMarginRow(row []float32, out []float32) {
	_ = row[:b.numFeature]
	if b.numGroup == 1 {
		out[0] = b.margin1(row)
		return
	}
	b.margins(row, out[:b.numGroup])
}

// blockRows is the number of rows a worker of Predict takes at a time.
const blockRows = 64

// Predict predicts rows rows of x (row-major, NumFeature values a row, NaN
// for missing) into out (NumOutputs values a row), in parallel over blocks
// of rows on up to GOMAXPROCS goroutines. It returns an EINVALID error when
// the lengths of x or out do not fit rows, and ctx's error when ctx ends
// first (out is then partly written). Safe for concurrent use.
func (b *Booster) Predict(ctx context.Context, x []float32, rows int, out []float64) error {
	nf, no := b.numFeature, b.NumOutputs()
	if rows < 0 || len(x) != rows*nf || (nf > 0 && len(x)/nf != rows) {
		return ferry.Errorf(ferry.EINVALID, "the input has %d values, want %d rows of %d features", len(x), rows, nf)
	}
	if len(out) != rows*no || len(out)/no != rows {
		return ferry.Errorf(ferry.EINVALID, "the output has room for %d values, want %d rows of %d", len(out), rows, no)
	}
	blocks := (rows + blockRows - 1) / blockRows
	run := func(blk int) {
		lo, hi := blk*blockRows, min((blk+1)*blockRows, rows)
		for r := lo; r < hi; r++ {
			b.PredictRow(x[r*nf:(r+1)*nf], out[r*no:(r+1)*no])
		}
	}
	workers := min(goruntime.GOMAXPROCS(0), blocks)
	if workers <= 1 {
		for blk := range blocks {
			if err := ctx.Err(); err != nil {
				return err
			}
			run(blk)
		}
		return nil
	}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				blk := int(next.Add(1)) - 1
				if blk >= blocks {
					return
				}
				run(blk)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if done.Load() < int64(blocks) {
		return ctx.Err()
	}
	return nil
}

// margin1 is the margin of a single-group model.
func (b *Booster) margin1(row []float32) float32 {
	s := b.base[0]
	if b.hasCat {
		for _, root := range b.roots {
			s += b.leafCat(root, row)
		}
		return s
	}
	nodes := b.nodes
	t := 0
	for ; t+lanes <= len(b.roots); t += lanes {
		i0, i1, i2, i3, i4, i5, i6, i7 := b.walk8(t, row)
		s += nodes[i0].value
		s += nodes[i1].value
		s += nodes[i2].value
		s += nodes[i3].value
		s += nodes[i4].value
		s += nodes[i5].value
		s += nodes[i6].value
		s += nodes[i7].value
	}
	for ; t < len(b.roots); t++ {
		s += nodes[b.walk(t, row)].value
	}
	return s
}

// margins writes the margins of a multi-group model to m.
func (b *Booster) margins(row []float32, m []float32) {
	copy(m, b.base)
	if b.hasCat {
		for t, root := range b.roots {
			m[b.groups[t]] += b.leafCat(root, row)
		}
		return
	}
	nodes, g := b.nodes, b.groups
	t := 0
	for ; t+lanes <= len(b.roots) && t+lanes <= len(g); t += lanes {
		i0, i1, i2, i3, i4, i5, i6, i7 := b.walk8(t, row)
		m[g[t]] += nodes[i0].value
		m[g[t+1]] += nodes[i1].value
		m[g[t+2]] += nodes[i2].value
		m[g[t+3]] += nodes[i3].value
		m[g[t+4]] += nodes[i4].value
		m[g[t+5]] += nodes[i5].value
		m[g[t+6]] += nodes[i6].value
		m[g[t+7]] += nodes[i7].value
	}
	for ; t < len(b.roots) && t < len(g); t++ {
		m[g[t]] += nodes[b.walk(t, row)].value
	}
}

// lanes is the number of trees walk8 walks at once.
const lanes = 8

// walk8 walks trees t to t+7 of a model without categorical splits and
// returns the index of the leaf row reaches in each. The trees are walked
// in lock step for the depth of the deepest (the shallower stay on their
// leaves), so that the processor overlaps eight independent chains of
// dependent loads. (Unrolled by hand: with the indices in an array, the
// compiler keeps them in memory, and the loop is 1.7 times slower.) The
// caller adds the leaves in tree order, as XGBoost does.
func (b *Booster) walk8(t int, row []float32) (i0, i1, i2, i3, i4, i5, i6, i7 int32) {
	nodes, roots, depths := b.nodes, b.roots[t:t+lanes], b.depths[t:t+lanes]
	i0, i1, i2, i3 = roots[0], roots[1], roots[2], roots[3]
	i4, i5, i6, i7 = roots[4], roots[5], roots[6], roots[7]
	for d := max(depths[0], depths[1], depths[2], depths[3], depths[4], depths[5], depths[6], depths[7]); d > 0; d-- {
		i0 = step(&nodes[i0], row)
		i1 = step(&nodes[i1], row)
		i2 = step(&nodes[i2], row)
		i3 = step(&nodes[i3], row)
		i4 = step(&nodes[i4], row)
		i5 = step(&nodes[i5], row)
		i6 = step(&nodes[i6], row)
		i7 = step(&nodes[i7], row)
	}
	return
}

// walk walks tree t of a model without categorical splits and returns the
// index of the leaf row reaches.
func (b *Booster) walk(t int, row []float32) int32 {
	i := b.roots[t]
	for d := b.depths[t]; d > 0; d-- {
		i = step(&b.nodes[i], row)
	}
	return i
}

// step returns the child of the numerical split n that row goes to, or n's
// own index when n is a leaf. It has no branches: the outcome of a split is
// as good as random, so a branch would be mispredicted half the time.
// v >= t is false for NaN and !(v < t) true; the default direction picks
// one; a leaf's mask is 0.
func step(n *node, row []float32) int32 {
	v := row[n.info&featMask]
	ge := b2i(v >= n.value)
	notLess := b2i(!(v < n.value))
	defaultLeft := int32(n.info>>30) & 1 // flagDefaultLeft
	split := int32(n.info>>31) - 1       // 0 for a leaf, all ones for a split
	return n.left + (ge|notLess&^defaultLeft)&split
}

// b2i is 1 for true and 0 for false; the compiler makes it a SETcc.
func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// leafCat walks one tree, categorical splits included, to its leaf value.
func (b *Booster) leafCat(i int32, row []float32) float32 {
	nodes := b.nodes
	for {
		n := &nodes[i]
		if n.info&flagLeaf != 0 {
			return n.value
		}
		v := row[n.info&featMask]
		switch {
		case v != v: // missing
			if n.info&flagDefaultLeft != 0 {
				i = n.left
			} else {
				i = n.left + 1
			}
		case n.info&flagCategorical != 0:
			i = n.left
			if inCategories(b.cats[math.Float32bits(n.value)], v) {
				i++
			}
		case v < n.value:
			i = n.left
		default:
			i = n.left + 1
		}
	}
}

// maxCategory bounds the categories XGBoost evaluates: a value is a category
// when 0 <= value < 2^24, the largest range in which float32 holds every
// integer.
const maxCategory = 1 << 24

// inCategories reports whether the category of v (v truncated to an integer)
// is in the sorted set; values outside [0, 2^24) are in no set.
func inCategories(set []int32, v float32) bool {
	if !(v >= 0 && v < maxCategory) {
		return false
	}
	c := int32(v)
	lo, hi := 0, len(set)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if set[mid] < c {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(set) && set[lo] == c
}
