package dataset

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleFrame is a small frame with one column of each kind.
func sampleFrame(t *testing.T) *Frame {
	t.Helper()
	f, err := NewFrame(
		NewNumeric("x", []float64{1, math.NaN(), 3.5, -2}),
		NewCategorical("c", []string{"b", "a", "", "b"}),
		NewTimestamp("t", []time.Time{
			time.Date(2001, 1, 7, 13, 0, 0, 0, time.UTC), // a Sunday
			{},
			time.Date(2001, 6, 30, 23, 59, 0, 0, time.UTC),
			time.Date(2024, 2, 29, 0, 0, 0, 0, time.FixedZone("x", 3600)),
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFrameAccess(t *testing.T) {
	f := sampleFrame(t)
	if f.Len() != 4 {
		t.Fatalf("Len = %d", f.Len())
	}
	tests := []struct {
		col     string
		strs    []string
		missing []bool
	}{
		{"x", []string{"1", "NA", "3.5", "-2"}, []bool{false, true, false, false}},
		{"c", []string{"b", "a", "NA", "b"}, []bool{false, false, true, false}},
		{"t", []string{"2001-01-07T13:00:00Z", "NA", "2001-06-30T23:59:00Z", "2024-02-28T23:00:00Z"}, []bool{false, true, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.col, func(t *testing.T) {
			c, err := f.Col(tt.col)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.strs {
				if c.String(i) != tt.strs[i] || c.IsMissing(i) != tt.missing[i] {
					t.Errorf("row %d: %q missing %v, want %q %v", i, c.String(i), c.IsMissing(i), tt.strs[i], tt.missing[i])
				}
			}
		})
	}
	t.Run("levels in first-seen order", func(t *testing.T) {
		c, _ := f.Col("c")
		if !slices.Equal(c.Levels, []string{"b", "a"}) {
			t.Fatalf("levels %q", c.Levels)
		}
	})
	t.Run("unknown column names the ones there are", func(t *testing.T) {
		_, err := f.Col("y")
		wantInvalid(t, err, "no column named 'y'", "x, c, t")
	})
}

func TestFrameSelectTake(t *testing.T) {
	f := sampleFrame(t)
	tests := []struct {
		name    string
		names   []string
		want    string
		wantErr string
	}{
		{"reorder", []string{"t", "x"}, "t,x", ""},
		{"one", []string{"c"}, "c", ""},
		{"unknown", []string{"x", "nope"}, "", "no column named 'nope'"},
		{"twice", []string{"x", "x"}, "", "selected twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := f.Select(tt.names...)
			if tt.wantErr != "" {
				wantInvalid(t, err, tt.wantErr)
				return
			}
			if err != nil || strings.Join(s.Names(), ",") != tt.want {
				t.Fatalf("Select = %v, %v", s, err)
			}
		})
	}
	t.Run("take gathers rows", func(t *testing.T) {
		g := f.Take([]int{3, 0, 0})
		if err := g.Validate(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range g.Columns {
			got = append(got, strings.Join(values(c), " "))
		}
		want := []string{"-2 1 1", "b b b", "2024-02-28T23:00:00Z 2001-01-07T13:00:00Z 2001-01-07T13:00:00Z"}
		if !slices.Equal(got, want) {
			t.Fatalf("Take = %q, want %q", got, want)
		}
	})
}

func TestNewFrameInvalid(t *testing.T) {
	tests := []struct {
		name string
		cols []*Column
		want string
	}{
		{"lengths differ", []*Column{NewNumeric("a", []float64{1}), NewNumeric("b", []float64{1, 2})}, "has 2 rows"},
		{"same name", []*Column{NewNumeric("a", nil), NewNumeric("a", nil)}, "two columns are named 'a'"},
		{"no name", []*Column{NewNumeric("", nil)}, "no name"},
		{"bad kind", []*Column{{Name: "a", Kind: "text"}}, "unknown kind"},
		{"code out of range", []*Column{{Name: "a", Kind: KindCategorical, Codes: []int32{2}, Levels: []string{"x"}}}, "outside its 1 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFrame(tt.cols...)
			wantInvalid(t, err, tt.want)
		})
	}
}

func TestTimeParts(t *testing.T) {
	f := sampleFrame(t)
	tc, _ := f.Col("t")
	tests := []struct {
		part string
		want []float64
	}{
		{PartMonth, []float64{1, math.NaN(), 6, 2}},
		{PartWeekday, []float64{0, math.NaN(), 6, 3}},
		{PartHour, []float64{13, math.NaN(), 23, 23}},
		{PartDay, []float64{7, math.NaN(), 30, 28}},
		{PartYear, []float64{2001, math.NaN(), 2001, 2024}},
		{PartMinute, []float64{0, math.NaN(), 59, 0}},
		{PartYearDay, []float64{7, math.NaN(), 181, 59}},
	}
	for _, tt := range tests {
		t.Run(tt.part, func(t *testing.T) {
			cols, err := TimeParts(tc, tt.part)
			if err != nil {
				t.Fatal(err)
			}
			c := cols[0]
			if c.Name != "t_"+tt.part || c.Kind != KindNumeric {
				t.Errorf("column %s of kind %s", c.Name, c.Kind)
			}
			for i, w := range tt.want {
				if !(c.Num[i] == w || math.IsNaN(c.Num[i]) && math.IsNaN(w)) {
					t.Errorf("row %d = %v, want %v", i, c.Num[i], w)
				}
			}
		})
	}
	t.Run("default parts", func(t *testing.T) {
		cols, err := TimeParts(tc)
		if err != nil || len(cols) != 3 || cols[0].Name != "t_month" || cols[1].Name != "t_weekday" || cols[2].Name != "t_hour" {
			t.Fatalf("TimeParts() = %v, %v", cols, err)
		}
	})
	t.Run("unknown part", func(t *testing.T) {
		_, err := TimeParts(tc, "fortnight")
		wantInvalid(t, err, "fortnight")
	})
	t.Run("not a timestamp", func(t *testing.T) {
		x, _ := f.Col("x")
		_, err := TimeParts(x, PartMonth)
		wantInvalid(t, err, "column 'x' is numeric")
	})
}
