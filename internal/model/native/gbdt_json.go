package native

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// Ferry's GBDT JSON format. It is written by hand, not by encoding/json, so
// that the bytes are fixed: keys in a fixed order, floats in strconv's
// shortest 'g' form (float32 fields with 32-bit precision), no whitespace
// beyond what is written here. The same model always gives the same bytes.
//
//	{"format":"ferry-gbdt","version":1,"objective":…,"num_class":…,
//	 "base_score":…,"best_iteration":…,"params":{…},
//	 "features":[{"name":…,"type":"numeric"|"categorical","num_levels":…,"levels":[…]}],
//	 "trees":[{"class":…,"feature":[…],"threshold":[…],"default_left":[0|1…],
//	           "left":[…],"right":[…],"value":[…],"gain":[…],"hessian":[…],
//	           "categories":[{"node":…,"codes":[…]}]}]}

const (
	gbdtFormat  = "ferry-gbdt"
	gbdtVersion = 1
)

type jsonWriter struct{ b []byte }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }
func (w *jsonWriter) str(s string) { w.b = strconv.AppendQuote(w.b, s) }
func (w *jsonWriter) key(k string) {
	if n := len(w.b); n > 0 && w.b[n-1] != '{' && w.b[n-1] != '[' {
		w.b = append(w.b, ',')
	}
	w.b = strconv.AppendQuote(w.b, k)
	w.b = append(w.b, ':')
}
func (w *jsonWriter) int(v int) { w.b = strconv.AppendInt(w.b, int64(v), 10) }

// f64 writes a finite float; non-finite values (which a valid model never
// holds) are written as 0 so the output stays JSON.
func (w *jsonWriter) f64(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	w.b = strconv.AppendFloat(w.b, v, 'g', -1, 64)
}

func (w *jsonWriter) f32(v float32) {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		v = 0
	}
	w.b = strconv.AppendFloat(w.b, float64(v), 'g', -1, 32)
}

func writeArray[T any](w *jsonWriter, a []T, each func(T)) {
	w.raw("[")
	for i, v := range a {
		if i > 0 {
			w.raw(",")
		}
		each(v)
	}
	w.raw("]")
}

// MarshalJSON encodes m in Ferry's GBDT format; see Save.
func (m *GBDT) MarshalJSON() ([]byte, error) {
	w := &jsonWriter{}
	w.raw("{")
	w.key("format")
	w.str(gbdtFormat)
	w.key("version")
	w.int(gbdtVersion)
	w.key("objective")
	w.str(m.Objective)
	w.key("num_class")
	w.int(m.NumClass)
	w.key("base_score")
	w.f64(m.BaseScore)
	w.key("best_iteration")
	w.int(m.BestIteration)
	w.key("params")
	m.Params.write(w)
	w.key("features")
	writeArray(w, m.Features, func(f FeatureInfo) {
		w.raw("{")
		w.key("name")
		w.str(f.Name)
		w.key("type")
		if f.Categorical {
			w.str("categorical")
			w.key("num_levels")
			w.int(f.NumLevels)
			if f.Levels != nil {
				w.key("levels")
				writeArray(w, f.Levels, w.str)
			}
		} else {
			w.str("numeric")
		}
		w.raw("}")
	})
	w.key("trees")
	writeArray(w, m.trees, func(t Tree) {
		w.raw("{")
		w.key("class")
		w.int(t.Class)
		w.key("feature")
		writeArray(w, t.Feature, func(v int32) { w.int(int(v)) })
		w.key("threshold")
		writeArray(w, t.Threshold, w.f32)
		w.key("default_left")
		writeArray(w, t.DefaultLeft, func(v bool) {
			if v {
				w.raw("1")
			} else {
				w.raw("0")
			}
		})
		w.key("left")
		writeArray(w, t.Left, func(v int32) { w.int(int(v)) })
		w.key("right")
		writeArray(w, t.Right, func(v int32) { w.int(int(v)) })
		w.key("value")
		writeArray(w, t.Value, w.f32)
		w.key("gain")
		writeArray(w, t.Gain, w.f32)
		w.key("hessian")
		writeArray(w, t.Hess, w.f64)
		w.key("categories")
		w.raw("[")
		first := true
		for i, cats := range t.Cats {
			if t.Feature[i] < 0 || cats == nil {
				continue
			}
			if !first {
				w.raw(",")
			}
			first = false
			w.raw("{")
			w.key("node")
			w.int(i)
			w.key("codes")
			writeArray(w, cats, func(v int32) { w.int(int(v)) })
			w.raw("}")
		}
		w.raw("]}")
	})
	w.raw("}")
	return w.b, nil
}

