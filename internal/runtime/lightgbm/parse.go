package lightgbm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
)

// Booster is a LightGBM model read from its text format. Its exported fields
// describe the model as the file does; they and the trees are read-only after
// Parse, which makes a Booster safe for concurrent use.
type Booster struct {
	// Version is the format version the file names, e.g. "v4".
	Version string
	// NumClass is num_class: 1 except for multiclass models.
	NumClass int
	// NumTreePerIteration is the number of trees each boosting round adds, one
	// per output; it is also the number of outputs.
	NumTreePerIteration int
	LabelIndex          int
	// MaxFeatureIdx is the index of the last feature: the model reads
	// MaxFeatureIdx+1 features.
	MaxFeatureIdx int
	// Objective is the objective line as written, e.g. "binary sigmoid:1";
	// "" when the file has none (raw scores).
	Objective string
	// FeatureNames has MaxFeatureIdx+1 names.
	FeatureNames []string
	// FeatureInfos has, per feature, "[min:max]" for a numeric feature, the
	// categories ("0:1:5") for a categorical one and "none" for a feature no
	// tree uses; nil when the file has none.
	FeatureInfos []string
	// AverageOutput is set for random forests: the predictions are the mean
	// of the trees rather than their sum (the raw scores are still the sum,
	// as LightGBM's).
	AverageOutput bool
	// PandasCategorical holds, for models trained on pandas DataFrames with
	// category columns, the categories of each categorical feature in feature
	// order: category j of such a feature is the value j. It is nil when the
	// file has none, or when its lists do not pair up with the categorical
	// features named by FeatureInfos (then categorical inputs are codes).
	PandasCategorical [][]string

	trees []tree
	obj   objective
	// catOf[f] indexes PandasCategorical for feature f, -1 for none; nil
	// without PandasCategorical.
	catOf []int
}

// NumFeatures is the length of a row: MaxFeatureIdx+1.
func (b *Booster) NumFeatures() int { return b.MaxFeatureIdx + 1 }

// NumOutputs is the number of values Predict gives per row.
func (b *Booster) NumOutputs() int { return b.NumTreePerIteration }

// NumTrees is the number of trees.
func (b *Booster) NumTrees() int { return len(b.trees) }

// tree is one LightGBM tree as the text format stores it: internal nodes
// 0..numLeaves-2 (node 0 the root), children >= 0 naming internal nodes and
// < 0 naming leaf ^child. A tree of one leaf has no internal nodes.
type tree struct {
	splitFeature []int32
	threshold    []float64 // numeric: the threshold; categorical: the index of the bitset
	decision     []uint8   // bit 0 categorical, bit 1 default left, bits 2-3 missing type
	left, right  []int32
	leafValue    []float64
	// catBoundaries[i]..catBoundaries[i+1] is the range of catThreshold
	// holding bitset i, 32 categories a word.
	catBoundaries []int32
	catThreshold  []uint32
	// A linear tree (is_linear=1) has, per leaf, a constant and a linear
	// model: leaf l's features and coefficients are
	// leafFeatures/leafCoeff[linearStart[l]:linearStart[l+1]]. leafConst is
	// nil for a tree that is not linear.
	leafConst    []float64
	linearStart  []int32
	leafFeatures []int32
	leafCoeff    []float64
}

// Bits of decision_type, as LightGBM's tree.h defines them.
const (
	categoricalMask = 1
	defaultLeftMask = 2
)

// Missing types, bits 2-3 of decision_type.
const (
	missingNone = 0
	missingZero = 1
	missingNaN  = 2
)

// parser reads a model file line by line.
type parser struct {
	data []byte
	pos  int
	line int // number of the line last read, from 1
}

// next returns the next line without its line ending; ok is false at the end.
func (p *parser) next() (line string, ok bool) {
	if p.pos >= len(p.data) {
		return "", false
	}
	rest := p.data[p.pos:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		i = len(rest)
		p.pos = len(p.data)
	} else {
		p.pos += i + 1
	}
	p.line++
	return strings.TrimSuffix(string(rest[:i]), "\r"), true
}

// peek returns the next line without consuming it.
func (p *parser) peek() (string, bool) {
	save, line := p.pos, p.line
	l, ok := p.next()
	p.pos, p.line = save, line
	return l, ok
}

