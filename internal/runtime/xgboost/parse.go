package xgboost

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// maxClasses bounds num_class, so that a declared count cannot size
// per-row buffers beyond reason.
const maxClasses = 1 << 16

// invalid returns the EINVALID error of a model that breaks a rule of the
// format; where names the place in the document.
func invalid(where, format string, args ...any) error {
	return ferry.Errorf(ferry.EINVALID, "XGBoost model: %s: %s", where, fmt.Sprintf(format, args...))
}

// clip shortens text quoted from a model in error messages.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// build checks a decoded model document and lays its trees out for
// prediction. It reads only what it checked and allocates in proportion to
// the document, never to a count the document declares.
func build(doc *value) (*Booster, error) {
	if doc.kind != kindObject {
		return nil, invalid("the document", "is a %s, want an object with a learner", doc.kind)
	}
	learner, err := object(doc, "learner", "the document")
	if err != nil {
		return nil, err
	}
	b := &Booster{version: version(doc)}

	mp, err := object(learner, "learner_model_param", "learner")
	if err != nil {
		return nil, err
	}
	const where = "learner.learner_model_param"
	numFeature, err := intParam(mp, "num_feature", where, 0, 0, maxFeatures-1)
	if err != nil {
		return nil, err
	}
	numClass, err := intParam(mp, "num_class", where, 0, 0, maxClasses)
	if err != nil {
		return nil, err
	}
	numTarget, err := intParam(mp, "num_target", where, 1, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	ov, err := object(learner, "objective", "learner")
	if err != nil {
		return nil, err
	}
	name, err := str(ov, "name", "learner.objective")
	if err != nil {
		return nil, err
	}
	scores := []float32{defaultBaseScore}
	if p, ok := mp.get("base_score"); ok {
		if scores, err = baseScores(p, max(1, numClass)); err != nil {
			return nil, invalid(where, "base_score %s", err)
		}
	}
	if err := b.setup(where, numFeature, numClass, numTarget, name, scores); err != nil {
		return nil, err
	}
	if b.featureNames, err = strings1(learner, "feature_names", b.numFeature); err != nil {
		return nil, err
	}
	if b.featureTypes, err = strings1(learner, "feature_types", b.numFeature); err != nil {
		return nil, err
	}

	model, weights, err := treeModel(learner)
	if err != nil {
		return nil, err
	}
	if err := b.addTrees(model, weights); err != nil {
		return nil, err
	}
	return b, nil
}

// version reads the document's "version": [major, minor, patch].
func version(doc *value) string {
	v, ok := doc.get("version")
	if !ok {
		return ""
	}
	nums, _, ok := v.numbers()
	if !ok || len(nums) == 0 || len(nums) > 4 {
		return ""
	}
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = strconv.FormatFloat(n, 'f', -1, 64)
	}
	return strings.Join(parts, ".")
}

func object(v *value, key, where string) (*value, error) {
	o, ok := v.get(key)
	if !ok {
		return nil, invalid(where, "%s is missing", key)
	}
	if o.kind != kindObject {
		return nil, invalid(where, "%s is a %s, want an object", key, o.kind)
	}
	return o, nil
}

func str(v *value, key, where string) (string, error) {
	s, ok := v.get(key)
	if !ok {
		return "", invalid(where, "%s is missing", key)
	}
	if s.kind != kindString {
		return "", invalid(where, "%s is a %s, want a string", key, s.kind)
	}
	return s.str, nil
}

// intParam reads an integer parameter, which XGBoost writes as a string
// ("3"), in [lo, hi]; def when absent.
func intParam(v *value, key, where string, def, lo, hi int) (int, error) {
	p, ok := v.get(key)
	if !ok {
		return def, nil
	}
	f, _, ok := p.scalarNumber()
	if !ok || f != math.Trunc(f) {
		return 0, invalid(where, "%s is not an integer", key)
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, invalid(where, "%s %.0f is out of range [%d, %d]", key, f, lo, hi)
	}
	return int(f), nil
}

// defaultBaseScore is XGBoost's base_score when a model does not give one.
const defaultBaseScore = 0.5