func (p *GBDTParams) write(w *jsonWriter) {
	w.raw("{")
	w.key("objective")
	w.str(p.Objective)
	w.key("num_class")
	w.int(p.NumClass)
	w.key("num_rounds")
	w.int(p.NumRounds)
	w.key("learning_rate")
	w.f64(p.LearningRate)
	w.key("max_depth")
	w.int(p.MaxDepth)
	w.key("max_leaves")
	w.int(p.MaxLeaves)
	w.key("min_child_weight")
	w.f64(p.MinChildWeight)
	w.key("lambda")
	w.f64(p.Lambda)
	w.key("gamma")
	w.f64(p.Gamma)
	w.key("subsample")
	w.f64(p.Subsample)
	w.key("colsample_bytree")
	w.f64(p.ColSampleByTree)
	w.key("max_bins")
	w.int(p.MaxBins)
	w.key("max_cat_threshold")
	w.int(p.MaxCatThreshold)
	w.key("early_stopping_rounds")
	w.int(p.EarlyStoppingRounds)
	w.key("seed")
	w.b = strconv.AppendUint(w.b, p.Seed, 10)
	w.raw("}")
}

// Save writes m to w in Ferry's GBDT JSON format followed by a newline.
// The same model always gives the same bytes.
func (m *GBDT) Save(w io.Writer) error {
	b, _ := m.MarshalJSON()
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("native: save gbdt: %w", err)
	}
	return nil
}

type gbdtJSON struct {
	Format        string     `json:"format"`
	Version       int        `json:"version"`
	Objective     string     `json:"objective"`
	NumClass      int        `json:"num_class"`
	BaseScore     float64    `json:"base_score"`
	BestIteration int        `json:"best_iteration"`
	Params        GBDTParams `json:"params"`
	Features      []struct {
		Name      string   `json:"name"`
		Type      string   `json:"type"`
		NumLevels int      `json:"num_levels"`
		Levels    []string `json:"levels"`
	} `json:"features"`
	Trees []struct {
		Class       int       `json:"class"`
		Feature     []int32   `json:"feature"`
		Threshold   []float32 `json:"threshold"`
		DefaultLeft []uint8   `json:"default_left"`
		Left        []int32   `json:"left"`
		Right       []int32   `json:"right"`
		Value       []float32 `json:"value"`
		Gain        []float32 `json:"gain"`
		Hessian     []float64 `json:"hessian"`
		Categories  []struct {
			Node  int     `json:"node"`
			Codes []int32 `json:"codes"`
		} `json:"categories"`
	} `json:"trees"`
}

// LoadGBDT reads a model written by Save. It checks the model's structure
// (every node reachable once, child indexes after their parent, features
// and classes in range) so that prediction cannot fail or loop; a malformed
// model gives an error wrapping ErrInvalidGBDT.
func LoadGBDT(r io.Reader) (*GBDT, error) {
	var j gbdtJSON
	if err := json.NewDecoder(r).Decode(&j); err != nil {
		return nil, fmt.Errorf("native: load gbdt: %w: %w", ErrInvalidGBDT, err)
	}
	m, err := j.model()
	if err != nil {
		return nil, fmt.Errorf("native: load gbdt: %w: %w", ErrInvalidGBDT, err)
	}
	return m, nil
}