// Parse reads a LightGBM text model (what Booster.save_model and
// model_to_string write): the header, the Tree=i blocks and, after them, the
// pandas_categorical line; feature importances and parameters are skipped.
//
// Every count, index and tree shape is checked, so that evaluating the result
// can neither panic nor loop: each array has the length num_leaves (or
// num_cat) declares, split features are below max_feature_idx+1, children
// form a tree rooted at node 0 reaching every node and leaf once, categorical
// splits name a bitset that exists. A malformed file is EINVALID, naming the
// line.
func Parse(data []byte) (*Booster, error) {
	p := &parser{data: data}
	first, ok := p.next()
	if !ok || strings.TrimSpace(first) != "tree" {
		return nil, invalidf("not a LightGBM text model: it does not start with the line \"tree\" (a model saved with Booster.save_model; pickled scikit-learn models are not read)")
	}
	header := map[string]string{}
	headerLine := map[string]int{}
	for {
		l, ok := p.peek()
		if !ok || strings.HasPrefix(l, "Tree=") || l == "end of trees" {
			break
		}
		p.next()
		if l == "" {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		if _, dup := header[k]; dup && k != "" {
			return nil, p.errorf("%s appears twice in the header", clip(k))
		}
		header[k], headerLine[k] = v, p.line
	}
	b := &Booster{}
	if err := b.parseHeader(header, headerLine); err != nil {
		return nil, err
	}

	for {
		l, ok := p.peek()
		if !ok || !strings.HasPrefix(l, "Tree=") {
			break
		}
		p.next()
		start := p.line
		idx, err := strconv.Atoi(strings.TrimPrefix(l, "Tree="))
		if err != nil || idx != len(b.trees) {
			return nil, p.errorf("%q: trees must be numbered 0, 1, 2, … in order; want Tree=%d", clip(l), len(b.trees))
		}
		kv := map[string]string{}
		for {
			l, ok := p.peek()
			if !ok || l == "" || strings.HasPrefix(l, "Tree=") || l == "end of trees" {
				break
			}
			p.next()
			k, v, found := strings.Cut(l, "=")
			if !found {
				return nil, p.errorf("Tree=%d: %q is not a key=value line", idx, clip(l))
			}
			if _, dup := kv[k]; dup {
				return nil, p.errorf("Tree=%d: %s appears twice", idx, clip(k))
			}
			kv[k] = v
		}
		t, err := parseTree(kv, b.NumFeatures())
		if err != nil {
			return nil, invalidf("line %d (Tree=%d): %s", start, idx, err)
		}
		b.trees = append(b.trees, *t)
		for {
			l, ok := p.peek()
			if !ok || l != "" {
				break
			}
			p.next()
		}
	}
	if err := b.check(); err != nil {
		return nil, err
	}

	// The rest: end of trees, feature importances, parameters, and the
	// pandas_categorical line the Python package appends.
	var pandas string
	pandasLine := 0
	for {
		l, ok := p.next()
		if !ok {
			break
		}
		if v, found := strings.CutPrefix(l, "pandas_categorical:"); found {
			pandas, pandasLine = v, p.line
		}
	}
	if pandasLine > 0 {
		if err := b.setPandasCategorical(pandas); err != nil {
			return nil, invalidf("line %d: pandas_categorical: %s", pandasLine, err)
		}
	}
	return b, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return invalidf("line %d: %s", p.line, fmt.Sprintf(format, args...))
}

// parseHeader reads the header's fields into b.
func (b *Booster) parseHeader(h map[string]string, line map[string]int) error {
	field := func(key string) (string, int, error) {
		v, ok := h[key]
		if !ok {
			return "", 0, invalidf("not a LightGBM text model: the header has no %s", key)
		}
		return v, line[key], nil
	}
	integer := func(key string, min int) (int, error) {
		v, l, err := field(key)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < min || n > math.MaxInt32 {
			return 0, invalidf("line %d: %s=%s is not an integer >= %d", l, key, clip(v), min)
		}
		return n, nil
	}
	var err error
	b.Version = h["version"]
	if b.NumClass, err = integer("num_class", 1); err != nil {
		return err
	}
	b.NumTreePerIteration = b.NumClass
	if _, ok := h["num_tree_per_iteration"]; ok {
		if b.NumTreePerIteration, err = integer("num_tree_per_iteration", 1); err != nil {
			return err
		}
	}
	if b.LabelIndex, err = integer("label_index", math.MinInt32); err != nil {
		return err
	}
	if b.MaxFeatureIdx, err = integer("max_feature_idx", 0); err != nil {
		return err
	}
	names, l, err := field("feature_names")
	if err != nil {
		return err
	}
	b.FeatureNames = strings.Fields(names)
	if len(b.FeatureNames) != b.NumFeatures() {
		return invalidf("line %d: feature_names has %d names; max_feature_idx=%d needs %d", l, len(b.FeatureNames), b.MaxFeatureIdx, b.NumFeatures())
	}
	seen := make(map[string]bool, len(b.FeatureNames))
	for _, n := range b.FeatureNames {
		if seen[n] {
			return invalidf("line %d: feature name %q appears twice", l, clip(n))
		}
		seen[n] = true
	}
	if infos, ok := h["feature_infos"]; ok {
		b.FeatureInfos = strings.Fields(infos)
		if len(b.FeatureInfos) != b.NumFeatures() {
			return invalidf("line %d: feature_infos has %d entries; max_feature_idx=%d needs %d", line["feature_infos"], len(b.FeatureInfos), b.MaxFeatureIdx, b.NumFeatures())
		}
	}
	_, b.AverageOutput = h["average_output"]
	b.Objective = strings.TrimSpace(h["objective"])
	obj, err := parseObjective(b.Objective)
	if err != nil {
		return invalidf("line %d: objective=%s: %s", line["objective"], clip(b.Objective), err)
	}
	b.obj = obj
	switch {
	case obj.classes > 0 && (obj.classes != b.NumClass || obj.classes != b.NumTreePerIteration):
		return invalidf("objective %s has %d classes, but num_class=%d and num_tree_per_iteration=%d", clip(b.Objective), obj.classes, b.NumClass, b.NumTreePerIteration)
	case obj.single && b.NumTreePerIteration != 1:
		return invalidf("objective %s has one output, but num_tree_per_iteration=%d", clip(b.Objective), b.NumTreePerIteration)
	}
	return nil
}

// check validates what needs the header and all the trees.
func (b *Booster) check() error {
	k := b.NumTreePerIteration
	switch {
	case len(b.trees) == 0:
		return invalidf("the model has no trees")
	case len(b.trees)%k != 0:
		return invalidf("the model has %d trees, not a multiple of num_tree_per_iteration=%d (truncated?)", len(b.trees), k)
	}
	return nil
}

// parseTree reads one tree's key=value lines.
func parseTree(kv map[string]string, numFeatures int) (*tree, error) {
	numLeaves, err := intField(kv, "num_leaves", 1)
	if err != nil {
		return nil, err
	}
	numCat, err := intField(kv, "num_cat", 0)
	if err != nil {
		return nil, err
	}
	t := &tree{}
	if t.leafValue, err = floats(kv, "leaf_value", numLeaves); err != nil {
		return nil, err
	}
	if v, ok := kv["is_linear"]; ok && strings.TrimSpace(v) != "0" {
		if err := t.parseLinear(kv, numLeaves, numFeatures); err != nil {
			return nil, err
		}
	}
	if numLeaves == 1 {
		return t, nil
	}
	nodes := numLeaves - 1
	if t.left, err = int32s(kv, "left_child", nodes, math.MinInt32); err != nil {
		return nil, err
	}
	if t.right, err = int32s(kv, "right_child", nodes, math.MinInt32); err != nil {
		return nil, err
	}
	if t.splitFeature, err = int32s(kv, "split_feature", nodes, 0); err != nil {
		return nil, err
	}
	if t.threshold, err = floats(kv, "threshold", nodes); err != nil {
		return nil, err
	}
	t.decision = make([]uint8, nodes)
	if _, ok := kv["decision_type"]; ok {
		d, err := int32s(kv, "decision_type", nodes, 0)
		if err != nil {
			return nil, err
		}
		for i, v := range d {
			if v > 15 || (v>>2)&3 == 3 {
				return nil, fmt.Errorf("decision_type %d of node %d is not one LightGBM writes (bit 0 categorical, bit 1 default left, bits 2-3 missing type 0-2)", v, i)
			}
			t.decision[i] = uint8(v)
		}
	}
	if numCat > 0 {
		if t.catBoundaries, err = int32s(kv, "cat_boundaries", numCat+1, 0); err != nil {
			return nil, err
		}
		if t.catBoundaries[0] != 0 {
			return nil, fmt.Errorf("cat_boundaries must start at 0")
		}
		for i := 1; i <= numCat; i++ {
			if t.catBoundaries[i] < t.catBoundaries[i-1] {
				return nil, fmt.Errorf("cat_boundaries must not decrease")
			}
		}
		if _, ok := kv["cat_threshold"]; !ok {
			return nil, fmt.Errorf("no cat_threshold (num_cat=%d)", numCat)
		}
		words := strings.Fields(kv["cat_threshold"])
		if len(words) != int(t.catBoundaries[numCat]) {
			return nil, fmt.Errorf("cat_threshold has %d values; cat_boundaries ends at %d", len(words), t.catBoundaries[numCat])
		}
		t.catThreshold = make([]uint32, len(words))
		for i, w := range words {
			v, err := strconv.ParseUint(w, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("cat_threshold value %d (%q) is not a 32-bit bitset word", i+1, clip(w))
			}
			t.catThreshold[i] = uint32(v)
		}
	}
	for i := range nodes {
		if int(t.splitFeature[i]) >= numFeatures {
			return nil, fmt.Errorf("node %d splits on feature %d; the model has %d features", i, t.splitFeature[i], numFeatures)
		}
		if t.decision[i]&categoricalMask != 0 {
			c := t.threshold[i]
			if numCat == 0 || !(c >= 0 && c < float64(numCat)) || c != math.Trunc(c) {
				return nil, fmt.Errorf("categorical node %d names bitset %v; the tree has %d (num_cat)", i, c, numCat)
			}
		}
	}
	if err := t.checkShape(); err != nil {
		return nil, err
	}
	return t, nil
}

// parseLinear reads the linear models of a linear tree's leaves: leaf_const,
// num_features, and leaf_features and leaf_coeff, which list the features
// and coefficients of every leaf one after the other.
func (t *tree) parseLinear(kv map[string]string, numLeaves, numFeatures int) error {
	var err error
	if t.leafConst, err = floats(kv, "leaf_const", numLeaves); err != nil {
		return err
	}
	counts, err := int32s(kv, "num_features", numLeaves, 0)
	if err != nil {
		return err
	}
	t.linearStart = make([]int32, numLeaves+1)
	total := 0
	for l, c := range counts {
		if int(c) > numFeatures {
			return fmt.Errorf("leaf %d has %d linear features; the model has %d features", l, c, numFeatures)
		}
		total += int(c)
		t.linearStart[l+1] = int32(total)
	}
	if t.leafFeatures, err = int32s(kv, "leaf_features", total, 0); err != nil {
		return err
	}
	for i, f := range t.leafFeatures {
		if int(f) >= numFeatures {
			return fmt.Errorf("leaf_features value %d is feature %d; the model has %d features", i+1, f, numFeatures)
		}
	}
	t.leafCoeff, err = floats(kv, "leaf_coeff", total)
	return err
}

// checkShape checks that the children form one tree rooted at node 0 in
// which every internal node and every leaf is reached exactly once.
func (t *tree) checkShape() error {
	nodes := len(t.left)
	leaves := len(t.leafValue)
	seenNode := make([]bool, nodes)
	seenLeaf := make([]bool, leaves)
	seenNode[0] = true
	stack := []int32{0}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range [2]int32{t.left[n], t.right[n]} {
			if c >= 0 {
				if int(c) >= nodes {
					return fmt.Errorf("node %d has child node %d; the tree has %d internal nodes", n, c, nodes)
				}
				if seenNode[c] {
					return fmt.Errorf("node %d is reached twice (a cycle or a shared child)", c)
				}
				seenNode[c] = true
				stack = append(stack, c)
				continue
			}
			l := ^c
			if int(l) >= leaves {
				return fmt.Errorf("node %d has child leaf %d (%d); the tree has %d leaves", n, l, c, leaves)
			}
			if seenLeaf[l] {
				return fmt.Errorf("leaf %d is reached twice", l)
			}
			seenLeaf[l] = true
		}
	}
	for i, ok := range seenNode {
		if !ok {
			return fmt.Errorf("node %d is not reachable from the root", i)
		}
	}
	for i, ok := range seenLeaf {
		if !ok {
			return fmt.Errorf("leaf %d is not reachable from the root", i)
		}
	}
	return nil
}

