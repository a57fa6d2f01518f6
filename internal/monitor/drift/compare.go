package drift

import (
	"math"
	"sort"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
)

// MetricName names a drift metric.
type MetricName string

// The metrics. Distances drift when the score is at least the threshold;
// tests (KS, ChiSquare, Z) drift when the p-value is below it.
const (
	MetricWassersteinNorm MetricName = "wasserstein_norm" // numeric; Wasserstein / baseline σ (Evidently)
	MetricWasserstein     MetricName = "wasserstein"      // numeric; in the column's units
	MetricJensenShannon   MetricName = "jensen_shannon"   // numeric or categorical; a distance in [0, 1] for base 2
	MetricPSI             MetricName = "psi"              // numeric or categorical (Evidently's zero fill)
	MetricKS              MetricName = "ks"               // numeric; two-sample Kolmogorov–Smirnov test
	MetricChiSquare       MetricName = "chi_square"       // numeric or categorical; current vs scaled baseline counts
	MetricZ               MetricName = "z"                // binary (two categories, or numeric 0/1); Z-test of proportions
)

// BinningBaseline is the one binning available from profiles: a numeric
// column's histogram on the baseline's edges with one bin below and one
// above them, a categorical column's baseline categories plus "other".
const BinningBaseline = "baseline"

// Metric says how to measure drift of one feature and when it is drift. The
// threshold, binning and log base are stored with it because vendors differ
// (Evidently's Jensen–Shannon uses base e, Azure ML's base 2).
type Metric struct {
	Name      MetricName `json:"name" yaml:"name"`
	Threshold float64    `json:"threshold" yaml:"threshold"`
	// Binning of the binned metrics (JS, PSI, chi-square): BinningBaseline,
	// also when empty.
	Binning string `json:"binning,omitempty" yaml:"binning,omitempty"`
	// LogBase of Jensen–Shannon: 2, or 0 for e.
	LogBase float64 `json:"log_base,omitempty" yaml:"log_base,omitempty"`
}

// IsTest reports whether m is a statistical test, whose Threshold is a
// significance level compared with a p-value.
func (m Metric) IsTest() bool {
	return m.Name == MetricKS || m.Name == MetricChiSquare || m.Name == MetricZ
}

// DefaultNumeric is the metric of numeric features, as Evidently's and Azure
// ML's default: drift at a normalized Wasserstein distance of 0.1.
func DefaultNumeric() Metric { return Metric{Name: MetricWassersteinNorm, Threshold: 0.1} }

// DefaultCategorical is the metric of categorical features, as Evidently's
// and Azure ML's default: drift at a Jensen–Shannon distance of 0.1 (base e,
// as Evidently; Azure ML uses base 2).
func DefaultCategorical() Metric {
	return Metric{Name: MetricJensenShannon, Threshold: 0.1, Binning: BinningBaseline}
}

// Result is the drift verdict of one feature.
type Result struct {
	Feature string `json:"feature"`
	Metric  Metric `json:"metric"`
	// Score is the distance, or for a test its statistic.
	Score float64 `json:"score"`
	// PValue is set for tests only.
	PValue *float64 `json:"p_value,omitempty"`
	// Threshold is the threshold applied: Metric.Threshold, divided by the
	// number of tests under a Bonferroni correction.
	Threshold float64 `json:"threshold"`
	Drifted   bool    `json:"drifted"`
	// Baseline and Current count the values compared (finite values for
	// numeric columns, present values for categorical ones).
	Baseline int64 `json:"baseline"`
	Current  int64 `json:"current"`
	// Note says why a feature has no verdict (for example no current data);
	// Score is then 0 and Drifted false.
	Note string `json:"note,omitempty"`
}

