package collect

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
)

// TestWindowProfiles: the profiles handed to the sink, merged per window,
// equal the profile of the window's rows computed at once on the
// baseline's edges, although the rows were written in many segments, some
// of which span windows; columns without baseline edges merge too.
func TestWindowProfiles(t *testing.T) {
	store := newStore(t)
	mp := &MemoryProfiles{}
	baseline := dataset.Edges{"age": {Bins: []float64{0, 25, 50, 75, 100}}, "plan": {Categories: []string{"basic", "pro"}}}
	var asked []string
	c := New(store, Options{
		Window: 20 * time.Minute, SegmentRows: 7, Profiles: mp,
		Edges: func(_ context.Context, endpoint, deployment, version string) (dataset.Edges, error) {
			asked = append(asked, endpoint+"/"+deployment+"@"+version)
			return baseline, nil
		},
	})
	tap := c.Tap("churn", "blue", 1, true, true)
	type rows struct {
		age  []float64
		plan []string
	}
	want := map[time.Time]*rows{}
	send := func(at time.Time, base float64) {
		p := pred("r", at, 3, base)
		tap.Collect(context.Background(), p)
		w := at.Truncate(20 * time.Minute)
		if want[w] == nil {
			want[w] = &rows{}
		}
		want[w].age = append(want[w].age, p.Inputs[0].FP64...)
		want[w].plan = append(want[w].plan, p.Inputs[1].Str...)
	}
	for i := range 20 {
		send(t0.Add(time.Duration(i)*2*time.Minute), float64(i*5%90))
	}
	for i := range 10 {
		send(t0.Add(45*time.Minute+time.Duration(i)*2*time.Minute), float64(100-i))
	}
	closeC(t, c)
	if len(asked) != 1 || asked[0] != "churn/blue@3" {
		t.Errorf("baseline asked for %v, want once for churn/blue@3", asked)
	}

	var starts []time.Time
	for _, k := range mp.Windows() {
		starts = append(starts, k.Start)
	}
	wantStarts := []time.Time{t0.Add(-15 * time.Minute), t0.Add(5 * time.Minute), t0.Add(25 * time.Minute), t0.Add(45 * time.Minute)}
	if !slices.EqualFunc(starts, wantStarts, time.Time.Equal) {
		t.Fatalf("windows %v, want %v", starts, wantStarts)
	}
	for w, r := range want {
		got, ok := mp.Profile("churn", "blue", w)
		if !ok {
			t.Fatalf("no profile for %v", w)
		}
		f, err := dataset.NewFrame(dataset.NewNumeric("age", r.age), dataset.NewCategorical("plan", r.plan))
		if err != nil {
			t.Fatal(err)
		}
		exp, err := dataset.ProfileWithEdges(f, baseline)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rows != exp.Rows || len(got.Columns) != 7 {
			t.Errorf("%v: %d rows, %d columns; want %d rows, 7 columns", w, got.Rows, len(got.Columns), exp.Rows)
		}
		ga, _ := got.Col("age")
		ea, _ := exp.Col("age")
		if ga.Count != ea.Count || ga.Missing != ea.Missing || !slices.Equal(ga.Numeric.Histogram.Counts, ea.Numeric.Histogram.Counts) ||
			ga.Numeric.Histogram.Above != ea.Numeric.Histogram.Above || ga.Numeric.Min != ea.Numeric.Min || ga.Numeric.Max != ea.Numeric.Max ||
			math.Abs(ga.Numeric.Mean-ea.Numeric.Mean) > 1e-12 || math.Abs(ga.Numeric.Std-ea.Numeric.Std) > 1e-9 {
			t.Errorf("%v: age\n got %+v %+v\nwant %+v %+v", w, *ga, *ga.Numeric, *ea, *ea.Numeric)
		}
		gp, _ := got.Col("plan")
		ep, _ := exp.Col("plan")
		if !slices.Equal(gp.Categorical.Top, ep.Categorical.Top) || gp.Categorical.Other != ep.Categorical.Other {
			t.Errorf("%v: plan %+v, want %+v", w, *gp.Categorical, *ep.Categorical)
		}
		if gl, _ := got.Col("probabilities_yes"); gl == nil || gl.Count != exp.Rows || gl.Numeric.Mean != 0.75 {
			t.Errorf("%v: probabilities_yes %+v", w, gl)
		}
	}
}

// TestMemoryProfilesRefusesMismatch: deltas that cannot merge (other
// edges) are refused, and the stored profile is kept.
func TestMemoryProfilesRefusesMismatch(t *testing.T) {
	mp := &MemoryProfiles{}
	f1, _ := dataset.NewFrame(dataset.NewNumeric("x", []float64{1, 2, 3}))
	f2, _ := dataset.NewFrame(dataset.NewNumeric("x", []float64{10, 20, 30}))
	if err := mp.PutProfile(context.Background(), "e", "d", t0, f1.Profile()); err != nil {
		t.Fatal(err)
	}
	if err := mp.PutProfile(context.Background(), "e", "d", t0, f2.Profile()); err == nil {
		t.Error("merged profiles on different edges")
	}
	if p, _ := mp.Profile("e", "d", t0); p.Rows != 3 {
		t.Errorf("stored profile has %d rows, want 3", p.Rows)
	}
}
