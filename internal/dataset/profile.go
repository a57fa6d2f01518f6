package dataset

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
)

// HistogramBins is the number of equal-width bins Profile puts between a
// numeric column's minimum and maximum.
const HistogramBins = 20

// TopK is the number of most frequent categories a profile lists.
const TopK = 50

// Profile summarises a frame in a bounded size whatever its number of rows:
// the baseline of a model's training data, or one window of production data.
// Profiles are deterministic (the same frame gives the same JSON bytes on the
// same platform) and mergeable (see Merge).
type Profile struct {
	Rows    int64           `json:"rows"`
	Columns []ColumnProfile `json:"columns"`
}

// ColumnProfile summarises one column. Exactly one of Numeric, Categorical
// and Timestamp is set, as Kind says.
type ColumnProfile struct {
	Name        string              `json:"name"`
	Kind        Kind                `json:"kind"`
	Count       int64               `json:"count"`   // values present
	Missing     int64               `json:"missing"` // values missing
	Numeric     *NumericProfile     `json:"numeric,omitempty"`
	Categorical *CategoricalProfile `json:"categorical,omitempty"`
	Timestamp   *TimestampProfile   `json:"timestamp,omitempty"`
}

// NumericProfile summarises the present values of a numeric column. Moments,
// extremes, quantiles and the sketch are over the finite values; infinities
// are counted in Infinite and in the histogram's Below and Above. All fields
// are 0 when there is no finite value.
type NumericProfile struct {
	Infinite int64   `json:"infinite"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Mean     float64 `json:"mean"`
	Std      float64 `json:"std"` // sample standard deviation (n-1)
	// Sum (as Sum+SumErr, double-double) and M2, the sum of squared
	// deviations from the mean, make merges exact (Chan et al.).
	Sum       float64   `json:"sum"`
	SumErr    float64   `json:"sum_err"`
	M2        float64   `json:"m2"`
	Quantiles Quantiles `json:"quantiles"`
	Histogram Histogram `json:"histogram"`
	Sketch    Sketch    `json:"sketch"`
}

// Quantiles are estimates from the Sketch, within SketchAlpha (1%) of the
// value of the sample quantile.
type Quantiles struct {
	P01 float64 `json:"p01"`
	P05 float64 `json:"p05"`
	P25 float64 `json:"p25"`
	P50 float64 `json:"p50"`
	P75 float64 `json:"p75"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Histogram counts values in bins with fixed edges: bin i holds edges[i] ≤ x <
// edges[i+1], the last bin also x = edges[len-1]. Values outside the edges go
// to Below and Above, so profiles of new data on a baseline's edges keep
// every value.
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Counts []int64   `json:"counts"`
	Below  int64     `json:"below"`
	Above  int64     `json:"above"`
}

// CategoricalProfile summarises a categorical column: the counts of the TopK
// most frequent categories (by count, then value), the count of all others,
// and the number of distinct values.
type CategoricalProfile struct {
	Distinct int64           `json:"distinct"`
	Top      []CategoryCount `json:"top"`
	Other    int64           `json:"other"`
	// HLL holds HyperLogLog registers (1024, about 3% error) so that merged
	// profiles can estimate Distinct.
	HLL []byte `json:"hll"`
}

// CategoryCount is the count of one category.
type CategoryCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// TimestampProfile holds the range of a timestamp column; zero times when no
// value is present.
type TimestampProfile struct {
	Min time.Time `json:"min,omitzero"`
	Max time.Time `json:"max,omitzero"`
}

// Edges fixes, per column name, the histogram edges and the categories of a
// profile, so that the profiles of other data (ProfileWithEdges) can be
// compared with it and merged.
type Edges map[string]ColumnEdges

// ColumnEdges are the fixed bins of one column.
type ColumnEdges struct {
	Bins       []float64 `json:"bins,omitempty"`       // numeric: histogram edges
	Categories []string  `json:"categories,omitempty"` // categorical: the categories counted by name
}