// setup sets what the learner's model parameters decide, whatever the file
// format: the number of features (at least 1), the objective (by name), the
// number of output groups (num_class, or 1) and the initial margin of each
// group from base_score, which XGBoost stores in the objective's output
// space: scores holds 1 value or one per group. numTarget above 1 is
// ENOTIMPLEMENTED. where names the parameters in errors.
func (b *Booster) setup(where string, numFeature, numClass, numTarget int, objective string, scores []float32) error {
	if numFeature == 0 {
		return invalid(where, "num_feature is missing or 0")
	}
	if numTarget > 1 {
		return ferry.Errorf(ferry.ENOTIMPLEMENTED, "XGBoost models with several targets (num_target %d) are not supported", numTarget)
	}
	obj, err := newObjective(objective)
	if err != nil {
		return err
	}
	if obj.multiclass() && numClass == 0 {
		return invalid(where, "%s needs num_class, which is 0", objective)
	}
	b.numFeature, b.obj, b.numGroup = numFeature, obj, max(1, numClass)
	b.base = make([]float32, b.numGroup)
	for g := range b.base {
		s := scores[0]
		if len(scores) > 1 {
			s = scores[g]
		}
		if b.base[g], err = obj.baseMargin(s); err != nil {
			return err
		}
	}
	return nil
}

// baseScores reads the values of base_score: 1 or groups of them.
func baseScores(p *value, groups int) ([]float32, error) {
	var scores []float32
	switch p.kind {
	case kindNumber:
		scores = []float32{p.f32}
	case kindArray:
		_, f32, ok := p.numbers()
		if !ok {
			return nil, fmt.Errorf("is not a list of numbers")
		}
		scores = f32
	case kindString:
		text := strings.TrimSpace(p.str)
		if strings.HasPrefix(text, "[") && strings.HasSuffix(text, "]") {
			text = text[1 : len(text)-1]
		}
		parts := strings.Split(text, ",")
		if len(parts) > groups {
			return nil, fmt.Errorf("%q has %d values, want 1 or %d", clip(p.str), len(parts), groups)
		}
		for _, s := range parts {
			_, f, ok := parseNumberText(strings.TrimSpace(s))
			if !ok {
				return nil, fmt.Errorf("%q is not a number", clip(p.str))
			}
			scores = append(scores, f)
		}
	default:
		return nil, fmt.Errorf("is a %s, want a number", p.kind)
	}
	if len(scores) != 1 && len(scores) != groups {
		return nil, fmt.Errorf("has %d values, want 1 or %d", len(scores), groups)
	}
	return scores, nil
}

// strings1 reads an optional list of strings that, when not empty, must
// have n entries.
func strings1(v *value, key string, n int) ([]string, error) {
	a, ok := v.get(key)
	if !ok || a.kind == kindNull || a.kind == kindArray && a.length() == 0 {
		return nil, nil
	}
	if a.kind != kindArray || a.arr == nil {
		return nil, invalid("learner", "%s is not a list of strings", key)
	}
	if len(a.arr) != n {
		return nil, invalid("learner", "%s has %d entries, want num_feature = %d", key, len(a.arr), n)
	}
	out := make([]string, len(a.arr))
	for i := range a.arr {
		if a.arr[i].kind != kindString {
			return nil, invalid("learner", "%s[%d] is a %s, want a string", key, i, a.arr[i].kind)
		}
		out[i] = a.arr[i].str
	}
	return out, nil
}

// treeModel finds the gbtree model of the learner and, for dart, the weight
// of each tree.
func treeModel(learner *value) (model *value, weights []float32, err error) {
	gb, err := object(learner, "gradient_booster", "learner")
	if err != nil {
		return nil, nil, err
	}
	const where = "learner.gradient_booster"
	name, err := str(gb, "name", where)
	if err != nil {
		return nil, nil, err
	}
	switch name {
	case "gbtree":
		model, err = object(gb, "model", where)
		return model, nil, err
	case "dart":
		inner, err := object(gb, "gbtree", where)
		if err != nil {
			return nil, nil, err
		}
		if model, err = object(inner, "model", where+".gbtree"); err != nil {
			return nil, nil, err
		}
		w, ok := gb.get("weight_drop")
		if !ok {
			return nil, nil, invalid(where, "weight_drop is missing")
		}
		_, f32, ok := w.numbers()
		if !ok {
			return nil, nil, invalid(where, "weight_drop is not a list of numbers")
		}
		return model, f32, nil
	}
	return nil, nil, supportedBooster(name)
}

