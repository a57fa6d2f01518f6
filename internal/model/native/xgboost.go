package native

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// XGBoostVersion is the XGBoost version whose JSON model format
// WriteXGBoostJSON writes, and against which its predictions are tested.
const XGBoostVersion = "1.7.4"

// WriteXGBoostJSON writes m in XGBoost's JSON model format (version
// [1,7,4], XGBoostVersion), which xgboost.Booster(model_file=…) loads and MLflow's xgboost
// flavor serves. The exported model predicts what m predicts: XGBoost also
// compares float32(x) < threshold, sums leaf values in float32 in tree order
// and derives the margin from base_score the same way.
//
// Objectives map to binary:logistic, multi:softprob and reg:squarederror.
// Feature names and types ("q" numeric, "c" categorical) are written, so a
// DMatrix given to the model must carry the same feature names. Categorical
// splits are written as XGBoost partition splits (split_type 1): XGBoost
// sends the listed categories right and every other value, missing included,
// left, so each categorical node is written with its default-side subtree as
// the left child and default_left = 1; it then routes every code as Ferry
// does, including unseen and negative ones. Predicting such a model in
// XGBoost 1.7 needs a DMatrix with enable_categorical=True (or
// feature_types) when the input is a pandas frame.
func (m *GBDT) WriteXGBoostJSON(w io.Writer) error {
	x := &jsonWriter{}
	nf := strconv.Itoa(len(m.Features))
	x.raw(`{"learner":{"attributes":{},"feature_names":`)
	writeArray(x, m.Features, func(f FeatureInfo) { x.str(f.Name) })
	x.raw(`,"feature_types":`)
	writeArray(x, m.Features, func(f FeatureInfo) {
		if f.Categorical {
			x.str("c")
		} else {
			x.str("q")
		}
	})
	x.raw(`,"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"`)
	x.int(len(m.trees))
	x.raw(`","size_leaf_vector":"0"},"tree_info":`)
	writeArray(x, m.trees, func(t Tree) { x.int(t.Class) })
	x.raw(`,"trees":[`)
	for ti := range m.trees {
		if ti > 0 {
			x.raw(",")
		}
		m.writeXGBoostTree(x, ti, nf)
	}
	x.raw(`]},"name":"gbtree"},"learner_model_param":{"base_score":"`)
	x.raw(xgbFloat(float32(m.BaseScore)))
	x.raw(`","boost_from_average":"1","num_class":"`)
	if m.Objective == ObjectiveMulticlass {
		x.int(m.NumClass)
	} else {
		x.raw("0")
	}
	x.raw(`","num_feature":"` + nf + `","num_target":"1"},"objective":`)
	switch m.Objective {
	case ObjectiveBinary:
		x.raw(`{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}`)
	case ObjectiveMulticlass:
		x.raw(`{"name":"multi:softprob","softmax_multiclass_param":{"num_class":"`)
		x.int(m.NumClass)
		x.raw(`"}}`)
	default:
		x.raw(`{"name":"reg:squarederror","reg_loss_param":{"scale_pos_weight":"1"}}`)
	}
	x.raw(`},"version":[1,7,4]}`)
	x.raw("\n")
	if _, err := w.Write(x.b); err != nil {
		return fmt.Errorf("native: write xgboost json: %w", err)
	}
	return nil
}

func (m *GBDT) writeXGBoostTree(x *jsonWriter, ti int, nf string) {
	t := &m.trees[ti]
	n := len(t.Feature)
	floats := func(key string, v func(i int) float32) {
		x.key(key)
		x.raw("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				x.raw(",")
			}
			x.raw(xgbFloat(v(i)))
		}
		x.raw("]")
	}
	ints := func(key string, v func(i int) int) {
		x.key(key)
		x.raw("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				x.raw(",")
			}
			x.int(v(i))
		}
		x.raw("]")
	}
	isCatNode := func(i int) bool { return t.Feature[i] >= 0 && m.isCat[t.Feature[i]] }
	// children as XGBoost sees them: categorical nodes put the default side left
	left := func(i int) int {
		if isCatNode(i) {
			return int(t.defaultChild(int32(i)))
		}
		return int(t.Left[i])
	}
	right := func(i int) int {
		if isCatNode(i) {
			return int(t.otherChild(int32(i)))
		}
		return int(t.Right[i])
	}
	parents := make([]int, n)
	parents[0] = 2147483647 // XGBoost's "no parent"
	for i := 0; i < n; i++ {
		if t.Feature[i] >= 0 {
			parents[left(i)], parents[right(i)] = i, i
		}
	}
	x.raw("{")
	floats("base_weights", func(i int) float32 { return t.Value[i] })
	var catNodes, segments, sizes []int
	var cats []int32
	for i := 0; i < n; i++ {
		if isCatNode(i) {
			catNodes = append(catNodes, i)
			segments = append(segments, len(cats))
			sizes = append(sizes, len(t.Cats[i]))
			cats = append(cats, t.Cats[i]...)
		}
	}
	x.key("categories")
	writeArray(x, cats, func(v int32) { x.int(int(v)) })
	for _, kv := range []struct {
		k string
		v []int
	}{{"categories_nodes", catNodes}, {"categories_segments", segments}, {"categories_sizes", sizes}} {
		x.key(kv.k)
		writeArray(x, kv.v, x.int)
	}
	ints("default_left", func(i int) int {
		if isCatNode(i) || (t.Feature[i] >= 0 && t.DefaultLeft[i]) {
			return 1
		}
		return 0
	})
	x.key("id")
	x.int(ti)
	ints("left_children", left)
	floats("loss_changes", func(i int) float32 { return t.Gain[i] })
	ints("parents", func(i int) int { return parents[i] })
	ints("right_children", right)
	floats("split_conditions", func(i int) float32 {
		switch {
		case t.Feature[i] < 0:
			return t.Value[i]
		case isCatNode(i):
			return 0
		}
		return t.Threshold[i]
	})
	ints("split_indices", func(i int) int { return int(max(t.Feature[i], 0)) })
	ints("split_type", func(i int) int {
		if isCatNode(i) {
			return 1
		}
		return 0
	})
	floats("sum_hessian", func(i int) float32 { return float32(t.Hess[i]) })
	x.raw(`,"tree_param":{"num_deleted":"0","num_feature":"` + nf + `","num_nodes":"`)
	x.int(n)
	x.raw(`","size_leaf_vector":"0"}}`)
}

// xgbFloat formats a float32 the shortest exact way, always with a '.' or
// an exponent: XGBoost's JSON reader types "1" as an integer and refuses it
// where a number is expected. Non-finite values become 0.
func xgbFloat(v float32) string {
	if v != v || v > 3.4028235e38 || v < -3.4028235e38 {
		return "0.0"
	}
	s := strconv.FormatFloat(float64(v), 'g', -1, 32)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}