// Compare measures the drift of one feature from its baseline and current
// profiles with metric m. The current profile of a numeric column must be on
// the baseline's histogram edges for the binned metrics
// (dataset.ProfileWithEdges). It fails with EINVALID when the metric does not
// fit the column (for example Wasserstein on a categorical column, Z on a
// column that is not binary) or the two profiles are of different kinds. A
// side without values gives a Result with a Note and no verdict.
func Compare(baseline, current dataset.ColumnProfile, m Metric) (Result, error) {
	r, err := compare(baseline, current, m)
	if err == nil && (math.IsNaN(r.Score) || (r.PValue != nil && math.IsNaN(*r.PValue))) {
		r.Score, r.PValue, r.Drifted, r.Note = 0, nil, false, "no finite score"
	}
	return r, err
}

func compare(baseline, current dataset.ColumnProfile, m Metric) (Result, error) {
	r := Result{Feature: baseline.Name, Metric: m, Threshold: m.Threshold}
	if baseline.Kind != current.Kind {
		return r, ferry.Errorf(ferry.EINVALID, "feature '%s' is %s in the baseline and %s in the current data", baseline.Name, baseline.Kind, current.Kind)
	}
	if m.Binning != "" && m.Binning != BinningBaseline {
		return r, ferry.Errorf(ferry.EINVALID, "feature '%s': binning %q is not known (profiles are binned on the baseline's edges: %q)", baseline.Name, m.Binning, BinningBaseline)
	}
	numeric := baseline.Numeric != nil && current.Numeric != nil
	if numeric {
		r.Baseline, r.Current = finite(baseline), finite(current)
	} else {
		r.Baseline, r.Current = baseline.Count, current.Count
	}
	if r.Baseline == 0 || r.Current == 0 {
		r.Note = "no values to compare"
		return r, nil
	}
	test := func(stat, p float64) {
		r.Score, r.PValue = stat, &p
		r.Drifted = p < r.Threshold
	}
	switch m.Name {
	case MetricWassersteinNorm, MetricWasserstein, MetricKS:
		if !numeric {
			return r, ferry.Errorf(ferry.EINVALID, "feature '%s': %s needs a numeric column", baseline.Name, m.Name)
		}
		w1, d := ProfileWasserstein(baseline, current)
		switch m.Name {
		case MetricWassersteinNorm:
			r.Score = w1 / max(baselineStd(baseline), normFloor)
		case MetricWasserstein:
			r.Score = w1
		default:
			ks := KSPValue(int(r.Baseline), int(r.Current), d)
			test(ks.Statistic, ks.PValue)
			return r, nil
		}
	case MetricJensenShannon, MetricPSI, MetricChiSquare:
		b, c, ok := ProfileCounts(baseline, current)
		if !ok {
			return r, ferry.Errorf(ferry.EINVALID, "feature '%s': the current profile is not binned on the baseline's edges; profile it with the baseline's edges", baseline.Name)
		}
		switch m.Name {
		case MetricJensenShannon:
			r.Score = JensenShannon(b, c, m.LogBase)
		case MetricPSI:
			r.Score = PSI(b, c)
		default:
			test(ChiSquareCounts(b, c))
			return r, nil
		}
	case MetricZ:
		k1, n1, k2, n2, ok := binaryCounts(baseline, current)
		if !ok {
			return r, ferry.Errorf(ferry.EINVALID, "feature '%s': the Z-test needs a binary column (two categories, or numeric 0/1)", baseline.Name)
		}
		test(ZTest(k1, n1, k2, n2))
		return r, nil
	default:
		return r, ferry.Errorf(ferry.EINVALID, "feature '%s': unknown drift metric %q", baseline.Name, m.Name)
	}
	r.Drifted = r.Score >= r.Threshold
	return r, nil
}

