package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// profileFrame returns n rows of mixed data: a skewed numeric column with
// missing values and ties, a normal one, a categorical one with more than
// TopK categories, and a timestamp.
func profileFrame(n int, seed uint64) *Frame {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float64, n)
	z := make([]float64, n)
	cats := make([]string, n)
	times := make([]time.Time, n)
	t0 := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		switch {
		case i%17 == 0:
			x[i] = math.NaN()
		case i%5 == 0:
			x[i] = 0 // many ties, as in delays
		default:
			x[i] = math.Exp(r.NormFloat64()*2) - 3
		}
		z[i] = 1e6 + r.NormFloat64()
		cats[i] = fmt.Sprintf("k%d", int(math.Abs(r.NormFloat64())*30))
		if i%23 == 0 {
			cats[i] = ""
		}
		times[i] = t0.Add(time.Duration(r.IntN(1e6)) * time.Second)
	}
	f, err := NewFrame(NewNumeric("x", x), NewNumeric("z", z), NewCategorical("c", cats), NewTimestamp("t", times))
	if err != nil {
		panic(err)
	}
	return f
}

func rows(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestProfileDeterministic(t *testing.T) {
	f := profileFrame(5000, 1)
	a, _ := json.Marshal(f.Profile())
	b, _ := json.Marshal(profileFrame(5000, 1).Profile())
	if !bytes.Equal(a, b) {
		t.Fatal("two profiles of the same data encode differently")
	}
	if len(a) > 64<<10 {
		t.Errorf("profile of 4 columns is %d bytes", len(a))
	}
	big, _ := json.Marshal(profileFrame(200000, 2).Profile())
	if len(big) > 64<<10 {
		t.Errorf("profile of 200,000 rows is %d bytes; it should not grow with rows", len(big))
	}
	t.Logf("profile JSON: %d bytes for 5,000 rows, %d for 200,000", len(a), len(big))
}

func TestProfileValues(t *testing.T) {
	f, err := NewFrame(
		NewNumeric("x", []float64{1, 2, 3, 4, math.NaN(), math.Inf(1)}),
		NewCategorical("c", []string{"b", "a", "b", "", "c", "b"}),
		NewTimestamp("t", []time.Time{time.Unix(10, 0), {}, time.Unix(5, 0), time.Unix(7, 0), {}, {}}),
		NewNumeric("empty", []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}),
		NewNumeric("const", []float64{2, 2, 2, 2, 2, 2}),
	)
	if err != nil {
		t.Fatal(err)
	}
	p := f.Profile()
	if _, err := json.Marshal(p); err != nil {
		t.Fatalf("profile does not encode: %v", err)
	}
	x, _ := p.Col("x")
	n := x.Numeric
	tests := []struct {
		name      string
		got, want float64
	}{
		{"count", float64(x.Count), 5},
		{"missing", float64(x.Missing), 1},
		{"infinite", float64(n.Infinite), 1},
		{"min", n.Min, 1},
		{"max", n.Max, 4},
		{"mean", n.Mean, 2.5},
		{"std", n.Std, math.Sqrt(5.0 / 3)},
		{"p50 within alpha", math.Abs(n.Quantiles.P50-2) / 2, 0},
		{"histogram above (inf)", float64(n.Histogram.Above), 1},
		{"first bin", float64(n.Histogram.Counts[0]), 1},
		{"last bin holds the max", float64(n.Histogram.Counts[HistogramBins-1]), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tol := 1e-12
			if tt.name == "p50 within alpha" {
				tol = SketchAlpha
			}
			if math.Abs(tt.got-tt.want) > tol {
				t.Fatalf("%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
	t.Run("categorical", func(t *testing.T) {
		c, _ := p.Col("c")
		cat := c.Categorical
		want := []CategoryCount{{"b", 3}, {"a", 1}, {"c", 1}}
		if c.Count != 5 || c.Missing != 1 || cat.Distinct != 3 || cat.Other != 0 || !slices.Equal(cat.Top, want) {
			t.Fatalf("got %+v %+v", c, cat)
		}
	})
	t.Run("timestamp", func(t *testing.T) {
		c, _ := p.Col("t")
		if c.Count != 3 || !c.Timestamp.Min.Equal(time.Unix(5, 0)) || !c.Timestamp.Max.Equal(time.Unix(10, 0)) {
			t.Fatalf("got %+v %+v", c, c.Timestamp)
		}
	})
	t.Run("all missing", func(t *testing.T) {
		c, _ := p.Col("empty")
		if c.Count != 0 || c.Missing != 6 || c.Numeric.Histogram.Edges != nil {
			t.Fatalf("got %+v %+v", c, c.Numeric)
		}
	})
	t.Run("constant", func(t *testing.T) {
		c, _ := p.Col("const")
		h := c.Numeric.Histogram
		if h.Edges[0] != 1.5 || h.Edges[HistogramBins] != 2.5 || c.Numeric.Std != 0 || c.Numeric.Quantiles.P99 != 2 {
			t.Fatalf("got %+v", c.Numeric)
		}
	})
}

func TestProfileQuantileAccuracy(t *testing.T) {
	f := profileFrame(100000, 3)
	p := f.Profile()
	for _, name := range []string{"x", "z"} {
		col, _ := f.Col(name)
		var sorted []float64
		for _, v := range col.Num {
			if !math.IsNaN(v) {
				sorted = append(sorted, v)
			}
		}
		slices.Sort(sorted)
		cp, _ := p.Col(name)
		for _, q := range []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99} {
			t.Run(fmt.Sprintf("%s p%g", name, q*100), func(t *testing.T) {
				exact := sorted[int(q*float64(len(sorted)-1))]
				got := cp.Numeric.Quantile(q)
				if math.Abs(got-exact) > SketchAlpha*math.Abs(exact)+1e-12 {
					t.Fatalf("quantile %v = %v, exact %v: off by more than %v relative", q, got, exact, SketchAlpha)
				}
			})
		}
	}
}

func TestProfileMerge(t *testing.T) {
	f := profileFrame(30000, 4)
	whole := f.Profile()
	edges := whole.Edges()
	a, err := ProfileWithEdges(f.Take(rows(0, 12345)), edges)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ProfileWithEdges(f.Take(rows(12345, 30000)), edges)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	onEdges, err := ProfileWithEdges(f, edges)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the whole on its own edges is the whole", func(t *testing.T) {
		x, _ := json.Marshal(whole)
		y, _ := json.Marshal(onEdges)
		if !bytes.Equal(x, y) {
			t.Fatal("ProfileWithEdges(f, Profile(f).Edges()) differs from Profile(f)")
		}
	})
	for _, c := range whole.Columns {
		t.Run(c.Name, func(t *testing.T) {
			mc, _ := m.Col(c.Name)
			if mc.Count != c.Count || mc.Missing != c.Missing {
				t.Fatalf("counts %d/%d, want %d/%d", mc.Count, mc.Missing, c.Count, c.Missing)
			}
			switch c.Kind {
			case KindNumeric:
				w, g := c.Numeric, mc.Numeric
				if g.Mean != w.Mean || g.Min != w.Min || g.Max != w.Max || g.Infinite != w.Infinite {
					t.Errorf("mean/min/max %v %v %v, want %v %v %v", g.Mean, g.Min, g.Max, w.Mean, w.Min, w.Max)
				}
				if math.Abs(g.Std-w.Std) > 1e-9*w.Std {
					t.Errorf("std %v, want %v", g.Std, w.Std)
				}
				if !slices.Equal(g.Histogram.Counts, w.Histogram.Counts) || g.Histogram.Below != w.Histogram.Below || g.Histogram.Above != w.Histogram.Above {
					t.Errorf("histogram %+v, want %+v", g.Histogram, w.Histogram)
				}
				if g.Quantiles != w.Quantiles {
					t.Errorf("quantiles %+v, want %+v", g.Quantiles, w.Quantiles)
				}
			case KindCategorical:
				if !slices.Equal(mc.Categorical.Top, c.Categorical.Top) || mc.Categorical.Other != c.Categorical.Other {
					t.Errorf("top %v other %d, want %v other %d", mc.Categorical.Top, mc.Categorical.Other, c.Categorical.Top, c.Categorical.Other)
				}
				if d := math.Abs(float64(mc.Categorical.Distinct - c.Categorical.Distinct)); d > 0.1*float64(c.Categorical.Distinct) {
					t.Errorf("distinct %d, want about %d", mc.Categorical.Distinct, c.Categorical.Distinct)
				}
			case KindTimestamp:
				if *mc.Timestamp != *c.Timestamp {
					t.Errorf("range %+v, want %+v", mc.Timestamp, c.Timestamp)
				}
			}
		})
	}
}

func TestProfileMergeErrors(t *testing.T) {
	f := profileFrame(1000, 5)
	a := f.Take(rows(0, 500)).Profile()
	b := f.Take(rows(500, 1000)).Profile()
	other, _ := NewFrame(NewNumeric("q", []float64{1}))
	tests := []struct {
		name string
		a, b Profile
		want string
	}{
		{"different edges", a, b, "different histogram edges"},
		{"different columns", a, other.Profile(), "cannot merge profiles"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Merge(tt.a, tt.b)
			wantInvalid(t, err, tt.want)
		})
	}
	t.Run("edges of the wrong kind", func(t *testing.T) {
		_, err := ProfileWithEdges(f, Edges{"c": {Bins: []float64{0, 1}}})
		wantInvalid(t, err, "column 'c' is categorical")
	})
	t.Run("unsorted edges", func(t *testing.T) {
		_, err := ProfileWithEdges(f, Edges{"x": {Bins: []float64{1, 0}}})
		wantInvalid(t, err, "increasing")
	})
}

func TestProfileWithBaselineCategories(t *testing.T) {
	base, _ := NewFrame(NewCategorical("c", []string{"a", "a", "b"}))
	now, _ := NewFrame(NewCategorical("c", []string{"b", "z", "z", "z"}))
	p, err := ProfileWithEdges(now, base.Profile().Edges())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.Col("c")
	want := []CategoryCount{{"b", 1}, {"a", 0}}
	if !slices.Equal(c.Categorical.Top, want) || c.Categorical.Other != 3 || c.Categorical.Distinct != 2 {
		t.Fatalf("got %+v", c.Categorical)
	}
}

func BenchmarkProfileFlights(b *testing.B) {
	f := readFlights(b)
	for b.Loop() {
		f.Profile()
	}
}