// Edges returns the histogram edges and listed categories of p.
func (p Profile) Edges() Edges {
	e := Edges{}
	for _, c := range p.Columns {
		switch {
		case c.Numeric != nil:
			e[c.Name] = ColumnEdges{Bins: slices.Clone(c.Numeric.Histogram.Edges)}
		case c.Categorical != nil:
			var cats []string
			for _, t := range c.Categorical.Top {
				cats = append(cats, t.Value)
			}
			e[c.Name] = ColumnEdges{Categories: cats}
		}
	}
	return e
}

// Col returns the profile of the named column and whether there is one.
func (p Profile) Col(name string) (*ColumnProfile, bool) {
	for i := range p.Columns {
		if p.Columns[i].Name == name {
			return &p.Columns[i], true
		}
	}
	return nil, false
}

// Profile profiles f: HistogramBins equal-width bins between each numeric
// column's finite minimum and maximum (a one-wide bin range around a constant
// column), the TopK most frequent categories of each categorical column.
func (f *Frame) Profile() Profile {
	p, _ := ProfileWithEdges(f, nil) // without edges nothing can fail
	return p
}

// ProfileWithEdges profiles f on the given edges, typically those of a
// baseline profile (Profile.Edges): numeric columns are binned on the given
// histogram edges, categorical columns count the given categories by name and
// the rest as Other. Columns without edges are profiled as Frame.Profile does.
// Edges that do not fit a column (bins for a categorical column, fewer than two
// or unsorted bins) are EINVALID.
func ProfileWithEdges(f *Frame, edges Edges) (Profile, error) {
	p := Profile{Rows: int64(f.Len()), Columns: make([]ColumnProfile, len(f.Columns))}
	for i, c := range f.Columns {
		e, ok := edges[c.Name]
		if ok {
			if err := checkEdges(c, e); err != nil {
				return Profile{}, err
			}
		}
		switch c.Kind {
		case KindNumeric:
			p.Columns[i] = profileNumeric(c, e.Bins, ok)
		case KindCategorical:
			p.Columns[i] = profileCategorical(c, e.Categories, ok)
		case KindTimestamp:
			p.Columns[i] = profileTimestamp(c)
		default:
			return Profile{}, ferry.Errorf(ferry.EINVALID, "column '%s' has unknown kind %q", c.Name, c.Kind)
		}
	}
	return p, nil
}

// checkEdges validates edges for column c.
func checkEdges(c *Column, e ColumnEdges) error {
	switch {
	case len(e.Bins) > 0 && c.Kind != KindNumeric:
		return ferry.Errorf(ferry.EINVALID, "column '%s' is %s but has histogram edges", c.Name, c.Kind)
	case len(e.Categories) > 0 && c.Kind != KindCategorical:
		return ferry.Errorf(ferry.EINVALID, "column '%s' is %s but has categories", c.Name, c.Kind)
	case len(e.Bins) == 1:
		return ferry.Errorf(ferry.EINVALID, "column '%s': a histogram needs at least two edges", c.Name)
	}
	for k := 1; k < len(e.Bins); k++ {
		if !(e.Bins[k] > e.Bins[k-1]) || math.IsInf(e.Bins[k], 0) || math.IsInf(e.Bins[k-1], 0) {
			return ferry.Errorf(ferry.EINVALID, "column '%s': histogram edges must be finite and increasing", c.Name)
		}
	}
	return nil
}

// profileNumeric profiles a numeric column. With fixed, bins are used as the
// histogram edges (none when empty); otherwise edges come from the data.
func profileNumeric(c *Column, bins []float64, fixed bool) ColumnProfile {
	cp := ColumnProfile{Name: c.Name, Kind: KindNumeric}
	np := &NumericProfile{}
	var sum ddSum
	var finite int64
	lo, hi := math.Inf(1), math.Inf(-1)
	sk := newSketchBuilder()
	for _, x := range c.Num {
		switch {
		case math.IsNaN(x):
			cp.Missing++
		case math.IsInf(x, 0):
			np.Infinite++
		default:
			finite++
			sum.add(x)
			lo, hi = min(lo, x), max(hi, x)
			sk.add(x)
		}
	}
	cp.Count = int64(len(c.Num)) - cp.Missing
	sum = sum.norm()
	if finite > 0 {
		np.Min, np.Max = lo, hi
		np.Sum, np.SumErr = sum.hi, sum.lo
		np.Mean = (sum.hi + sum.lo) / float64(finite)
		// Corrected two-pass sum of squares.
		var m2, comp float64
		for _, x := range c.Num {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				d := x - np.Mean
				m2 += d * d
				comp += d
			}
		}
		np.M2 = max(m2-comp*comp/float64(finite), 0)
		np.Sketch = sk.sketch()
		np.finish(finite)
	} else {
		np.Sketch = Sketch{Alpha: SketchAlpha}
	}
	if !fixed && finite > 0 {
		bins = equalBins(lo, hi, HistogramBins)
	}
	np.Histogram = histogram(c.Num, bins)
	cp.Numeric = np
	return cp
}

