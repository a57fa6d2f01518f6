package xgboost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

// tinyDoc is a minimal model in XGBoost's JSON layout: reg:squarederror,
// base_score 0.5, two features, one tree
//
//	0: f0 < 0.5 (missing left) ? 1 : 2
//	1: leaf -1
//	2: f1 in {1, 3} (categorical, missing right) ? 4 : 3
//	3: leaf 2
//	4: leaf 3
func tinyDoc() map[string]any {
	tree := map[string]any{
		"id":                  0,
		"tree_param":          map[string]any{"num_nodes": "5", "num_feature": "2", "num_deleted": "0", "size_leaf_vector": "0"},
		"left_children":       []any{1, -1, 3, -1, -1},
		"right_children":      []any{2, -1, 4, -1, -1},
		"parents":             []any{2147483647, 0, 0, 2, 2},
		"split_indices":       []any{0, 0, 1, 0, 0},
		"split_conditions":    []any{0.5, -1.0, 0, 2.0, 3.0},
		"split_type":          []any{0, 0, 1, 0, 0},
		"default_left":        []any{1, 0, 0, 0, 0},
		"base_weights":        []any{0, -1, 0, 2, 3},
		"loss_changes":        []any{1, 0, 1, 0, 0},
		"sum_hessian":         []any{4, 1, 3, 1, 2},
		"categories":          []any{1, 3},
		"categories_nodes":    []any{2},
		"categories_segments": []any{0},
		"categories_sizes":    []any{2},
	}
	return map[string]any{
		"version": []any{1, 7, 4},
		"learner": map[string]any{
			"attributes":          map[string]any{},
			"feature_names":       []any{},
			"feature_types":       []any{},
			"learner_model_param": map[string]any{"base_score": "5E-1", "num_class": "0", "num_feature": "2", "num_target": "1"},
			"objective":           map[string]any{"name": "reg:squarederror", "reg_loss_param": map[string]any{"scale_pos_weight": "1"}},
			"gradient_booster": map[string]any{
				"name": "gbtree",
				"model": map[string]any{
					"gbtree_model_param": map[string]any{"num_trees": "1", "num_parallel_tree": "1", "size_leaf_vector": "0"},
					"tree_info":          []any{0},
					"trees":              []any{tree},
				},
			},
		},
	}
}

// at returns the object at a dotted path of doc ("learner.objective").
func at(doc map[string]any, path string) map[string]any {
	m := doc
	for _, k := range strings.Split(path, ".") {
		m = m[k].(map[string]any)
	}
	return m
}

func tree0(doc map[string]any) map[string]any {
	return at(doc, "learner.gradient_booster.model")["trees"].([]any)[0].(map[string]any)
}

