package drift

import (
	"math"
	"slices"
)

// KSMethod says how a two-sample Kolmogorov–Smirnov p-value was computed.
type KSMethod string

// The methods of KSPValue, named as SciPy names them.
const (
	KSExact KSMethod = "exact" // the exact null distribution (Hodges; Viehmann's 1-p recursion)
	KSAsymp KSMethod = "asymp" // kstwo.sf(D, round(n1·n2/(n1+n2)))
)

// ksMaxExactN is SciPy's MAX_AUTO_N: method 'auto' is exact when both
// samples have at most this many values.
const ksMaxExactN = 10000

// KSResult is a two-sided two-sample Kolmogorov–Smirnov test.
type KSResult struct {
	Statistic float64  `json:"statistic"`
	PValue    float64  `json:"p_value"`
	Method    KSMethod `json:"method"`
}

// KS2Samp is scipy.stats.ks_2samp(a, b) (two-sided, method 'auto') on raw
// samples, without NaN: the statistic D = sup |F_a − F_b| of the empirical
// CDFs and its p-value from KSPValue. It does not modify a or b. Both must be
// non-empty; otherwise the result is NaN.
func KS2Samp(a, b []float64) KSResult {
	if len(a) == 0 || len(b) == 0 {
		return KSResult{Statistic: math.NaN(), PValue: math.NaN()}
	}
	a, b = sorted(a), sorted(b)
	n1, n2 := float64(len(a)), float64(len(b))
	// Walk the merged values; after all values ≤ x are passed, i/n1 − j/n2 is
	// SciPy's cddiffs at x (searchsorted side='right').
	var hi, lo float64
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		x := math.Inf(1)
		if i < len(a) {
			x = a[i]
		}
		if j < len(b) && b[j] < x {
			x = b[j]
		}
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d := float64(i)/n1 - float64(j)/n2
		hi, lo = max(hi, d), min(lo, d)
	}
	d := hi
	if -lo > hi {
		d = min(-lo, 1)
	}
	return KSPValue(len(a), len(b), d)
}

// KSPValue is the two-sided p-value of the statistic d of samples of n1 and
// n2 values, chosen as SciPy 1.10's ks_2samp(method='auto') chooses: exact
// when max(n1, n2) ≤ 10,000 (falling back to asymp if the exact computation
// is not finite or not in [0, 1]), else asymp. Exact rounds the statistic to
// the lattice h/lcm(n1, n2), as SciPy does, and returns the rounded value.
func KSPValue(n1, n2 int, d float64) KSResult {
	if n1 <= 0 || n2 <= 0 || math.IsNaN(d) {
		return KSResult{Statistic: math.NaN(), PValue: math.NaN()}
	}
	if max(n1, n2) <= ksMaxExactN {
		g := gcd(n1, n2)
		lcm := float64(n1/g) * float64(n2)
		h := int(math.RoundToEven(d * lcm))
		dr := float64(h) / lcm
		if h == 0 {
			return KSResult{Statistic: dr, PValue: 1, Method: KSExact}
		}
		var p float64
		if n1 == n2 {
			p = ksProbOutsideSquare(n1, h)
		} else {
			p = ksOuterProbInside(n1, n2, g, h)
		}
		if p >= 0 && p <= 1 {
			return KSResult{Statistic: dr, PValue: p, Method: KSExact}
		}
		d = dr
	}
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := math.RoundToEven(m * n / (m + n))
	p := kstwoSF(int(en), d)
	return KSResult{Statistic: d, PValue: min(max(p, 0), 1), Method: KSAsymp}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func sorted(x []float64) []float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s
}

// ksProbOutsideSquare is Pr(D_{n,n} ≥ h/n) (SciPy's
// _compute_prob_outside_square, a Horner-like alternating sum).
func ksProbOutsideSquare(n, h int) float64 {
	p := 0.0
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := 0; j < h; j++ {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		p = p1 * (1 - p)
	}
	return 2 * p
}

// ksOuterProbInside is the proportion of lattice paths from (0,0) to (m,n)
// that leave the band |x/m − y/n| < h/lcm(m,n) (SciPy's
// _compute_outer_prob_inside_method, Viehmann's recursion for 1−p).
func ksOuterProbInside(m, n, g, h int) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj, maxj := 0, min(int(math.Ceil(float64(h)/float64(mg))), n+1)
	curlen := maxj - minj
	a := make([]float64, min(2*maxj+2, n+1))
	for i := range a {
		a[i] = 1
	}
	for i := minj; i < maxj; i++ {
		a[i] = 0
	}
	for i := 1; i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(int(math.Floor(float64(ng*i-h)/float64(mg)))+1, 0)
		minj = min(minj, n)
		maxj = min(int(math.Ceil(float64(ng*i+h)/float64(mg))), n+1)
		if maxj <= minj {
			return 1
		}
		val := 1.0
		if minj == 0 {
			val = 0
		}
		for jj := 0; jj < maxj-minj; jj++ {
			j := jj + minj
			val = (a[jj+minj-lastminj]*float64(i) + val*float64(j)) / float64(i+j)
			a[jj] = val
		}
		curlen = maxj - minj
		for k := curlen; k < curlen+(lastlen-curlen) && k < len(a); k++ {
			a[k] = 1
		}
	}
	return a[maxj-minj-1]
}

