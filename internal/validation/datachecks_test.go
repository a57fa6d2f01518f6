package validation

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
)

// trainingFrame is the training data of the data-check tests: a categorical
// colour with 3 values, a numeric distance in [10, 109] never missing, an
// airport with 60 values (more than the profile lists), a timestamp and the
// label.
func trainingFrame(t *testing.T, n int) *dataset.Frame {
	t.Helper()
	colors := []string{"red", "green", "blue"}
	var color, airport []string
	var dist, label []float64
	var when []time.Time
	for i := range n {
		color = append(color, colors[i%3])
		airport = append(airport, fmt.Sprintf("A%02d", i%60))
		dist = append(dist, float64(10+i%100))
		label = append(label, float64(i%2))
		when = append(when, time.Date(2001, 1, 1+i%28, 0, 0, 0, 0, time.UTC))
	}
	f, err := dataset.NewFrame(dataset.NewCategorical("color", color), dataset.NewNumeric("distance", dist),
		dataset.NewCategorical("airport", airport), dataset.NewTimestamp("when", when), dataset.NewNumeric("label", label))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var dataSignature = &model.Signature{Inputs: []model.Spec{
	{Name: "color", Type: model.TypeString, Required: true},
	{Name: "distance", Type: model.TypeDouble, Required: true},
	{Name: "airport", Type: model.TypeString, Required: true},
	{Name: "when", Type: model.TypeDatetime, Required: true},
}}

// edit returns a copy of f with column name replaced by what change returns.
func edit(t *testing.T, f *dataset.Frame, name string, change func(c *dataset.Column) *dataset.Column) *dataset.Frame {
	t.Helper()
	cols := make([]*dataset.Column, len(f.Columns))
	for i, c := range f.Columns {
		cols[i] = c
		if c.Name == name {
			cols[i] = change(c)
		}
	}
	out, err := dataset.NewFrame(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckData(t *testing.T) {
	training := trainingFrame(t, 600)
	profile := training.Profile()
	eval := training.Take(func() []int {
		rows := make([]int, 300)
		for i := range rows {
			rows[i] = 2 * i
		}
		return rows
	}())
	all := &DataPolicy{MaxMissingRateIncrease: ptr(0.1), MaxOutOfRangeRate: ptr(0.05), FailOnUnseenCategories: true}
	tests := []struct {
		name    string
		data    *dataset.Frame
		sig     *model.Signature
		policy  *DataPolicy
		fail    string   // "check/column" of the one failed check, "" for none
		msg     []string // substrings of its message
		skipped []string // "check/column" of skipped checks
	}{
		{
			name: "matching data passes", data: eval, sig: dataSignature, policy: all,
		},
		{
			name: "renamed column", sig: dataSignature, policy: all,
			data: renamed(t, eval, "color", "colour"),
			fail: "schema/color", msg: []string{"column 'color' is missing", "categorical (string in the signature)", "'colour'", "renamed?"},
		},
		{
			name: "column of the wrong type", sig: dataSignature, policy: all,
			data: edit(t, eval, "distance", func(c *dataset.Column) *dataset.Column {
				s := make([]string, c.Len())
				for i, v := range c.Num {
					s[i] = fmt.Sprint(v) + " mi"
				}
				return dataset.NewCategorical("distance", s)
			}),
			fail: "schema/distance", msg: []string{"column 'distance' is categorical in the data", "expects it numeric (double in the signature)"},
		},
		{
			name: "30% missing where training had none", sig: dataSignature, policy: all,
			data: edit(t, eval, "distance", func(c *dataset.Column) *dataset.Column {
				v := append([]float64(nil), c.Num...)
				for i := range v {
					if i%10 < 3 {
						v[i] = math.NaN()
					}
				}
				return dataset.NewNumeric("distance", v)
			}),
			fail: "missing_rate/distance", msg: []string{"column 'distance' is missing in 30.0% of rows (90 of 300), 0.0% in training", "up 30.0 points", "10.0 allowed"},
		},
		{
			name: "values out of the trained range", sig: dataSignature, policy: all,
			data: edit(t, eval, "distance", func(c *dataset.Column) *dataset.Column {
				v := append([]float64(nil), c.Num...)
				for i := 0; i < len(v); i += 10 {
					v[i] = 5000
				}
				v[1] = math.Inf(-1)
				return dataset.NewNumeric("distance", v)
			}),
			fail: "range/distance", msg: []string{"column 'distance' has 10.3% of its values (31 of 300) outside the trained range [10, 109]"},
		},
		{
			name: "unseen category", sig: dataSignature, policy: all,
			data: edit(t, eval, "color", func(c *dataset.Column) *dataset.Column {
				s := make([]string, c.Len())
				for i := range s {
					s[i] = c.String(i)
				}
				s[0], s[7], s[9] = "purple", "purple", "teal"
				return dataset.NewCategorical("color", s)
			}),
			fail: "unseen_categories/color", msg: []string{"column 'color' has 2 categories not seen in training, in 3 rows", `"purple" (2 rows), "teal" (1 rows)`},
		},
		{
			name: "unseen category only reported", sig: dataSignature,
			policy: &DataPolicy{},
			data: edit(t, eval, "color", func(c *dataset.Column) *dataset.Column {
				return dataset.NewCategorical("color", append([]string{"purple"}, make([]string, c.Len()-1)...))
			}),
		},
		{
			name: "without a signature the profile's columns are expected", sig: nil, policy: all,
			data: renamed(t, eval, "when", "date"),
			fail: "schema/when", msg: []string{"column 'when' is missing from the data; the model expects it timestamp"},
		},
		{
			name: "an optional column may be absent", policy: all,
			sig:  &model.Signature{Inputs: []model.Spec{{Name: "color", Type: model.TypeString, Required: true}, {Name: "extra", Type: model.TypeDouble}}},
			data: eval,
		},
		{
			name: "tensor signature: schema not checked", policy: all,
			sig:     &model.Signature{Inputs: []model.Spec{{Type: model.TypeTensor, IsTensor: true, DType: "float32", Shape: []int64{-1, 4}}}},
			data:    eval,
			skipped: []string{"schema/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckData(tt.data, tt.sig, &profile, "label", tt.policy)
			var fails, skips []string
			for _, c := range got {
				key := c.Name + "/" + c.Column
				if !c.Passed {
					fails = append(fails, key)
					if key == tt.fail {
						for _, m := range tt.msg {
							if !strings.Contains(c.Message, m) {
								t.Errorf("message %q lacks %q", c.Message, m)
							}
						}
					}
				}
				if c.Skipped && key != "unseen_categories/airport" { // always: see "the top-K limit is explained"
					skips = append(skips, key)
				}
				if c.Message == "" {
					t.Errorf("%s has no message", key)
				}
			}
			want := []string{}
			if tt.fail != "" {
				want = []string{tt.fail}
			}
			if fmt.Sprint(fails) != fmt.Sprint(want) {
				t.Errorf("failed checks %v, want %v; all: %+v", fails, want, got)
			}
			if fmt.Sprint(skips) != fmt.Sprint(append([]string{}, tt.skipped...)) {
				t.Errorf("skipped checks %v, want %v", skips, tt.skipped)
			}
		})
	}

	t.Run("the top-K limit is explained", func(t *testing.T) {
		got := CheckData(eval, dataSignature, &profile, "label", all)
		c := findCheckColumn(got, CheckUnseenCategories, "airport")
		if c == nil || !strings.Contains(c.Message, "only the 50 most frequent of its 60 categories") {
			t.Fatalf("airport check %+v", c)
		}
	})
	t.Run("no profile: profile checks skipped", func(t *testing.T) {
		got := CheckData(eval, dataSignature, nil, "label", all)
		if len(got) != 4 || !got[0].Passed || got[0].Skipped || !got[1].Skipped || !got[2].Skipped || !got[3].Skipped {
			t.Fatalf("checks %+v", got)
		}
	})
	t.Run("no policy: schema only", func(t *testing.T) {
		got := CheckData(eval, dataSignature, &profile, "label", nil)
		if len(got) != 1 || got[0].Name != CheckSchema || !got[0].Passed {
			t.Fatalf("checks %+v", got)
		}
	})
}

func findCheckColumn(cs []CheckResult, name, column string) *CheckResult {
	for i := range cs {
		if cs[i].Name == name && cs[i].Column == column {
			return &cs[i]
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