func (j *gbdtJSON) model() (*GBDT, error) {
	if j.Format != gbdtFormat || j.Version != gbdtVersion {
		return nil, fmt.Errorf("format %q version %d, want %q version %d", j.Format, j.Version, gbdtFormat, gbdtVersion)
	}
	m := &GBDT{Objective: j.Objective, NumClass: j.NumClass, BaseScore: j.BaseScore, BestIteration: j.BestIteration, Params: j.Params}
	switch {
	case m.Objective == ObjectiveMulticlass && m.NumClass >= 2:
	case (m.Objective == ObjectiveBinary || m.Objective == ObjectiveRegression) && m.NumClass == 1:
	default:
		return nil, fmt.Errorf("objective %q with %d classes", m.Objective, m.NumClass)
	}
	if math.IsNaN(m.BaseScore) || (m.Objective == ObjectiveBinary && !(m.BaseScore > 0 && m.BaseScore < 1)) {
		return nil, fmt.Errorf("base score %v", m.BaseScore)
	}
	if len(j.Features) == 0 {
		return nil, fmt.Errorf("no features")
	}
	for _, f := range j.Features {
		fi := FeatureInfo{Name: f.Name}
		switch f.Type {
		case "numeric":
		case "categorical":
			fi.Categorical, fi.Levels, fi.NumLevels = true, f.Levels, f.NumLevels
			if f.Levels != nil && len(f.Levels) != f.NumLevels {
				return nil, fmt.Errorf("feature %q: %d levels, num_levels %d", f.Name, len(f.Levels), f.NumLevels)
			}
		default:
			return nil, fmt.Errorf("feature %q: type %q", f.Name, f.Type)
		}
		m.Features = append(m.Features, fi)
	}
	if len(j.Trees)%m.NumClass != 0 {
		return nil, fmt.Errorf("%d trees for %d classes", len(j.Trees), m.NumClass)
	}
	for ti, jt := range j.Trees {
		t := Tree{
			Class: jt.Class, Feature: jt.Feature, Threshold: jt.Threshold, Left: jt.Left, Right: jt.Right,
			Value: jt.Value, Gain: jt.Gain, Hess: jt.Hessian,
		}
		n := len(t.Feature)
		if n == 0 || len(t.Threshold) != n || len(jt.DefaultLeft) != n || len(t.Left) != n || len(t.Right) != n ||
			len(t.Value) != n || len(t.Gain) != n || len(t.Hess) != n {
			return nil, fmt.Errorf("tree %d: node arrays of different lengths", ti)
		}
		if t.Class < 0 || t.Class >= m.NumClass {
			return nil, fmt.Errorf("tree %d: class %d", ti, t.Class)
		}
		t.DefaultLeft = make([]bool, n)
		for i, v := range jt.DefaultLeft {
			t.DefaultLeft[i] = v != 0
		}
		t.Cats = make([][]int32, n)
		for _, c := range jt.Categories {
			if c.Node < 0 || c.Node >= n || t.Feature[c.Node] < 0 || int(t.Feature[c.Node]) >= len(m.Features) ||
				!m.Features[t.Feature[c.Node]].Categorical || t.Cats[c.Node] != nil {
				return nil, fmt.Errorf("tree %d: categories for node %d", ti, c.Node)
			}
			if !slices.IsSorted(c.Codes) || (len(c.Codes) > 0 && c.Codes[0] < 0) {
				return nil, fmt.Errorf("tree %d node %d: category codes must be ascending and not negative", ti, c.Node)
			}
			t.Cats[c.Node] = append([]int32{}, c.Codes...)
		}
		parents := make([]int, n)
		for i := range parents {
			parents[i] = -1
		}
		for i := 0; i < n; i++ {
			f := t.Feature[i]
			if f < 0 {
				if t.Left[i] != -1 || t.Right[i] != -1 {
					return nil, fmt.Errorf("tree %d: leaf %d has children", ti, i)
				}
				continue
			}
			if int(f) >= len(m.Features) {
				return nil, fmt.Errorf("tree %d node %d: feature %d", ti, i, f)
			}
			if m.Features[f].Categorical {
				if t.Cats[i] == nil {
					t.Cats[i] = []int32{}
				}
			} else if math.IsNaN(float64(t.Threshold[i])) {
				return nil, fmt.Errorf("tree %d node %d: threshold NaN", ti, i)
			}
			for _, c := range []int32{t.Left[i], t.Right[i]} {
				if int(c) <= i || int(c) >= n || parents[c] >= 0 {
					return nil, fmt.Errorf("tree %d node %d: child %d", ti, i, c)
				}
				parents[c] = i
			}
		}
		for i := 1; i < n; i++ {
			if parents[i] < 0 {
				return nil, fmt.Errorf("tree %d: node %d is unreachable", ti, i)
			}
		}
		m.trees = append(m.trees, t)
	}
	if m.BestIteration != len(m.trees)/m.NumClass-1 {
		return nil, fmt.Errorf("best iteration %d with %d rounds of trees", m.BestIteration, len(m.trees)/m.NumClass)
	}
	m.prepare()
	return m, nil
}