// intField reads a required integer field of a tree, at least min.
func intField(kv map[string]string, key string, min int) (int, error) {
	v, ok := kv[key]
	if !ok {
		return 0, fmt.Errorf("no %s", key)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > math.MaxInt32 {
		return 0, fmt.Errorf("%s=%s is not an integer >= %d", key, clip(v), min)
	}
	return n, nil
}

// int32s reads a required array of exactly n integers, each at least min.
func int32s(kv map[string]string, key string, n int, min int64) ([]int32, error) {
	v, ok := kv[key]
	if !ok {
		return nil, fmt.Errorf("no %s", key)
	}
	words := strings.Fields(v)
	if len(words) != n {
		return nil, fmt.Errorf("%s has %d values; want %d", key, len(words), n)
	}
	out := make([]int32, n)
	for i, w := range words {
		x, err := strconv.ParseInt(w, 10, 32)
		if err != nil || x < min {
			return nil, fmt.Errorf("%s value %d (%q) is not an integer >= %d", key, i+1, clip(w), min)
		}
		out[i] = int32(x)
	}
	return out, nil
}

// floats reads a required array of exactly n numbers.
func floats(kv map[string]string, key string, n int) ([]float64, error) {
	v, ok := kv[key]
	if !ok {
		return nil, fmt.Errorf("no %s", key)
	}
	words := strings.Fields(v)
	if len(words) != n {
		return nil, fmt.Errorf("%s has %d values; want %d", key, len(words), n)
	}
	out := make([]float64, n)
	for i, w := range words {
		x, err := strconv.ParseFloat(w, 64)
		if err != nil && !isRange(err) {
			return nil, fmt.Errorf("%s value %d (%q) is not a number", key, i+1, clip(w))
		}
		out[i] = x
	}
	return out, nil
}

// isRange reports a ParseFloat error for a value out of float64's range,
// which parses to ±Inf (or 0) like C's strtod.
func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// setPandasCategorical reads the JSON of the pandas_categorical line: null,
// or a list of category lists, one per categorical feature in feature order.
func (b *Booster) setPandasCategorical(text string) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var lists [][]any
	if err := dec.Decode(&lists); err != nil {
		return fmt.Errorf("not a JSON list of category lists")
	}
	if lists == nil {
		return nil
	}
	cats := make([][]string, len(lists))
	for i, l := range lists {
		cats[i] = make([]string, len(l))
		for j, v := range l {
			switch v := v.(type) {
			case string:
				cats[i][j] = v
			case json.Number:
				f, err := strconv.ParseFloat(string(v), 64)
				if err != nil && !isRange(err) {
					return fmt.Errorf("category %s is not a number", clip(string(v)))
				}
				cats[i][j] = numberText(f)
			case bool:
				cats[i][j] = strconv.FormatBool(v)
			default:
				return fmt.Errorf("list %d holds a %T; categories are strings, numbers or booleans", i+1, v)
			}
		}
	}
	// Pair the lists with the categorical features, in order; a model whose
	// feature_infos do not name as many categorical features keeps numeric
	// category codes as its inputs.
	var catFeatures []int
	for f, info := range b.FeatureInfos {
		if info != "none" && !strings.HasPrefix(info, "[") {
			catFeatures = append(catFeatures, f)
		}
	}
	if len(catFeatures) != len(cats) || len(cats) == 0 {
		return nil
	}
	b.PandasCategorical = cats
	b.catOf = make([]int, b.NumFeatures())
	for f := range b.catOf {
		b.catOf[f] = -1
	}
	for i, f := range catFeatures {
		b.catOf[f] = i
	}
	return nil
}

// codedError is an error a user can act on: it reads "lightgbm: <message>"
// and wraps the *ferry.Error carrying its code and message.
type codedError struct{ fe *ferry.Error }

func (e *codedError) Error() string { return "lightgbm: " + e.fe.Message }
func (e *codedError) Unwrap() error { return e.fe }

func invalidf(format string, args ...any) error {
	return &codedError{fe: ferry.Errorf(ferry.EINVALID, format, args...)}
}

func notImplementedf(format string, args ...any) error {
	return &codedError{fe: ferry.Errorf(ferry.ENOTIMPLEMENTED, format, args...)}
}

// clip shortens s for a message.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	r := []rune(s)
	if len(r) <= most {
		return s
	}
	return string(r[:most]) + "…"
}