// supportedBooster refuses boosters other than gbtree and dart with
// ENOTIMPLEMENTED.
func supportedBooster(name string) error {
	switch name {
	case "gbtree", "dart":
		return nil
	case "gblinear":
		return ferry.Errorf(ferry.ENOTIMPLEMENTED, "XGBoost linear models (booster gblinear) are not supported; only tree models (gbtree, dart)")
	}
	return ferry.Errorf(ferry.ENOTIMPLEMENTED, "the XGBoost booster %q is not supported; only tree models (gbtree, dart)", clip(name))
}

// addTrees checks and lays out every tree of a gbtree model.
func (b *Booster) addTrees(model *value, weights []float32) error {
	const where = "learner.gradient_booster.model"
	tv, ok := model.get("trees")
	if !ok {
		return invalid(where, "trees is missing")
	}
	if tv.kind != kindArray || tv.arr == nil && len(tv.nums) > 0 {
		return invalid(where, "trees is not a list of trees")
	}
	trees := tv.arr
	if p, ok := model.get("gbtree_model_param"); ok {
		if n, err := intParam(p, "num_trees", where+".gbtree_model_param", len(trees), 0, math.MaxInt32); err != nil {
			return err
		} else if n != len(trees) {
			return invalid(where, "gbtree_model_param.num_trees is %d but there are %d trees", n, len(trees))
		}
		if s, err := intParam(p, "size_leaf_vector", where+".gbtree_model_param", 0, 0, math.MaxInt32); err != nil {
			return err
		} else if err := scalarLeaves(s); err != nil {
			return err
		}
	}
	if weights != nil && len(weights) != len(trees) {
		return invalid("learner.gradient_booster", "weight_drop has %d entries for %d trees", len(weights), len(trees))
	}
	var info []float64
	if iv, ok := model.get("tree_info"); ok {
		if info, _, ok = iv.numbers(); !ok {
			return invalid(where, "tree_info is not a list of numbers")
		}
		if len(info) != len(trees) {
			return invalid(where, "tree_info has %d entries for %d trees", len(info), len(trees))
		}
	} else if b.numGroup > 1 {
		return invalid(where, "tree_info is missing")
	}
	b.roots = make([]int32, len(trees))
	b.groups = make([]int32, len(trees))
	b.depths = make([]int32, 0, len(trees))
	for i := range trees {
		g := 0
		if info != nil {
			if !isIndex(info[i], b.numGroup) {
				return invalid(where, "tree_info[%d] = %v is not a group in [0, %d)", i, info[i], b.numGroup)
			}
			g = int(info[i])
		}
		w := float32(1)
		if weights != nil {
			w = weights[i]
		}
		root, err := b.addTree(&trees[i], fmt.Sprintf("%s.trees[%d]", where, i), w)
		if err != nil {
			return err
		}
		b.roots[i], b.groups[i] = root, int32(g)
	}
	return nil
}

// scalarLeaves refuses trees with vector leaves (size_leaf_vector above 1)
// as ENOTIMPLEMENTED.
func scalarLeaves(sizeLeafVector int) error {
	if sizeLeafVector > 1 {
		return ferry.Errorf(ferry.ENOTIMPLEMENTED, "XGBoost trees with vector leaves (size_leaf_vector %d) are not supported", sizeLeafVector)
	}
	return nil
}

// isIndex reports whether f is an integer in [0, n).
func isIndex(f float64, n int) bool {
	return f >= 0 && f < float64(n) && f == math.Trunc(f)
}

// treeArrays are a tree's per-node arrays, each of num_nodes entries.
type treeArrays struct {
	left, right, feature []float64
	cond                 []float32
	defaultLeft          []float64
	splitType            []float64 // nil: all numerical
}

