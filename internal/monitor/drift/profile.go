package drift

import (
	"math"
	"slices"

	"github.com/ferry-ml/ferry/internal/dataset"
)

// cdf is a piecewise-linear approximation of the distribution function of a
// numeric column's finite values, through knots where the share of values
// below is known exactly from the profile: the sketch's bucket bounds, the
// histogram's edges, the minimum and the maximum. Between knots the values
// are taken as spread evenly. Knots are sorted by x and then by f; equal x
// with rising f is a jump (a point mass, such as the sketch's zeros).
type cdf struct {
	x, f []float64
}

// profileCDF builds the cdf of np, which holds n finite values (n > 0). The
// histogram contributes only when the column has no infinities (they are
// counted in its Below and Above but not in the sketch).
func profileCDF(np *dataset.NumericProfile, n int64) cdf {
	type knot struct{ x, c float64 }
	var ks []knot
	add := func(x, c float64) {
		ks = append(ks, knot{min(max(x, np.Min), np.Max), c})
	}
	sk := np.Sketch
	gamma := (1 + sk.Alpha) / (1 - sk.Alpha)
	pow := func(i int32) float64 { return math.Pow(gamma, float64(i)) }
	var cum float64
	add(np.Min, 0)
	// Negative bucket i holds x in [−γ^i, −γ^(i−1)); walk from the most negative.
	for k := len(sk.Neg.Index) - 1; k >= 0; k-- {
		i := sk.Neg.Index[k]
		add(-pow(i), cum)
		cum += float64(sk.Neg.Count[k])
		add(-pow(i-1), cum)
	}
	if sk.Zeros > 0 {
		add(0, cum)
		cum += float64(sk.Zeros)
		add(0, cum)
	}
	// Positive bucket i holds x in (γ^(i−1), γ^i].
	for k, i := range sk.Pos.Index {
		add(pow(i-1), cum)
		cum += float64(sk.Pos.Count[k])
		add(pow(i), cum)
	}
	add(np.Max, float64(n))
	if h := np.Histogram; np.Infinite == 0 && len(h.Counts) > 0 {
		c := float64(h.Below)
		for e, x := range h.Edges {
			if x > np.Min && x < np.Max {
				ks = append(ks, knot{x, c})
			}
			if e < len(h.Counts) {
				c += float64(h.Counts[e])
			}
		}
	}
	slices.SortStableFunc(ks, func(a, b knot) int {
		if a.x != b.x {
			if a.x < b.x {
				return -1
			}
			return 1
		}
		if a.c < b.c {
			return -1
		}
		if a.c > b.c {
			return 1
		}
		return 0
	})
	out := cdf{x: make([]float64, 0, len(ks)), f: make([]float64, 0, len(ks))}
	top := 0.0
	for _, k := range ks {
		top = max(top, k.c) // the sources agree up to ties at a knot; keep F monotone
		out.x = append(out.x, k.x)
		out.f = append(out.f, top/float64(n))
	}
	return out
}

// cursor evaluates a cdf at increasing x.
type cursor struct {
	c *cdf
	k int // first knot with x > the last x asked for
}

// at returns the left and right limits F(x−) and F(x) at x, which must not
// decrease from call to call.
func (u *cursor) at(x float64) (left, right float64) {
	c := u.c
	first := u.k
	for first < len(c.x) && c.x[first] < x {
		first++
	}
	last := first
	for last < len(c.x) && c.x[last] == x {
		last++
	}
	u.k = first
	switch {
	case first == 0:
		if last > 0 {
			return 0, c.f[last-1]
		}
		return 0, 0
	case first == len(c.x):
		return 1, 1
	}
	// x lies after knot first−1 and at or before knot first.
	x0, x1 := c.x[first-1], c.x[first]
	f0, f1 := c.f[first-1], c.f[first]
	left = f0 + (f1-f0)*(x-x0)/(x1-x0)
	if last > first {
		return min(left, c.f[first]), c.f[last-1]
	}
	return left, left
}

