package native

import (
	"fmt"
	"math"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
)

// FeatureSpec derives one model feature from a raw input column. It is saved
// in the model, so that serving needs only the raw columns.
type FeatureSpec struct {
	Name   string   `json:"name"`           // the feature's name, e.g. "date_month"
	Column string   `json:"column"`         // the raw input column
	Part   string   `json:"part,omitempty"` // for a timestamp column: month, weekday, hour, …
	Kind   string   `json:"kind"`           // numeric or categorical
	Levels []string `json:"levels,omitempty"`
}

// ParseFeatures turns a spec's feature list ("distance", "date:month") into
// feature specs, reading kinds and levels from the training frame f. An empty
// list means every column but the target; timestamp columns then give their
// month, weekday and hour.
func ParseFeatures(f *dataset.Frame, names []string, target string) ([]FeatureSpec, error) {
	if len(names) == 0 {
		for _, c := range f.Columns {
			if c.Name == target {
				continue
			}
			if c.Kind == dataset.KindTimestamp {
				names = append(names, c.Name+":month", c.Name+":weekday", c.Name+":hour")
				continue
			}
			names = append(names, c.Name)
		}
	}
	specs := make([]FeatureSpec, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		colName, part, _ := strings.Cut(n, ":")
		if colName == target {
			return nil, ferry.Errorf(ferry.EINVALID, "feature %q is the target column; a model cannot use its own label", n)
		}
		col, err := f.Col(colName)
		if err != nil {
			return nil, err
		}
		s := FeatureSpec{Name: colName, Column: colName}
		switch {
		case part != "":
			if col.Kind != dataset.KindTimestamp {
				return nil, ferry.Errorf(ferry.EINVALID, "feature %q: column %q is %s, and only timestamp columns have parts", n, colName, col.Kind)
			}
			s.Name, s.Part, s.Kind = colName+"_"+part, part, string(dataset.KindNumeric)
			if _, err := dataset.TimeParts(col, part); err != nil {
				return nil, err
			}
		case col.Kind == dataset.KindTimestamp:
			return nil, ferry.Errorf(ferry.EINVALID, "feature %q is a timestamp; name a part of it, e.g. %[1]s:month, %[1]s:weekday or %[1]s:hour", n)
		case col.Kind == dataset.KindCategorical:
			s.Kind, s.Levels = string(dataset.KindCategorical), append([]string(nil), col.Levels...)
		default:
			s.Kind = string(dataset.KindNumeric)
		}
		if seen[s.Name] {
			return nil, ferry.Errorf(ferry.EINVALID, "feature %q is listed twice", s.Name)
		}
		seen[s.Name] = true
		specs = append(specs, s)
	}
	return specs, nil
}

// Inputs returns the raw columns the features read, with their kinds, in
// first-use order: the model's input signature.
func Inputs(specs []FeatureSpec) []dataset.ColumnSchema {
	var out []dataset.ColumnSchema
	seen := map[string]bool{}
	for _, s := range specs {
		if seen[s.Column] {
			continue
		}
		seen[s.Column] = true
		kind := dataset.Kind(s.Kind)
		if s.Part != "" {
			kind = dataset.KindTimestamp
		}
		out = append(out, dataset.ColumnSchema{Name: s.Column, Kind: kind})
	}
	return out
}

// BuildFeatures computes the features of every row of f. Categories are coded
// by the spec's levels; a category not seen in training is missing.
func BuildFeatures(f *dataset.Frame, specs []FeatureSpec) ([]Feature, error) {
	return buildFeatures(f, specs, indexLevels(specs))
}

// levelIndexes holds, per feature spec, the map from category to code (nil
// for numeric features).
type levelIndexes []map[string]int32

func indexLevels(specs []FeatureSpec) levelIndexes {
	idx := make(levelIndexes, len(specs))
	for i, s := range specs {
		if s.Kind == string(dataset.KindCategorical) {
			idx[i] = levelIndex(s.Levels)
		}
	}
	return idx
}