// kstwoSF is scipy.stats.kstwo.sf(x, n): Pr(D_n > x) for the two-sided
// one-sample statistic, by SciPy's choice of algorithm (Simard & L'Ecuyer).
// Where SciPy uses Pomeranz's recursion (n ≤ 140, 0.754693 < n·x² ≤ 4) this
// uses the Durbin matrix, which computes the same exact probability.
func kstwoSF(n int, x float64) float64 {
	nf := float64(n)
	switch {
	case n <= 0 || math.IsNaN(x):
		return math.NaN()
	case x >= 1:
		return 0
	case x <= 0:
		return 1
	}
	t := nf * x
	if t <= 1 {
		if t <= 0.5 {
			return 1
		}
		var p float64
		if n <= 140 {
			p = 1
			for i := 1; i <= n; i++ {
				p *= float64(i) * (1 / nf) * (2*t - 1)
			}
		} else {
			p = math.Exp(logNFactorialDivNPowN(nf) + nf*math.Log(2*t-1))
		}
		return clip01(1 - p)
	}
	if t >= nf-1 {
		return clip01(2 * math.Pow(1-x, nf))
	}
	if x >= 0.5 {
		return clip01(2 * smirnovSF(n, x))
	}
	nx2 := t * x
	if n <= 140 {
		if nx2 <= 4 {
			return clip01(1 - kolmogDurbin(n, x))
		}
		return clip01(2 * smirnovSF(n, x))
	}
	switch {
	case nx2 >= 370:
		return 0
	case nx2 >= 2.2:
		return clip01(2 * smirnovSF(n, x))
	case n <= 100000 && nf*math.Pow(x, 1.5) <= 1.4:
		return clip01(1 - kolmogDurbin(n, x))
	default:
		return clip01(1 - kolmogPelzGood(n, x))
	}
}

func clip01(p float64) float64 { return min(max(p, 0), 1) }

// logNFactorialDivNPowN is log(n!/n^n) by Stirling's series (SciPy's
// _log_nfactorial_div_n_pow_n).
func logNFactorialDivNPowN(n float64) float64 {
	coeffs := []float64{-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2}
	rn := 1 / n
	poly := 0.0
	for _, c := range coeffs {
		poly = poly*(rn/n) + c
	}
	return math.Log(n)/2 - n + math.Log(2*math.Pi)/2 + rn*poly
}

// smirnovSF is the exact one-sided Smirnov survival function Pr(D_n^+ ≥ e)
// by the Birnbaum–Tingey sum.
func smirnovSF(n int, e float64) float64 {
	if !(e >= 0 && e <= 1) {
		return math.NaN()
	}
	if e == 0 {
		return 1
	}
	nf := float64(n)
	nn := int(math.Floor(nf * (1 - e)))
	lgn1, _ := math.Lgamma(nf + 1)
	p, prev, peaked := 0.0, 0.0, false
	for v := 0; v <= nn; v++ {
		evn := e + float64(v)/nf
		omevn := 1 - evn
		if omevn <= 0 {
			continue
		}
		lv, _ := math.Lgamma(float64(v + 1))
		lnv, _ := math.Lgamma(float64(n - v + 1))
		t := lgn1 - lv - lnv + float64(v-1)*math.Log(evn) + float64(n-v)*math.Log(omevn)
		term := 0.0
		if t > -745 {
			term = math.Exp(t)
		}
		p += term
		// The terms are unimodal in v: past the peak, stop once they no
		// longer change the sum.
		peaked = peaked || term < prev
		if peaked && term <= p*1e-18 {
			break
		}
		prev = term
	}
	return p * e
}

