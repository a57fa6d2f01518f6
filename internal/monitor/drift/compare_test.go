package drift

import (
	"errors"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
)

func tableProfiles(t *testing.T) (dataset.Profile, dataset.Profile) {
	t.Helper()
	mk := func(shift float64, yes int) *dataset.Frame {
		n := 1000
		x, b, c, label := make([]float64, n), make([]string, n), make([]string, n), make([]float64, n)
		for i := range n {
			x[i] = float64(i%100) + shift
			b[i] = []string{"no", "yes"}[min(i%100/yes, 1)]
			c[i] = []string{"a", "b", "c", "d"}[i%4]
			label[i] = float64(min(i%100/yes, 1))
		}
		f, err := dataset.NewFrame(dataset.NewNumeric("x", x), dataset.NewCategorical("b", b),
			dataset.NewCategorical("c", c), dataset.NewNumeric("label", label))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	return profiles(t, mk(0, 50), mk(10, 30))
}

func TestCompare(t *testing.T) {
	pb, pc := tableProfiles(t)
	col := func(p dataset.Profile, name string) dataset.ColumnProfile { c, _ := p.Col(name); return *c }
	tests := []struct {
		name    string
		feature string
		m       Metric
		drifted bool
		err     bool
	}{
		{"default numeric drifts", "x", DefaultNumeric(), true, false},
		{"KS drifts", "x", Metric{Name: MetricKS, Threshold: 0.05}, true, false},
		{"categorical unchanged", "c", DefaultCategorical(), false, false},
		{"JS base 2 unchanged", "c", Metric{Name: MetricJensenShannon, Threshold: 0.1, LogBase: 2}, false, false},
		{"Z on two categories", "b", Metric{Name: MetricZ, Threshold: 0.05}, true, false},
		{"Z on numeric 0/1", "label", Metric{Name: MetricZ, Threshold: 0.05}, true, false},
		{"PSI on categories", "b", Metric{Name: MetricPSI, Threshold: 0.1}, true, false},
		{"Wasserstein on categories", "c", DefaultNumeric(), false, true},
		{"Z on four categories", "c", Metric{Name: MetricZ, Threshold: 0.05}, false, true},
		{"Z on a continuous column", "x", Metric{Name: MetricZ, Threshold: 0.05}, false, true},
		{"unknown binning", "c", Metric{Name: MetricPSI, Threshold: 0.1, Binning: "sturges"}, false, true},
		{"unknown metric", "x", Metric{Name: "hellinger"}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compare(col(pb, tc.feature), col(pc, tc.feature), tc.m)
			var fe *ferry.Error
			if tc.err {
				if !errors.As(err, &fe) || fe.Code != ferry.EINVALID {
					t.Fatalf("error %v, want EINVALID", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Drifted != tc.drifted || (r.PValue != nil) != tc.m.IsTest() {
				t.Errorf("result %+v, want drifted %v", r, tc.drifted)
			}
		})
	}
}

func TestCompareProfiles(t *testing.T) {
	pb, pc := tableProfiles(t)
	pc.Columns = pc.Columns[:3] // "label" is absent from the current data
	cfg := Config{
		Categorical: Metric{Name: MetricChiSquare, Threshold: 0.05},
		Features:    map[string]Metric{"x": {Name: MetricKS, Threshold: 0.05}},
		Bonferroni:  true,
	}
	rs, err := CompareProfiles(pb, pc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Fatalf("%d results, want 4", len(rs))
	}
	for _, r := range rs[:3] {
		if r.Threshold != 0.05/3 || r.Metric.Threshold != 0.05 {
			t.Errorf("%s: threshold %g (metric %g), want Bonferroni's 0.05/3 over the 3 tests", r.Feature, r.Threshold, r.Metric.Threshold)
		}
	}
	if last := rs[3]; last.Feature != "label" || last.Note == "" || last.Drifted || last.Metric.Name != MetricWassersteinNorm {
		t.Errorf("absent feature: %+v", last)
	}
	empty := dataset.Profile{Columns: []dataset.ColumnProfile{{Name: "x", Kind: dataset.KindNumeric, Numeric: &dataset.NumericProfile{}}}}
	r, err := Compare(pb.Columns[0], empty.Columns[0], DefaultNumeric())
	if err != nil || r.Note == "" || r.Drifted {
		t.Errorf("no current values: %+v, %v", r, err)
	}
}
