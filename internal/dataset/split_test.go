package dataset

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestRandomSplit(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		fractions []float64
		sizes     []int
	}{
		{"80/20", 100, []float64{0.8, 0.2}, []int{80, 20}},
		{"weights normalised", 10, []float64{3, 1}, []int{8, 2}},
		{"three ways", 7, []float64{0.5, 0.25, 0.25}, []int{4, 1, 2}},
		{"empty", 0, []float64{0.5, 0.5}, []int{0, 0}},
		{"one part", 5, []float64{1}, []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := RandomSplit(tt.n, tt.fractions, 42)
			var all []int
			for i, p := range parts {
				if len(p) != tt.sizes[i] {
					t.Errorf("part %d has %d rows, want %d", i, len(p), tt.sizes[i])
				}
				if !slices.IsSorted(p) {
					t.Errorf("part %d is not sorted", i)
				}
				all = append(all, p...)
			}
			slices.Sort(all)
			if !slices.Equal(all, rows(0, tt.n)) {
				t.Errorf("parts do not cover every row once")
			}
			if !reflect.DeepEqual(parts, RandomSplit(tt.n, tt.fractions, 42)) {
				t.Errorf("same seed, different split")
			}
		})
	}
	t.Run("seeds differ", func(t *testing.T) {
		if reflect.DeepEqual(RandomSplit(1000, []float64{0.5, 0.5}, 1), RandomSplit(1000, []float64{0.5, 0.5}, 2)) {
			t.Fatal("seeds 1 and 2 give the same split")
		}
	})
	t.Run("pinned", func(t *testing.T) {
		// Guards against an accidental change of algorithm, which would
		// silently change every recorded split.
		got := fmt.Sprint(RandomSplit(10, []float64{0.7, 0.3}, 7))
		const want = "[[0 1 3 4 7 8 9] [2 5 6]]"
		if got != want {
			t.Fatalf("RandomSplit(10, 0.7/0.3, 7) = %s, want %s", got, want)
		}
	})
	for _, bad := range [][]float64{{-1, 2}, {0, 0}, {}} {
		t.Run(fmt.Sprintf("panics on %v", bad), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			RandomSplit(10, bad, 1)
		})
	}
}

func TestTimeSplit(t *testing.T) {
	c := NewTimestamp("t", []time.Time{
		time.Date(2001, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
		time.Date(2001, 2, 1, 0, 0, 0, 0, time.UTC),
	})
	tests := []struct {
		name          string
		cut           time.Time
		before, after []int
	}{
		{"middle", time.Date(2001, 2, 1, 0, 0, 0, 0, time.UTC), []int{1}, []int{0, 3}},
		{"before all", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil, []int{0, 1, 3}},
		{"after all", time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC), []int{0, 1, 3}, nil},
		{"another zone", time.Date(2001, 2, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), []int{1}, []int{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, a := TimeSplit(c, tt.cut)
			if !slices.Equal(b, tt.before) || !slices.Equal(a, tt.after) {
				t.Fatalf("TimeSplit = %v %v, want %v %v", b, a, tt.before, tt.after)
			}
		})
	}
}

func TestGroupSplit(t *testing.T) {
	var ids []string
	for i := range 1000 {
		ids = append(ids, fmt.Sprintf("user%d", i%37))
	}
	tests := []struct {
		name string
		col  *Column
	}{
		{"categorical", NewCategorical("user", ids)},
		{"numeric", NewNumeric("user", func() []float64 {
			out := make([]float64, 1000)
			for i := range out {
				out[i] = float64(i % 37)
			}
			return out
		}())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := GroupSplit(tt.col, 0.3, 9)
			if len(a)+len(b) != 1000 {
				t.Fatalf("%d + %d rows", len(a), len(b))
			}
			if len(a) < 300 || len(a) > 300+28 { // at most one group (≤ 28 rows) over
				t.Errorf("a has %d rows, want about 300", len(a))
			}
			side := map[string]bool{}
			for _, r := range a {
				side[tt.col.String(r)] = true
			}
			for _, r := range b {
				if side[tt.col.String(r)] {
					t.Fatalf("group %s is on both sides", tt.col.String(r))
				}
			}
			a2, b2 := GroupSplit(tt.col, 0.3, 9)
			if !slices.Equal(a, a2) || !slices.Equal(b, b2) {
				t.Errorf("same seed, different split")
			}
			a3, _ := GroupSplit(tt.col, 0.3, 10)
			if slices.Equal(a, a3) {
				t.Errorf("seeds 9 and 10 give the same split")
			}
		})
	}
}