// kolmogDurbin is Pr(D_n ≤ d) by the Durbin matrix method as Marsaglia, Tsang
// and Wang compute it (SciPy's _kolmogn_DMTW).
func kolmogDurbin(n int, d float64) float64 {
	const e128 = 128
	ep128 := math.Ldexp(1, e128)
	em128 := math.Ldexp(1, -e128)
	if d >= 1 {
		return 1
	}
	nd := float64(n) * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1
	H := newMat(m)
	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		v[j-1] = 1 - math.Pow(h, float64(j))
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] *= fac
	}
	tt := math.Pow(max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1 + tt) * fac
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H.set(r, i, w[r-(i-1)])
		}
	}
	for r := 0; r < m; r++ {
		H.set(r, 0, v[r])
	}
	for c := 0; c < m; c++ {
		H.set(m-1, c, v[m-1-c])
	}
	pw := identity(m)
	expnt, hexpnt := 0, 0
	for nn := n; nn > 0; nn /= 2 {
		if nn%2 == 1 {
			pw = pw.mul(H)
			expnt += hexpnt
		}
		H = H.mul(H)
		hexpnt *= 2
		if math.Abs(H.at(k-1, k-1)) > ep128 {
			H.scale(1 / ep128)
			hexpnt += e128
		}
	}
	p := pw.at(k-1, k-1)
	for i := 1; i <= n; i++ {
		p = float64(i) * p / float64(n)
		if math.Abs(p) < em128 {
			p *= ep128
			expnt -= e128
		}
	}
	if expnt != 0 {
		p = math.Ldexp(p, expnt)
	}
	return clip01(p)
}

// mat is a dense square matrix, row-major.
type mat struct {
	n int
	a []float64
}

func newMat(n int) mat { return mat{n, make([]float64, n*n)} }

func identity(n int) mat {
	m := newMat(n)
	for i := range n {
		m.a[i*n+i] = 1
	}
	return m
}

func (m mat) at(r, c int) float64     { return m.a[r*m.n+c] }
func (m mat) set(r, c int, v float64) { m.a[r*m.n+c] = v }

func (m mat) scale(s float64) {
	for i := range m.a {
		m.a[i] *= s
	}
}

func (m mat) mul(o mat) mat {
	out := newMat(m.n)
	for i := 0; i < m.n; i++ {
		row := out.a[i*m.n : (i+1)*m.n]
		for k := 0; k < m.n; k++ {
			x := m.a[i*m.n+k]
			if x == 0 {
				continue
			}
			orow := o.a[k*m.n : (k+1)*m.n]
			for j, y := range orow {
				row[j] += x * y
			}
		}
	}
	return out
}

// kolmogPelzGood is the Pelz–Good approximation of Pr(D_n ≤ x) (SciPy's
// _kolmogn_PelzGood).
func kolmogPelzGood(n int, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	pi2, pi4, pi6 := math.Pi*math.Pi, math.Pow(math.Pi, 4), math.Pow(math.Pi, 6)
	sqrt2pi := math.Sqrt(2 * math.Pi)
	z := math.Sqrt(float64(n)) * x
	z2, z3, z4, z6 := z*z, z*z*z, z*z*z*z, math.Pow(z, 6)
	qlog := -pi2 / 8 / z2
	if qlog < -708 {
		return 0
	}
	q := math.Exp(qlog)
	k1a, k1b := -z2, pi2/4
	k2a := 6*z6 + 2*z4
	k2b := (2*z4 - 5*z2) * pi2 / 4
	k2c := pi4 * (1 - 2*z2) / 16
	k3d := pi6 * (5 - 30*z2) / 64
	k3c := pi4 * (-60*z2 + 212*z4) / 16
	k3b := pi2 * (135*z4 - 96*z6) / 4
	k3a := -30*z6 - 90*math.Pow(z, 8)
	var K [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		m2, m4, m6 := m*m, m*m*m*m, math.Pow(m, 6)
		qp := math.Pow(q, float64(8*k))
		c := [4]float64{1, k1a + k1b*m2, k2a + k2b*m2 + k2c*m4, k3a + k3b*m2 + k3c*m4 + k3d*m6}
		for i := range K {
			K[i] = K[i]*qp + c[i]
		}
	}
	div := [4]float64{z, 6 * z4, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range K {
		K[i] = K[i] * q * sqrt2pi / div[i]
	}
	q = math.Exp(-pi2 / 2 / z2)
	var k2extra, k3extra float64
	sqrt3z := math.Sqrt(3) * z
	for k := maxk; k > 0; k-- {
		kf := float64(k)
		qp := math.Pow(q, kf*kf)
		k2extra += kf * kf * qp
		kspi := math.Pi * kf
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * kf * kf * qp
	}
	K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3)
	K[3] += k3extra * pi2 * sqrt2pi / (216 * z6)
	sum := 0.0
	for i := range K {
		sum += K[i] / math.Pow(float64(n), float64(i)/2)
	}
	return sum
}