// finish derives Std and Quantiles from the other fields.
func (np *NumericProfile) finish(finite int64) {
	np.Std = 0
	if finite > 1 {
		np.Std = math.Sqrt(np.M2 / float64(finite-1))
	}
	q := func(p float64) float64 { return min(max(np.Sketch.Quantile(p), np.Min), np.Max) }
	np.Quantiles = Quantiles{P01: q(0.01), P05: q(0.05), P25: q(0.25), P50: q(0.5), P75: q(0.75), P95: q(0.95), P99: q(0.99)}
}

// Quantile returns the estimated q-quantile of the finite values (within
// SketchAlpha of the sample quantile, clamped to [Min, Max]); NaN when there
// is none.
func (np *NumericProfile) Quantile(q float64) float64 {
	v := np.Sketch.Quantile(q)
	if math.IsNaN(v) {
		return v
	}
	return min(max(v, np.Min), np.Max)
}

// equalBins returns n equal-width bins from lo to hi, or around lo when the
// two are equal.
func equalBins(lo, hi float64, n int) []float64 {
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	edges := make([]float64, n+1)
	for i := range edges {
		edges[i] = lo + (hi-lo)*float64(i)/float64(n)
	}
	edges[n] = hi
	return edges
}

// histogram bins the non-missing values of xs on edges.
func histogram(xs []float64, edges []float64) Histogram {
	h := Histogram{Edges: slices.Clone(edges)}
	nb := len(edges) - 1
	if nb < 1 {
		h.Edges = nil
		return h
	}
	h.Counts = make([]int64, nb)
	lo, hi := edges[0], edges[nb]
	scale := float64(nb) / (hi - lo)
	for _, x := range xs {
		switch {
		case math.IsNaN(x):
		case x < lo:
			h.Below++
		case x > hi:
			h.Above++
		default:
			// Guess the bin arithmetically, then correct against the edges.
			i := min(max(int((x-lo)*scale), 0), nb-1)
			for i > 0 && x < edges[i] {
				i--
			}
			for i < nb-1 && x >= edges[i+1] {
				i++
			}
			h.Counts[i]++
		}
	}
	return h
}

// profileCategorical profiles a categorical column: the TopK categories, or
// with fixed, exactly the categories cats.
func profileCategorical(c *Column, cats []string, fixed bool) ColumnProfile {
	cp := ColumnProfile{Name: c.Name, Kind: KindCategorical}
	counts := make([]int64, len(c.Levels))
	for _, code := range c.Codes {
		if code < 0 {
			cp.Missing++
		} else {
			counts[code]++
		}
	}
	cp.Count = int64(len(c.Codes)) - cp.Missing
	cat := &CategoricalProfile{HLL: make([]byte, 1<<hllPrecision)}
	byName := make(map[string]int64, len(c.Levels))
	for l, n := range counts {
		if n > 0 {
			cat.Distinct++
			hllAdd(cat.HLL, c.Levels[l])
			byName[c.Levels[l]] += n
		}
	}
	if fixed {
		for _, v := range cats {
			cat.Top = append(cat.Top, CategoryCount{Value: v, Count: byName[v]})
		}
	} else {
		for v, n := range byName {
			cat.Top = append(cat.Top, CategoryCount{Value: v, Count: n})
		}
	}
	cat.Top = rankCategories(cat.Top, fixed)
	cat.Other = cp.Count
	for _, t := range cat.Top {
		cat.Other -= t.Count
	}
	cp.Categorical = cat
	return cp
}