// nodeArray reads the per-node array key of a tree: numbers (or, as old
// versions write default_left, booleans), n of them. An optional array may
// be absent or empty.
func nodeArray(t *value, key, where string, n int, optional bool) ([]float64, []float32, error) {
	a, ok := t.get(key)
	if !ok || optional && a.kind == kindArray && a.length() == 0 {
		if optional {
			return nil, nil, nil
		}
		return nil, nil, invalid(where, "%s is missing", key)
	}
	if a.kind != kindArray {
		return nil, nil, invalid(where, "%s is a %s, want a list", key, a.kind)
	}
	if a.length() != n {
		return nil, nil, invalid(where, "%s has %d entries, want num_nodes = %d", key, a.length(), n)
	}
	if a.arr == nil {
		return a.nums, a.f32s, nil
	}
	f64, f32 := make([]float64, n), make([]float32, n)
	for i := range a.arr {
		switch e := &a.arr[i]; e.kind {
		case kindNumber, kindBool:
			f64[i], f32[i] = e.num, float32(e.num)
			if e.kind == kindNumber {
				f32[i] = e.f32
			}
		default:
			return nil, nil, invalid(where, "%s[%d] is a %s, want a number", key, i, e.kind)
		}
	}
	return f64, f32, nil
}

// addTree reads one tree of a JSON or UBJSON model and lays it out (see
// layOut).
func (b *Booster) addTree(t *value, where string, weight float32) (int32, error) {
	if t.kind != kindObject {
		return 0, invalid(where, "is a %s, want an object", t.kind)
	}
	tp, err := object(t, "tree_param", where)
	if err != nil {
		return 0, err
	}
	n, err := intParam(tp, "num_nodes", where+".tree_param", -1, 1, math.MaxInt32)
	if err != nil {
		return 0, err
	} else if n < 0 {
		return 0, invalid(where, "tree_param.num_nodes is missing")
	}
	if s, err := intParam(tp, "size_leaf_vector", where+".tree_param", 0, 0, math.MaxInt32); err != nil {
		return 0, err
	} else if err := scalarLeaves(s); err != nil {
		return 0, err
	}
	var a treeArrays
	for _, f := range []struct {
		key      string
		dst      *[]float64
		optional bool
	}{
		{"left_children", &a.left, false},
		{"right_children", &a.right, false},
		{"split_indices", &a.feature, false},
		{"default_left", &a.defaultLeft, false},
		{"split_type", &a.splitType, true},
	} {
		if *f.dst, _, err = nodeArray(t, f.key, where, n, f.optional); err != nil {
			return 0, err
		}
	}
	if _, a.cond, err = nodeArray(t, "split_conditions", where, n, false); err != nil {
		return 0, err
	}
	catOf, err := b.categorySets(t, where, n)
	if err != nil {
		return 0, err
	}
	return b.layOut(&a, catOf, where, weight)
}