// compareCDFs returns ∫|F−G| dx and sup |F−G| of two cdfs.
func compareCDFs(a, b cdf) (w1, ks float64) {
	xs := make([]float64, 0, len(a.x)+len(b.x))
	i, j := 0, 0
	for i < len(a.x) || j < len(b.x) {
		switch {
		case j == len(b.x) || (i < len(a.x) && a.x[i] <= b.x[j]):
			xs = append(xs, a.x[i])
			i++
		default:
			xs = append(xs, b.x[j])
			j++
		}
	}
	xs = slices.Compact(xs)
	ua, ub := cursor{c: &a}, cursor{c: &b}
	var prevX, prevD float64
	for k, x := range xs {
		la, ra := ua.at(x)
		lb, rb := ub.at(x)
		dl, dr := la-lb, ra-rb
		ks = max(ks, math.Abs(dl), math.Abs(dr))
		if k > 0 {
			w1 += segmentArea(prevD, dl, x-prevX)
		}
		prevX, prevD = x, dr
	}
	return w1, ks
}

// segmentArea is ∫|d| over a segment of the given width where d runs
// linearly from d0 to d1.
func segmentArea(d0, d1, width float64) float64 {
	if width <= 0 {
		return 0
	}
	if (d0 >= 0) == (d1 >= 0) || d0 == 0 || d1 == 0 {
		return (math.Abs(d0) + math.Abs(d1)) / 2 * width
	}
	return (d0*d0 + d1*d1) / (2 * (math.Abs(d0) + math.Abs(d1))) * width
}

// finite returns the number of finite values of a numeric column profile.
func finite(c dataset.ColumnProfile) int64 {
	if c.Numeric == nil {
		return 0
	}
	return c.Count - c.Numeric.Infinite
}

// ProfileWasserstein estimates Wasserstein(baseline values, current values)
// and the Kolmogorov–Smirnov statistic from two numeric column profiles
// (their sketches, histograms and extremes; see the package doc for the
// error). It is NaN when either side has no finite value.
func ProfileWasserstein(baseline, current dataset.ColumnProfile) (w1, ks float64) {
	nb, nc := finite(baseline), finite(current)
	if nb == 0 || nc == 0 {
		return math.NaN(), math.NaN()
	}
	return compareCDFs(profileCDF(baseline.Numeric, nb), profileCDF(current.Numeric, nc))
}

// baselineStd is the population standard deviation of the finite values of
// a numeric profile, exact from its sum of squared deviations.
func baselineStd(c dataset.ColumnProfile) float64 {
	n := finite(c)
	if n == 0 {
		return math.NaN()
	}
	return math.Sqrt(c.Numeric.M2 / float64(n))
}

// ProfileCounts returns the binned counts of two column profiles on the
// baseline's bins: for numeric columns [Below, bins…, Above] of the
// histograms (which must share edges: profile the current data with
// dataset.ProfileWithEdges on the baseline's edges); for categorical columns
// the baseline's listed categories, matched by name, then one "other" bucket
// for everything else. ok is false when the profiles cannot be binned alike.
func ProfileCounts(baseline, current dataset.ColumnProfile) (b, c []float64, ok bool) {
	switch {
	case baseline.Numeric != nil && current.Numeric != nil:
		hb, hc := baseline.Numeric.Histogram, current.Numeric.Histogram
		if !slices.Equal(hb.Edges, hc.Edges) && len(hc.Counts) > 0 {
			return nil, nil, false
		}
		b = histCounts(hb, len(hb.Counts))
		c = histCounts(hc, len(hb.Counts))
		return b, c, true
	case baseline.Categorical != nil && current.Categorical != nil:
		cur := make(map[string]int64, len(current.Categorical.Top))
		for _, t := range current.Categorical.Top {
			cur[t.Value] = t.Count
		}
		var listed int64
		for _, t := range baseline.Categorical.Top {
			b = append(b, float64(t.Count))
			c = append(c, float64(cur[t.Value]))
			listed += cur[t.Value]
		}
		b = append(b, float64(baseline.Categorical.Other))
		c = append(c, float64(current.Count-listed))
		return b, c, true
	}
	return nil, nil, false
}

// histCounts returns [Below, counts…, Above] with nb bins (zeros when h has
// no bins: a column without finite values).
func histCounts(h dataset.Histogram, nb int) []float64 {
	out := make([]float64, nb+2)
	out[0] = float64(h.Below)
	for i, c := range h.Counts {
		if i < nb {
			out[i+1] = float64(c)
		}
	}
	out[nb+1] = float64(h.Above)
	return out
}