func marshal(t testing.TB, doc map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var nan = float32(math.NaN())

// TestTinyModel checks the decision rules on a hand-made tree: numerical
// splits compare value < threshold (so ties go right), missing values follow
// default_left, and a categorical value goes right when its category (the
// value truncated) is in the set and left otherwise, also when it is no
// category at all.
func TestTinyModel(t *testing.T) {
	b, err := ParseJSON(marshal(t, tinyDoc()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		row  []float32
		want float64
	}{
		{"numerical left", []float32{0.2, 1}, -0.5},
		{"missing follows default left", []float32{nan, 1}, -0.5},
		{"tie goes right", []float32{0.5, 2}, 2.5},
		{"category in set goes right", []float32{0.7, 1}, 3.5},
		{"category not in set goes left", []float32{0.7, 2}, 2.5},
		{"fraction is truncated", []float32{0.7, 3.7}, 3.5},
		{"missing category follows default right", []float32{0.7, nan}, 3.5},
		{"negative goes left", []float32{0.7, -1}, 2.5},
		{"negative fraction goes left", []float32{0.7, -0.5}, 2.5},
		{"beyond 2^24 goes left", []float32{0.7, 1 << 25}, 2.5},
		{"infinity goes right of numerical", []float32{float32(math.Inf(1)), 3}, 3.5},
		{"minus infinity goes left", []float32{float32(math.Inf(-1)), 3}, -0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := []float64{math.NaN()}
			b.PredictRow(tc.row, out)
			if out[0] != tc.want {
				t.Errorf("PredictRow(%v) = %v, want %v", tc.row, out[0], tc.want)
			}
		})
	}
}

// TestParseVariants checks spellings of valid models that XGBoost's versions
// write, and layouts the format allows.
func TestParseVariants(t *testing.T) {
	row := []float32{0.7, 1}
	for _, tc := range []struct {
		name string
		edit func(doc map[string]any)
		want float64
	}{
		{"as saved", func(map[string]any) {}, 3.5},
		{"base_score as a list (XGBoost 2)", func(d map[string]any) {
			at(d, "learner.learner_model_param")["base_score"] = "[5E-1]"
		}, 3.5},
		{"base_score as a number", func(d map[string]any) {
			at(d, "learner.learner_model_param")["base_score"] = 1.5
		}, 4.5},
		{"base_score absent", func(d map[string]any) {
			delete(at(d, "learner.learner_model_param"), "base_score")
		}, 3.5},
		{"default_left as booleans", func(d map[string]any) {
			tree0(d)["default_left"] = []any{true, false, false, false, false}
		}, 3.5},
		{"no split_type and categories (before 1.6)", func(d map[string]any) {
			tr := tree0(d)
			for _, k := range []string{"split_type", "categories", "categories_nodes", "categories_segments", "categories_sizes"} {
				delete(tr, k)
			}
			tr["split_conditions"] = []any{0.5, -1.0, 0.5, 2.0, 3.0} // node 2: f1 < 0.5
		}, 3.5},
		{"children before their parent", func(d map[string]any) {
			// the same tree stored as 0: root, 1 and 2: leaves of the
			// categorical split at 3, 4: the root's left leaf
			tr := tree0(d)
			tr["left_children"] = []any{4, -1, -1, 1, -1}
			tr["right_children"] = []any{3, -1, -1, 2, -1}
			tr["split_indices"] = []any{0, 0, 0, 1, 0}
			tr["split_conditions"] = []any{0.5, 2.0, 3.0, 0, -1.0}
			tr["split_type"] = []any{0, 0, 0, 1, 0}
			tr["default_left"] = []any{1, 0, 0, 0, 0}
			tr["categories_nodes"] = []any{3}
		}, 3.5},
		{"categorical split and no category sets in the tree", func(d map[string]any) {
			tr := tree0(d)
			for _, k := range []string{"categories", "categories_nodes", "categories_segments", "categories_sizes"} {
				delete(tr, k)
			}
		}, 2.5}, // an empty set: category 1 goes left
		{"dart weights", func(d map[string]any) {
			l := at(d, "learner")
			gb := l["gradient_booster"].(map[string]any)
			l["gradient_booster"] = map[string]any{"name": "dart", "gbtree": gb, "weight_drop": []any{0.5}}
		}, 2},
		{"feature names", func(d map[string]any) {
			at(d, "learner")["feature_names"] = []any{"a", "b"}
			at(d, "learner")["feature_types"] = []any{"float", "c"}
		}, 3.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := tinyDoc()
			tc.edit(doc)
			b, err := ParseJSON(marshal(t, doc))
			if err != nil {
				t.Fatal(err)
			}
			out := []float64{0}
			b.PredictRow(row, out)
			if out[0] != tc.want {
				t.Errorf("PredictRow(%v) = %v, want %v", row, out[0], tc.want)
			}
		})
	}
}

