package drift

import (
	"math"
)

// normFloor is Evidently's floor on the baseline's standard deviation in the
// normalized Wasserstein distance.
const normFloor = 0.001

// Wasserstein is scipy.stats.wasserstein_distance(u, v): the first
// Wasserstein distance ∫|F_u − F_v| dx of the empirical distributions of two
// raw samples without NaN. It does not modify u or v; it is NaN when either
// is empty.
func Wasserstein(u, v []float64) float64 {
	if len(u) == 0 || len(v) == 0 {
		return math.NaN()
	}
	u, v = sorted(u), sorted(v)
	nu, nv := float64(len(u)), float64(len(v))
	var sum float64
	i, j := 0, 0
	prev := math.NaN()
	for i < len(u) || j < len(v) {
		x := math.Inf(1)
		if i < len(u) {
			x = u[i]
		}
		if j < len(v) && v[j] < x {
			x = v[j]
		}
		if !math.IsNaN(prev) {
			sum += math.Abs(float64(i)/nu-float64(j)/nv) * (x - prev)
		}
		for i < len(u) && u[i] <= x {
			i++
		}
		for j < len(v) && v[j] <= x {
			j++
		}
		prev = x
	}
	return sum
}

// WassersteinNorm is Evidently's normalized Wasserstein distance:
// Wasserstein(baseline, current) / max(σ, 0.001), σ the population standard
// deviation (numpy.std, ddof 0) of the baseline.
func WassersteinNorm(baseline, current []float64) float64 {
	return Wasserstein(baseline, current) / max(popStd(baseline), normFloor)
}

// popStd is the population standard deviation by two passes.
func popStd(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var m2 float64
	for _, v := range x {
		m2 += (v - mean) * (v - mean)
	}
	return math.Sqrt(m2 / float64(len(x)))
}

// JensenShannon is scipy.spatial.distance.jensenshannon(p, q, base): the
// square root of the Jensen–Shannon divergence of the distributions p and q
// (non-negative weights, normalised here, of equal length), with logarithms
// to the given base (0 for e). Evidently uses base e, Azure ML base 2. It is
// NaN for vectors of different lengths or a vector that sums to 0.
func JensenShannon(p, q []float64, base float64) float64 {
	if len(p) != len(q) {
		return math.NaN()
	}
	sp, sq := sum(p), sum(q)
	var left, right float64
	for i := range p {
		pi, qi := p[i]/sp, q[i]/sq
		m := (pi + qi) / 2
		left += relEntr(pi, m)
		right += relEntr(qi, m)
	}
	js := left + right
	if base > 0 {
		js /= math.Log(base)
	}
	return math.Sqrt(js / 2)
}

// relEntr is scipy.special.rel_entr.
func relEntr(x, y float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsNaN(y):
		return math.NaN()
	case x > 0 && y > 0:
		return x * math.Log(x/y)
	case x == 0 && y >= 0:
		return 0
	default:
		return math.Inf(1)
	}
}

func sum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

// ChiSquare is scipy.stats.chisquare(observed, expected): the statistic
// Σ (o−e)²/e and its p-value from the χ² distribution with k−1 degrees of
// freedom. As SciPy 1.10 requires, the two must sum to the same total within
// a relative 1e-8; otherwise (or for different lengths) both are NaN.
func ChiSquare(observed, expected []float64) (stat, p float64) {
	if len(observed) != len(expected) || len(observed) == 0 {
		return math.NaN(), math.NaN()
	}
	so, se := sum(observed), sum(expected)
	if math.Abs(so-se) > 1e-8*max(so, se) {
		return math.NaN(), math.NaN()
	}
	for i, o := range observed {
		d := o - expected[i]
		stat += d * d / expected[i]
	}
	return stat, Chi2SF(stat, float64(len(observed)-1))
}

// ChiSquareCounts is Evidently's chi-square test: the current counts observed
// against the baseline's counts scaled to the current total. Bins empty on
// both sides are left out (Evidently lists only values seen on either side).
func ChiSquareCounts(baseline, current []float64) (stat, p float64) {
	b, c := dropBothZero(baseline, current)
	k := sum(c) / sum(b)
	exp := make([]float64, len(b))
	for i, x := range b {
		exp[i] = x * k
	}
	return ChiSquare(c, exp)
}