func buildFeatures(f *dataset.Frame, specs []FeatureSpec, idx levelIndexes) ([]Feature, error) {
	out := make([]Feature, len(specs))
	for i, s := range specs {
		col, err := f.Col(s.Column)
		if err != nil {
			return nil, err
		}
		feat := Feature{Name: s.Name}
		switch {
		case s.Part != "":
			if col.Kind != dataset.KindTimestamp {
				return nil, ferry.Errorf(ferry.EINVALID, "column %q must be a timestamp (feature %q), got %s", s.Column, s.Name, col.Kind)
			}
			parts, err := dataset.TimeParts(col, s.Part)
			if err != nil {
				return nil, err
			}
			feat.Num = parts[0].Num
		case s.Kind == string(dataset.KindCategorical):
			feat.Levels = s.Levels
			feat.Codes, err = recode(col, s, idx[i])
			if err != nil {
				return nil, err
			}
		default:
			if col.Kind != dataset.KindNumeric {
				return nil, ferry.Errorf(ferry.EINVALID, "column %q must be numeric (feature %q), got %s", s.Column, s.Name, col.Kind)
			}
			feat.Num = col.Num
		}
		out[i] = feat
	}
	return out, nil
}

// recode maps a categorical column's values to the codes of the spec's levels.
func recode(col *dataset.Column, s FeatureSpec, idx map[string]int32) ([]int32, error) {
	if col.Kind != dataset.KindCategorical {
		if col.Kind != dataset.KindNumeric {
			return nil, ferry.Errorf(ferry.EINVALID, "column %q must be categorical (feature %q), got %s", s.Column, s.Name, col.Kind)
		}
		// A categorical column may arrive as numbers (e.g. from JSON): use
		// their text.
		codes := make([]int32, len(col.Num))
		for i, v := range col.Num {
			codes[i] = lookupLevel(idx, formatLevel(v))
		}
		return codes, nil
	}
	mapping := make([]int32, len(col.Levels))
	for j, l := range col.Levels {
		mapping[j] = lookupLevel(idx, l)
	}
	codes := make([]int32, len(col.Codes))
	for i, c := range col.Codes {
		codes[i] = -1
		if c >= 0 {
			codes[i] = mapping[c]
		}
	}
	return codes, nil
}

func levelIndex(levels []string) map[string]int32 {
	idx := make(map[string]int32, len(levels))
	for j, l := range levels {
		idx[l] = int32(j)
	}
	return idx
}

func lookupLevel(idx map[string]int32, v string) int32 {
	if c, ok := idx[v]; ok {
		return c
	}
	return -1
}

func formatLevel(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return fmt.Sprint(v)
}

// Encoder turns features into dense, standardised rows for linear models:
// numeric features are standardised with missing values at the mean;
// categorical features are one-hot encoded, unseen or missing as all zeros.
type Encoder struct {
	Mean   []float64 `json:"mean"`
	Std    []float64 `json:"std"`
	Levels []int     `json:"levels"` // per feature: 0 for numeric, the number of categories for categorical
}

// FitEncoder learns an encoder from training features.
func FitEncoder(feats []Feature) *Encoder {
	e := &Encoder{Mean: make([]float64, len(feats)), Std: make([]float64, len(feats)), Levels: make([]int, len(feats))}
	for j, f := range feats {
		if f.Codes != nil {
			e.Levels[j] = len(f.Levels)
			continue
		}
		var n, sum, sq float64
		for _, v := range f.Num {
			if !math.IsNaN(v) {
				n++
				sum += v
			}
		}
		if n > 0 {
			e.Mean[j] = sum / n
		}
		for _, v := range f.Num {
			if !math.IsNaN(v) {
				sq += (v - e.Mean[j]) * (v - e.Mean[j])
			}
		}
		e.Std[j] = 1
		if n > 0 && sq > 0 {
			e.Std[j] = math.Sqrt(sq / n)
		}
	}
	return e
}

// Width is the length of an encoded row.
func (e *Encoder) Width() int {
	w := 0
	for _, l := range e.Levels {
		w += max(l, 1)
	}
	return w
}

// Encode returns the dense rows of feats.
func (e *Encoder) Encode(feats []Feature) [][]float64 {
	n := 0
	if len(feats) > 0 {
		n = feats[0].Len()
	}
	w := e.Width()
	flat := make([]float64, n*w)
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = flat[i*w : (i+1)*w : (i+1)*w]
	}
	off := 0
	for j, f := range feats {
		if e.Levels[j] > 0 {
			for i, c := range f.Codes {
				if c >= 0 && int(c) < e.Levels[j] {
					rows[i][off+int(c)] = 1
				}
			}
			off += e.Levels[j]
			continue
		}
		for i, v := range f.Num {
			if !math.IsNaN(v) {
				rows[i][off] = (v - e.Mean[j]) / e.Std[j]
			}
		}
		off++
	}
	return rows
}