// TestParseErrors checks that broken and unsupported models are refused
// with the right code and a message that says what is wrong.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		edit     func(doc map[string]any)
		raw      string // used instead of the edited tinyDoc when set
		code     string
		contains string
	}{
		{name: "not JSON", raw: "{\"learner\": [1, 2", code: ferry.EINVALID, contains: "not valid JSON"},
		{name: "truncated legacy binary", raw: "binf\x00\x00\x00?", code: ferry.EINVALID, contains: "legacy binary model, byte 4: the learner parameters needs 136 bytes"},
		{name: "empty", raw: "", code: ferry.EINVALID, contains: "not an XGBoost model"},
		{name: "top level not an object", raw: "{\"learner\": 1}", code: ferry.EINVALID, contains: "learner is a number"},
		{name: "deep nesting", raw: "{\"a\":" + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}", code: ferry.EINVALID, contains: "nest deeper"},
		{name: "gblinear", edit: func(d map[string]any) {
			at(d, "learner.gradient_booster")["name"] = "gblinear"
		}, code: ferry.ENOTIMPLEMENTED, contains: "gblinear"},
		{name: "unknown objective", edit: func(d map[string]any) {
			at(d, "learner.objective")["name"] = "survival:aft"
		}, code: ferry.ENOTIMPLEMENTED, contains: "survival:aft"},
		{name: "several targets", edit: func(d map[string]any) {
			at(d, "learner.learner_model_param")["num_target"] = "2"
		}, code: ferry.ENOTIMPLEMENTED, contains: "num_target"},
		{name: "no num_feature", edit: func(d map[string]any) {
			delete(at(d, "learner.learner_model_param"), "num_feature")
		}, code: ferry.EINVALID, contains: "num_feature"},
		{name: "num_class not a number", edit: func(d map[string]any) {
			at(d, "learner.learner_model_param")["num_class"] = "three"
		}, code: ferry.EINVALID, contains: "num_class is not an integer"},
		{name: "multi-class without num_class", edit: func(d map[string]any) {
			at(d, "learner.objective")["name"] = "multi:softprob"
		}, code: ferry.EINVALID, contains: "needs num_class"},
		{name: "logistic base_score not a probability", edit: func(d map[string]any) {
			at(d, "learner.objective")["name"] = "binary:logistic"
			at(d, "learner.learner_model_param")["base_score"] = "1.5"
		}, code: ferry.EINVALID, contains: "base_score 1.5"},
		{name: "base_score list too long", edit: func(d map[string]any) {
			at(d, "learner.learner_model_param")["base_score"] = "[5E-1,1]"
		}, code: ferry.EINVALID, contains: "want 1 or 1"},
		{name: "feature names do not match num_feature", edit: func(d map[string]any) {
			at(d, "learner")["feature_names"] = []any{"a"}
		}, code: ferry.EINVALID, contains: "feature_names has 1 entries"},
		{name: "num_trees does not match", edit: func(d map[string]any) {
			at(d, "learner.gradient_booster.model.gbtree_model_param")["num_trees"] = "2"
		}, code: ferry.EINVALID, contains: "num_trees is 2"},
		{name: "tree_info group out of range", edit: func(d map[string]any) {
			at(d, "learner.gradient_booster.model")["tree_info"] = []any{1}
		}, code: ferry.EINVALID, contains: "tree_info[0]"},
		{name: "dart without weights", edit: func(d map[string]any) {
			l := at(d, "learner")
			l["gradient_booster"] = map[string]any{"name": "dart", "gbtree": l["gradient_booster"]}
		}, code: ferry.EINVALID, contains: "weight_drop"},
		{name: "array shorter than num_nodes", edit: func(d map[string]any) {
			tree0(d)["left_children"] = []any{1, -1, 3, -1}
		}, code: ferry.EINVALID, contains: "left_children has 4 entries, want num_nodes = 5"},
		{name: "num_nodes zero", edit: func(d map[string]any) {
			at(tree0(d), "tree_param")["num_nodes"] = "0"
		}, code: ferry.EINVALID, contains: "num_nodes 0 is out of range"},
		{name: "num_nodes huge", edit: func(d map[string]any) {
			at(tree0(d), "tree_param")["num_nodes"] = "2000000000"
		}, code: ferry.EINVALID, contains: "want num_nodes = 2000000000"},
		{name: "child out of range", edit: func(d map[string]any) {
			tree0(d)["right_children"] = []any{7, -1, 4, -1, -1}
		}, code: ferry.EINVALID, contains: "node 0 has children"},
		{name: "child not an integer", edit: func(d map[string]any) {
			tree0(d)["right_children"] = []any{2.5, -1, 4, -1, -1}
		}, code: ferry.EINVALID, contains: "want indices"},
		{name: "cycle back to the root", edit: func(d map[string]any) {
			tree0(d)["left_children"] = []any{1, -1, 0, -1, -1}
		}, code: ferry.EINVALID, contains: "reached twice"},
		{name: "shared subtree", edit: func(d map[string]any) {
			tree0(d)["left_children"] = []any{1, -1, 1, -1, -1}
		}, code: ferry.EINVALID, contains: "reached twice"},
		{name: "self loop", edit: func(d map[string]any) {
			tree0(d)["left_children"] = []any{1, -1, 2, -1, -1}
		}, code: ferry.EINVALID, contains: "reached twice"},
		{name: "feature out of range", edit: func(d map[string]any) {
			tree0(d)["split_indices"] = []any{5, 0, 1, 0, 0}
		}, code: ferry.EINVALID, contains: "splits on feature"},
		{name: "unknown split type", edit: func(d map[string]any) {
			tree0(d)["split_type"] = []any{2, 0, 1, 0, 0}
		}, code: ferry.EINVALID, contains: "split_type"},
		{name: "default_left not a flag", edit: func(d map[string]any) {
			tree0(d)["default_left"] = []any{3, 0, 0, 0, 0}
		}, code: ferry.EINVALID, contains: "default_left"},
		{name: "split_conditions of strings", edit: func(d map[string]any) {
			tree0(d)["split_conditions"] = []any{"a", "b", "c", "d", "e"}
		}, code: ferry.EINVALID, contains: "split_conditions[0] is a string"},
		{name: "category segment beyond the categories", edit: func(d map[string]any) {
			tree0(d)["categories_sizes"] = []any{3}
		}, code: ferry.EINVALID, contains: "do not fit"},
		{name: "overlapping category segments", edit: func(d map[string]any) {
			tr := tree0(d)
			tr["categories_nodes"] = []any{2, 0}
			tr["categories_segments"] = []any{0, 0}
			tr["categories_sizes"] = []any{2, 2}
		}, code: ferry.EINVALID, contains: "do not fit"},
		{name: "negative category", edit: func(d map[string]any) {
			tree0(d)["categories"] = []any{-1, 3}
		}, code: ferry.EINVALID, contains: "not a category"},
		{name: "vector leaves", edit: func(d map[string]any) {
			at(tree0(d), "tree_param")["size_leaf_vector"] = "3"
		}, code: ferry.ENOTIMPLEMENTED, contains: "vector leaves"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.edit != nil {
				doc := tinyDoc()
				tc.edit(doc)
				data = marshal(t, doc)
			}
			b, err := Parse(data)
			if err == nil {
				t.Fatalf("Parse succeeded (%d trees), want %s", b.NumTrees(), tc.code)
			}
			if got := ferry.ErrorCode(err); got != tc.code {
				t.Errorf("code %s, want %s (%v)", got, tc.code, err)
			}
			if msg := ferry.ErrorMessage(err); !strings.Contains(msg, tc.contains) {
				t.Errorf("message %q does not contain %q", msg, tc.contains)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "missing.json")
	if _, err := LoadFile(big); ferry.ErrorCode(err) != ferry.ENOTFOUND {
		t.Errorf("missing file: %v, want ENOTFOUND", err)
	}
	corrupt := filepath.Join(dir, "corrupt.json")
	data, err := os.ReadFile(filepath.Join("testdata", "binary_logistic.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(corrupt, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(corrupt)
	if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(ferry.ErrorMessage(err), "unexpected end of input") {
		t.Errorf("truncated file: %v, want EINVALID about the end of input", err)
	}
}

// TestBaseScoreForms checks that the list form of base_score newer versions
// write ("[5E-1]", one value per class) gives the same margins as the
// scalar form, on a real multi-class model.
func TestBaseScoreForms(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "multi_softprob.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"base_score":"5E-1"`)) {
		t.Fatal("fixture does not spell base_score as expected")
	}
	f, x := loadFixture(t, "multi_softprob")
	for _, tc := range []struct{ name, spelling string }{
		{"scalar", `"5E-1"`},
		{"list of one", `"[5E-1]"`},
		{"list per class", `"[5E-1,5E-1,5E-1]"`},
		{"number", `0.5`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseJSON(bytes.Replace(data, []byte(`"base_score":"5E-1"`), []byte(`"base_score":`+tc.spelling), 1))
			if err != nil {
				t.Fatal(err)
			}
			m := make([]float32, 3)
			for r := range f.Rows {
				b.PredictMarginRow(x[r*f.Features:(r+1)*f.Features], m)
				for g := range m {
					if float64(m[g]) != f.Margin[r*3+g] {
						t.Fatalf("row %d group %d: margin %v, want %v", r, g, m[g], f.Margin[r*3+g])
					}
				}
			}
		})
	}
}

// TestLockStepWalk checks the lock-step walk of trees of different depths
// (lone leaves among deeper trees, counts that are not a multiple of eight)
// against a plain walk of one tree at a time, for one and for three output
// groups.
func TestLockStepWalk(t *testing.T) {
	numeric := func(leafShift float64) map[string]any {
		tr := tree0(tinyDoc())
		for _, k := range []string{"split_type", "categories", "categories_nodes", "categories_segments", "categories_sizes"} {
			delete(tr, k)
		}
		tr["split_conditions"] = []any{0.5, -1.0 + leafShift, 0.25, 2.0 + leafShift, 3.0 - leafShift}
		return tr
	}
	leaf := func(v float64) map[string]any {
		return map[string]any{
			"tree_param":       map[string]any{"num_nodes": "1", "num_feature": "2", "size_leaf_vector": "0"},
			"left_children":    []any{-1},
			"right_children":   []any{-1},
			"split_indices":    []any{0},
			"split_conditions": []any{v},
			"default_left":     []any{0},
		}
	}
	for _, tc := range []struct {
		name    string
		trees   int
		classes int
	}{
		{"one tree", 1, 0},
		{"seven trees", 7, 0},
		{"eight trees", 8, 0},
		{"nineteen trees", 19, 0},
		{"three classes, 25 trees", 25, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := tinyDoc()
			var trees, info []any
			for i := range tc.trees {
				if i%3 == 1 {
					trees = append(trees, leaf(0.125*float64(i)))
				} else {
					trees = append(trees, numeric(0.01*float64(i)))
				}
				info = append(info, i%max(tc.classes, 1))
			}
			m := at(doc, "learner.gradient_booster.model")
			m["trees"], m["tree_info"] = trees, info
			at(doc, "learner.gradient_booster.model.gbtree_model_param")["num_trees"] = fmt.Sprint(tc.trees)
			if tc.classes > 0 {
				at(doc, "learner.objective")["name"] = "multi:softprob"
				at(doc, "learner.learner_model_param")["num_class"] = fmt.Sprint(tc.classes)
			}
			b, err := ParseJSON(marshal(t, doc))
			if err != nil {
				t.Fatal(err)
			}
			if b.hasCat {
				t.Fatal("the model should have no categorical split")
			}
			rows := [][]float32{{0.2, 0.1}, {0.7, 0.1}, {0.7, 0.3}, {nan, nan}, {0.7, nan}, {nan, 0.3}, {0.5, 0.25}}
			got := make([]float32, b.NumGroups())
			for _, row := range rows {
				want := slices.Clone(b.base)
				for tr, root := range b.roots {
					want[b.groups[tr]] += b.leafCat(root, row)
				}
				b.PredictMarginRow(row, got)
				if !slices.Equal(got, want) {
					t.Errorf("row %v: margins %v, want %v", row, got, want)
				}
			}
		})
	}
}