// layOut checks a tree given as per-node arrays and appends its nodes,
// breadth first from the root, to b.nodes and its depth to b.depths; it
// returns the index of the root. A node is a leaf when its left child is
// -1; a leaf's value is its cond, times weight. catOf gives the index in
// b.cats of each categorical split's set (nil when there are none). Only
// nodes reachable from the root are checked and kept (XGBoost keeps deleted
// nodes in its arrays). Every reachable node must be reached once: a child
// index that points back to a node already seen is a cycle or a shared
// subtree and is refused, so that evaluation always terminates.
func (b *Booster) layOut(a *treeArrays, catOf []int32, where string, weight float32) (int32, error) {
	n := len(a.left)
	base := len(b.nodes)
	if base+n > math.MaxInt32 {
		return 0, invalid(where, "the model has more than %d nodes", math.MaxInt32)
	}
	seen := make([]bool, n)
	order := make([]int32, 1, n) // old ids in breadth-first order
	level := make([]int32, 1, n) // the depth of each node of order
	seen[0] = true
	depth := int32(0)
	for q := 0; q < len(order); q++ {
		id := order[q]
		at := func(what string) string { return fmt.Sprintf("%s node %d %s", where, id, what) }
		l := a.left[id]
		if l == -1 {
			leaf := a.cond[id]
			if weight != 1 {
				leaf = float32(leaf * weight)
			}
			// a leaf is its own child, so that walking on from it stays put
			b.nodes = append(b.nodes, node{info: flagLeaf, value: leaf, left: int32(base + q)})
			depth = max(depth, level[q])
			continue
		}
		r := a.right[id]
		if !isIndex(l, n) || !isIndex(r, n) {
			return 0, invalid(at("has children"), "%v and %v, want indices in [0, %d)", l, r, n)
		}
		if seen[int(l)] || seen[int(r)] || l == r {
			return 0, invalid(at("has children"), "%v and %v: a node is reached twice (a cycle or a shared subtree)", l, r)
		}
		seen[int(l)], seen[int(r)] = true, true
		f := a.feature[id]
		if !isIndex(f, b.numFeature) {
			return 0, invalid(at("splits on feature"), "%v, want one in [0, num_feature = %d)", f, b.numFeature)
		}
		nd := node{info: uint32(f), value: a.cond[id], left: int32(base + len(order))}
		if dl := a.defaultLeft[id]; dl != 0 && dl != 1 {
			return 0, invalid(at("has default_left"), "%v, want 0 or 1", dl)
		} else if dl == 1 {
			nd.info |= flagDefaultLeft
		}
		if a.splitType != nil {
			switch a.splitType[id] {
			case 0:
			case 1:
				set := int32(-1)
				if catOf != nil {
					set = catOf[id]
				}
				if set < 0 { // XGBoost evaluates a categorical split without categories as an empty set
					set = int32(len(b.cats))
					b.cats = append(b.cats, nil)
				}
				nd.info |= flagCategorical
				nd.value = math.Float32frombits(uint32(set))
				b.hasCat = true
			default:
				return 0, invalid(at("has split_type"), "%v, want 0 (numerical) or 1 (categorical)", a.splitType[id])
			}
		}
		b.nodes = append(b.nodes, nd)
		order = append(order, int32(l), int32(r))
		level = append(level, level[q]+1, level[q]+1)
	}
	b.depths = append(b.depths, depth)
	return int32(base), nil
}

// categorySets reads a tree's categorical splits (categories_nodes,
// categories_segments, categories_sizes, categories), appends the category
// set of each to b.cats, sorted, and returns for each node the index of its
// set, or -1.
func (b *Booster) categorySets(t *value, where string, n int) ([]int32, error) {
	keys := [...]string{"categories_nodes", "categories_segments", "categories_sizes", "categories"}
	var arrs [4][]float64
	for i, k := range keys {
		a, ok := t.get(k)
		if !ok {
			continue
		}
		f64, _, ok := a.numbers()
		if !ok {
			return nil, invalid(where, "%s is not a list of numbers", k)
		}
		arrs[i] = f64
	}
	nodes, segs, sizes, cats := arrs[0], arrs[1], arrs[2], arrs[3]
	if len(segs) != len(nodes) || len(sizes) != len(nodes) {
		return nil, invalid(where, "categories_nodes, categories_segments and categories_sizes have %d, %d and %d entries, want the same", len(nodes), len(segs), len(sizes))
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	catOf := make([]int32, n)
	for i := range catOf {
		catOf[i] = -1
	}
	end := 0.0 // segments must follow each other, as XGBoost writes them, so no category is read twice
	for i, id := range nodes {
		if !isIndex(id, n) {
			return nil, invalid(where, "categories_nodes[%d] = %v is not a node in [0, %d)", i, id, n)
		}
		if catOf[int(id)] >= 0 {
			return nil, invalid(where, "categories_nodes lists node %v twice", id)
		}
		if !isIndex(segs[i], len(cats)+1) || !isIndex(sizes[i], len(cats)+1) || segs[i] < end || segs[i]+sizes[i] > float64(len(cats)) {
			return nil, invalid(where, "categories_segments[%d] = %v and categories_sizes[%d] = %v do not fit the %d categories after the previous segments", i, segs[i], i, sizes[i], len(cats))
		}
		end = segs[i] + sizes[i]
		lo, hi := int(segs[i]), int(segs[i]+sizes[i])
		set := make([]int32, 0, hi-lo)
		for j, c := range cats[lo:hi] {
			if !isIndex(c, math.MaxInt32) {
				return nil, invalid(where, "categories[%d] = %v is not a category (a non-negative integer)", lo+j, c)
			}
			set = append(set, int32(c))
		}
		slices.Sort(set)
		catOf[int(id)] = int32(len(b.cats))
		b.cats = append(b.cats, slices.Compact(set))
	}
	return catOf, nil
}