// binaryCounts returns, for a binary column, how many of the n1 baseline and
// n2 current values are not the first value in sorted order (Evidently's
// coding). A categorical column is binary when no value is in "other" and at
// most two categories occur; a numeric one when every finite value is 0 or 1.
func binaryCounts(baseline, current dataset.ColumnProfile) (k1, n1, k2, n2 int64, ok bool) {
	if baseline.Categorical != nil && current.Categorical != nil {
		if baseline.Categorical.Other != 0 || current.Categorical.Other != 0 {
			return 0, 0, 0, 0, false
		}
		counts := map[string][2]int64{}
		for side, p := range []*dataset.CategoricalProfile{baseline.Categorical, current.Categorical} {
			for _, t := range p.Top {
				if t.Count > 0 {
					c := counts[t.Value]
					c[side] += t.Count
					counts[t.Value] = c
				}
			}
		}
		if len(counts) > 2 || len(counts) == 0 {
			return 0, 0, 0, 0, false
		}
		keys := make([]string, 0, 2)
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n1, n2 = baseline.Count, current.Count
		return n1 - counts[keys[0]][0], n1, n2 - counts[keys[0]][1], n2, true
	}
	ones := func(c dataset.ColumnProfile) (int64, bool) {
		np := c.Numeric
		n := finite(c)
		if np == nil || n == 0 {
			return 0, n == 0
		}
		var one int64
		for k, i := range np.Sketch.Pos.Index {
			if i == 0 { // bucket (1/γ, 1]
				one = np.Sketch.Pos.Count[k]
			}
		}
		exact := np.Min >= 0 && np.Max <= 1 && np.Sketch.Zeros+one == n && np.Sum+np.SumErr == float64(one)
		return one, exact
	}
	o1, ok1 := ones(baseline)
	o2, ok2 := ones(current)
	if !ok1 || !ok2 || current.Numeric == nil {
		return 0, 0, 0, 0, false
	}
	return o1, finite(baseline), o2, finite(current), true
}

// Config chooses the metric of each feature for CompareProfiles.
type Config struct {
	// Numeric and Categorical are the metrics of features without their own;
	// zero values mean DefaultNumeric and DefaultCategorical.
	Numeric     Metric
	Categorical Metric
	// Features maps a feature name to its metric.
	Features map[string]Metric
	// Skip lists features not to compare (for example the target or an id).
	Skip []string
	// Bonferroni divides the significance level of every test by the number
	// of features tested, so that the chance of any false alarm among them
	// stays at most the level.
	Bonferroni bool
}

// CompareProfiles compares every numeric and categorical feature of the
// baseline with the same feature of current, in the baseline's column
// order. A feature missing from current gets a Result with a Note. It fails
// with EINVALID when Compare does for a feature.
func CompareProfiles(baseline, current dataset.Profile, cfg Config) ([]Result, error) {
	type job struct {
		b, c *dataset.ColumnProfile
		m    Metric
	}
	var jobs []job
	tests := 0
	skip := map[string]bool{}
	for _, s := range cfg.Skip {
		skip[s] = true
	}
	for i := range baseline.Columns {
		b := &baseline.Columns[i]
		if skip[b.Name] || (b.Numeric == nil && b.Categorical == nil) {
			continue
		}
		m, ok := cfg.Features[b.Name]
		if !ok {
			m = cfg.Categorical
			if b.Numeric != nil {
				m = cfg.Numeric
			}
			if m.Name == "" && b.Numeric != nil {
				m = DefaultNumeric()
			} else if m.Name == "" {
				m = DefaultCategorical()
			}
		}
		c, _ := current.Col(b.Name)
		jobs = append(jobs, job{b, c, m})
		if m.IsTest() {
			tests++
		}
	}
	out := make([]Result, 0, len(jobs))
	for _, j := range jobs {
		m := j.m
		if m.IsTest() && cfg.Bonferroni {
			m.Threshold = Bonferroni(m.Threshold, tests)
		}
		if j.c == nil {
			out = append(out, Result{Feature: j.b.Name, Metric: j.m, Threshold: m.Threshold, Note: "not in the current data"})
			continue
		}
		r, err := Compare(*j.b, *j.c, m)
		if err != nil {
			return nil, err
		}
		r.Metric = j.m
		out = append(out, r)
	}
	return out, nil
}