// rankCategories sorts by count, then value, and keeps TopK unless keepAll.
func rankCategories(top []CategoryCount, keepAll bool) []CategoryCount {
	slices.SortFunc(top, func(a, b CategoryCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Value, b.Value)
	})
	if !keepAll && len(top) > TopK {
		top = top[:TopK]
	}
	if top == nil {
		top = []CategoryCount{}
	}
	return top
}

// profileTimestamp profiles a timestamp column.
func profileTimestamp(c *Column) ColumnProfile {
	cp := ColumnProfile{Name: c.Name, Kind: KindTimestamp, Timestamp: &TimestampProfile{}}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, t := range c.Time {
		if t == MissingTime {
			cp.Missing++
			continue
		}
		lo, hi = min(lo, t), max(hi, t)
	}
	cp.Count = int64(len(c.Time)) - cp.Missing
	if cp.Count > 0 {
		cp.Timestamp.Min, cp.Timestamp.Max = time.Unix(0, lo).UTC(), time.Unix(0, hi).UTC()
	}
	return cp
}

// Merge returns the profile of the union of the data of a and b. Both must
// have the same columns (by name, of the same kinds) and numeric columns the
// same histogram edges and sketch accuracy: profile the parts with
// ProfileWithEdges on shared edges. Otherwise it is EINVALID.
//
// Counts, histograms, sketches, quantiles, extremes and (up to the last bit of
// rounding) means are exactly those of the whole; the standard deviation is
// exact up to floating-point rounding (Chan's parallel formula). Categories
// merge exactly when both profiles list the same categories (shared edges) or
// every category they have; otherwise a category outside one part's top list
// counts as 0 there (its count stays in Other). Distinct is exact when both
// parts list all their categories, else a HyperLogLog estimate (about 3%).
func Merge(a, b Profile) (Profile, error) {
	if len(a.Columns) != len(b.Columns) {
		return Profile{}, ferry.Errorf(ferry.EINVALID, "cannot merge profiles of %d and %d columns", len(a.Columns), len(b.Columns))
	}
	out := Profile{Rows: a.Rows + b.Rows, Columns: make([]ColumnProfile, len(a.Columns))}
	for i, ca := range a.Columns {
		cb, ok := b.Col(ca.Name)
		if !ok {
			return Profile{}, ferry.Errorf(ferry.EINVALID, "cannot merge profiles: column '%s' is only in the first", ca.Name)
		}
		if ca.Kind != cb.Kind {
			return Profile{}, ferry.Errorf(ferry.EINVALID, "cannot merge profiles: column '%s' is %s in one and %s in the other", ca.Name, ca.Kind, cb.Kind)
		}
		m := ColumnProfile{Name: ca.Name, Kind: ca.Kind, Count: ca.Count + cb.Count, Missing: ca.Missing + cb.Missing}
		var err error
		switch {
		case ca.Numeric != nil && cb.Numeric != nil:
			m.Numeric, err = mergeNumeric(ca.Name, ca.Numeric, cb.Numeric, ca.Count-ca.Numeric.Infinite, cb.Count-cb.Numeric.Infinite)
		case ca.Categorical != nil && cb.Categorical != nil:
			m.Categorical, err = mergeCategorical(ca.Name, ca.Categorical, cb.Categorical, m.Count)
		case ca.Timestamp != nil && cb.Timestamp != nil:
			m.Timestamp = mergeTimestamp(ca.Timestamp, cb.Timestamp)
		default:
			err = ferry.Errorf(ferry.EINVALID, "cannot merge profiles: column '%s' lacks its %s summary", ca.Name, ca.Kind)
		}
		if err != nil {
			return Profile{}, err
		}
		out.Columns[i] = m
	}
	return out, nil
}