// dropBothZero returns copies of a and b without the positions where both are 0.
func dropBothZero(a, b []float64) ([]float64, []float64) {
	var oa, ob []float64
	for i := range a {
		if a[i] != 0 || b[i] != 0 {
			oa, ob = append(oa, a[i]), append(ob, b[i])
		}
	}
	return oa, ob
}

// Chi2SF is the survival function of the χ² distribution with k degrees of
// freedom (scipy.stats.chi2.sf): the regularized upper incomplete gamma
// function Q(k/2, x/2).
func Chi2SF(x, k float64) float64 {
	if math.IsNaN(x) || k <= 0 {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	if math.IsInf(x, 1) {
		return 0
	}
	return gammaQ(k/2, x/2)
}

// gammaQ is the regularized upper incomplete gamma function: by the series
// of P for x < a+1, else by Lentz's continued fraction.
func gammaQ(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	front := math.Exp(a*math.Log(x) - x - lg)
	if x < a+1 {
		ap, del := a, 1/a
		s := del
		for range 10000 {
			ap++
			del *= x / ap
			s += del
			if math.Abs(del) < math.Abs(s)*1e-17 {
				break
			}
		}
		return 1 - s*front
	}
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 10000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-17 {
			break
		}
	}
	return front * h
}

// PSI is the population stability index as Evidently computes it from two
// histograms of counts on the same bins: Σ (b−c)·ln(b/c) over the shares b and
// c of each bin. Bins empty on both sides are left out; then a share of 0 is
// replaced, per side, by Evidently's fill (see EvidentlyShares).
func PSI(baseline, current []float64) float64 {
	b, c := dropBothZero(baseline, current)
	if len(b) == 0 {
		return math.NaN()
	}
	bs, cs := EvidentlyShares(b), EvidentlyShares(c)
	var psi float64
	for i := range bs {
		psi += (bs[i] - cs[i]) * math.Log(bs[i]/cs[i])
	}
	return psi
}

// EvidentlyShares returns counts as shares of their total with Evidently's
// zero fill (get_binned_data, feel_zeroes): every 0 becomes m/10⁶ when the
// smallest non-zero share m is at most 0.0001, else 0.0001.
func EvidentlyShares(counts []float64) []float64 {
	t := sum(counts)
	out := make([]float64, len(counts))
	m := math.Inf(1)
	for i, c := range counts {
		out[i] = c / t
		if out[i] != 0 {
			m = min(m, out[i])
		}
	}
	fill := 0.0001
	if m <= 0.0001 {
		fill = m / 1e6
	}
	for i := range out {
		if out[i] == 0 {
			out[i] = fill
		}
	}
	return out
}

// ZTest is Evidently's two-sided Z-test for the difference of two
// proportions: k1 of n1 baseline values and k2 of n2 current values are
// "positive" (not the first category in sorted order). It returns the
// statistic and p = 2(1 − Φ(|z|)); when both samples hold the one same
// value the p-value is 1 (Evidently's rule) and z is 0.
func ZTest(k1, n1, k2, n2 int64) (z, p float64) {
	if n1 <= 0 || n2 <= 0 {
		return math.NaN(), math.NaN()
	}
	if (k1 == 0 && k2 == 0) || (k1 == n1 && k2 == n2) {
		return 0, 1
	}
	f1, f2 := float64(n1), float64(n2)
	p1, p2 := float64(k1)/f1, float64(k2)/f2
	pp := (p1*f1 + p2*f2) / (f1 + f2)
	z = (p1 - p2) / math.Sqrt(pp*(1-pp)*(1/f1+1/f2))
	return z, math.Erfc(math.Abs(z) / math.Sqrt2)
}

// Bonferroni returns the per-test significance level α/m for m tests (α when
// m < 1), so that the family-wise error rate is at most α.
func Bonferroni(alpha float64, m int) float64 {
	if m < 1 {
		return alpha
	}
	return alpha / float64(m)
}