func mergeNumeric(name string, a, b *NumericProfile, na, nb int64) (*NumericProfile, error) {
	if !slices.Equal(a.Histogram.Edges, b.Histogram.Edges) && na > 0 && nb > 0 {
		return nil, ferry.Errorf(ferry.EINVALID, "cannot merge profiles: column '%s' has different histogram edges; profile both parts with the same edges (ProfileWithEdges)", name)
	}
	if a.Sketch.Alpha != b.Sketch.Alpha && na > 0 && nb > 0 {
		return nil, ferry.Errorf(ferry.EINVALID, "cannot merge profiles: column '%s' has sketches of different accuracy", name)
	}
	if na == 0 || nb == 0 {
		// One side has no finite value: take the other, adding the counts
		// that do not depend on edges.
		base, o := a, b
		if na == 0 {
			base, o = b, a
		}
		m := *base
		m.Infinite = a.Infinite + b.Infinite
		m.Histogram = addHistograms(base.Histogram, o.Histogram)
		return &m, nil
	}
	n := na + nb
	sum := ddSum{a.Sum, a.SumErr}.plus(ddSum{b.Sum, b.SumErr})
	m := &NumericProfile{
		Infinite: a.Infinite + b.Infinite,
		Min:      min(a.Min, b.Min),
		Max:      max(a.Max, b.Max),
		Sum:      sum.hi,
		SumErr:   sum.lo,
		Mean:     (sum.hi + sum.lo) / float64(n),
	}
	delta := b.Mean - a.Mean
	m.M2 = a.M2 + b.M2 + delta*delta*float64(na)*float64(nb)/float64(n)
	m.Histogram = addHistograms(a.Histogram, b.Histogram)
	m.Sketch = Sketch{
		Alpha: a.Sketch.Alpha,
		Zeros: a.Sketch.Zeros + b.Sketch.Zeros,
		Pos:   mergeBuckets(a.Sketch.Pos, b.Sketch.Pos),
		Neg:   mergeBuckets(a.Sketch.Neg, b.Sketch.Neg),
	}
	m.finish(n)
	return m, nil
}

// addHistograms adds b into a copy of a. Edges are equal, or one side holds
// only infinities (no edges, only Below and Above).
func addHistograms(a, b Histogram) Histogram {
	if len(a.Edges) == 0 {
		a, b = b, a
	}
	out := Histogram{Edges: slices.Clone(a.Edges), Counts: slices.Clone(a.Counts), Below: a.Below + b.Below, Above: a.Above + b.Above}
	if len(b.Counts) == len(out.Counts) {
		for i, c := range b.Counts {
			out.Counts[i] += c
		}
	}
	return out
}

func mergeCategorical(name string, a, b *CategoricalProfile, count int64) (*CategoricalProfile, error) {
	if len(a.HLL) != len(b.HLL) {
		return nil, ferry.Errorf(ferry.EINVALID, "cannot merge profiles: column '%s' has distinct-count sketches of different sizes", name)
	}
	m := &CategoricalProfile{HLL: slices.Clone(a.HLL)}
	for i, r := range b.HLL {
		m.HLL[i] = max(m.HLL[i], r)
	}
	byName := map[string]int64{}
	var order []string
	for _, t := range append(slices.Clone(a.Top), b.Top...) {
		if _, ok := byName[t.Value]; !ok {
			order = append(order, t.Value)
		}
		byName[t.Value] += t.Count
	}
	for _, v := range order {
		m.Top = append(m.Top, CategoryCount{Value: v, Count: byName[v]})
	}
	// Shared category lists (from the same edges) are kept whole.
	sameList := len(a.Top) == len(b.Top) && len(order) == len(a.Top)
	m.Top = rankCategories(m.Top, sameList)
	m.Other = count
	for _, t := range m.Top {
		m.Other -= t.Count
	}
	if a.Other == 0 && b.Other == 0 {
		m.Distinct = 0
		for _, v := range order {
			if byName[v] > 0 {
				m.Distinct++
			}
		}
	} else {
		m.Distinct = max(int64(math.Round(hllEstimate(m.HLL))), a.Distinct, b.Distinct)
	}
	return m, nil
}

func mergeTimestamp(a, b *TimestampProfile) *TimestampProfile {
	m := *a
	if m.Min.IsZero() || (!b.Min.IsZero() && b.Min.Before(m.Min)) {
		m.Min = b.Min
	}
	if m.Max.IsZero() || (!b.Max.IsZero() && b.Max.After(m.Max)) {
		m.Max = b.Max
	}
	return &m
}
