package dataset

import (
	"math"
	"math/bits"
	"slices"
)

// SketchAlpha is the relative accuracy of the quantile sketch: a quantile it
// returns is within ±1% of the value of the true sample quantile (the value
// at rank ⌊q·(n-1)⌋ of the sorted finite values), as long as the data span
// fewer than sketchMaxBuckets buckets per sign (values from x to x·1.02^2048,
// about 17 orders of magnitude). Wider data lose accuracy only for the values
// closest to zero.
const SketchAlpha = 0.01

// sketchMaxBuckets bounds the buckets kept per sign.
const sketchMaxBuckets = 2048

// Sketch is a mergeable quantile sketch with relative value accuracy (the
// DDSketch of Masson, Rim and Lee, 2019): each finite non-zero value is
// counted in the logarithmic bucket ⌈log_γ |x|⌉, γ = (1+α)/(1-α), of its sign.
// Sketches of the same α merge exactly by adding counts, so a merge of the
// sketches of two parts equals the sketch of the whole.
type Sketch struct {
	Alpha float64 `json:"alpha"`
	Zeros int64   `json:"zeros"`
	Pos   Buckets `json:"pos"` // positive values
	Neg   Buckets `json:"neg"` // negative values, by |x|
}

// Buckets is a sparse list of bucket counts, by ascending index.
type Buckets struct {
	Index []int32 `json:"index"`
	Count []int64 `json:"count"`
}

// sketchBuilder accumulates a Sketch in dense arrays.
type sketchBuilder struct {
	logGamma float64
	zeros    int64
	pos, neg denseStore
}

func newSketchBuilder() *sketchBuilder {
	return &sketchBuilder{logGamma: math.Log((1 + SketchAlpha) / (1 - SketchAlpha))}
}

// add counts the finite value x.
func (b *sketchBuilder) add(x float64) {
	switch {
	case x > 0:
		b.pos.add(int32(math.Ceil(math.Log(x) / b.logGamma)))
	case x < 0:
		b.neg.add(int32(math.Ceil(math.Log(-x) / b.logGamma)))
	default:
		b.zeros++
	}
}

func (b *sketchBuilder) sketch() Sketch {
	return Sketch{Alpha: SketchAlpha, Zeros: b.zeros, Pos: b.pos.buckets(), Neg: b.neg.buckets()}
}

// denseStore counts bucket indices in a slice that grows at either end.
type denseStore struct {
	offset int32
	counts []int64
}

func (s *denseStore) add(i int32) {
	if len(s.counts) == 0 {
		s.offset = i
		s.counts = make([]int64, 1, 64)
	}
	if i < s.offset {
		grow := int(s.offset - i)
		s.counts = append(make([]int64, grow, grow+len(s.counts)+64), s.counts...)
		s.offset = i
	}
	j := int(i - s.offset)
	if j >= len(s.counts) {
		s.counts = append(s.counts, make([]int64, j-len(s.counts)+1)...)
	}
	s.counts[j]++
}

func (s *denseStore) buckets() Buckets {
	var b Buckets
	for j, c := range s.counts {
		if c != 0 {
			b.Index = append(b.Index, s.offset+int32(j))
			b.Count = append(b.Count, c)
		}
	}
	return b.collapse()
}

// collapse merges the lowest buckets (the values nearest zero) so that at most
// sketchMaxBuckets remain.
func (b Buckets) collapse() Buckets {
	extra := len(b.Index) - sketchMaxBuckets
	if extra <= 0 {
		return b
	}
	var sum int64
	for _, c := range b.Count[:extra+1] {
		sum += c
	}
	out := Buckets{Index: slices.Clone(b.Index[extra:]), Count: slices.Clone(b.Count[extra:])}
	out.Count[0] = sum
	return out
}

// mergeBuckets adds two bucket lists.
func mergeBuckets(a, b Buckets) Buckets {
	var out Buckets
	i, j := 0, 0
	for i < len(a.Index) || j < len(b.Index) {
		switch {
		case j == len(b.Index) || (i < len(a.Index) && a.Index[i] < b.Index[j]):
			out.Index, out.Count = append(out.Index, a.Index[i]), append(out.Count, a.Count[i])
			i++
		case i == len(a.Index) || b.Index[j] < a.Index[i]:
			out.Index, out.Count = append(out.Index, b.Index[j]), append(out.Count, b.Count[j])
			j++
		default:
			out.Index, out.Count = append(out.Index, a.Index[i]), append(out.Count, a.Count[i]+b.Count[j])
			i, j = i+1, j+1
		}
	}
	return out.collapse()
}

// count returns the number of values in the sketch.
func (s Sketch) count() int64 {
	n := s.Zeros
	for _, c := range s.Pos.Count {
		n += c
	}
	for _, c := range s.Neg.Count {
		n += c
	}
	return n
}

// Quantile returns the estimated q-quantile (0 ≤ q ≤ 1) of the values, NaN
// for an empty sketch.
func (s Sketch) Quantile(q float64) float64 {
	n := s.count()
	if n == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	q = min(max(q, 0), 1)
	rank := int64(q * float64(n-1))
	gamma := (1 + s.Alpha) / (1 - s.Alpha)
	value := func(i int32) float64 { return 2 * math.Pow(gamma, float64(i)) / (gamma + 1) }
	var seen int64
	for k := len(s.Neg.Index) - 1; k >= 0; k-- {
		seen += s.Neg.Count[k]
		if seen > rank {
			return -value(s.Neg.Index[k])
		}
	}
	seen += s.Zeros
	if seen > rank {
		return 0
	}
	for k := range s.Pos.Index {
		seen += s.Pos.Count[k]
		if seen > rank {
			return value(s.Pos.Index[k])
		}
	}
	return value(s.Pos.Index[len(s.Pos.Index)-1])
}

// ddSum is a double-double accumulator: hi+lo holds a sum with about 106 bits
// of precision, so that sums of parts merge to the sum of the whole.
type ddSum struct{ hi, lo float64 }

// twoSum returns a+b and the rounding error of that addition (Knuth).
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return s, e
}

func (d *ddSum) add(x float64) {
	s, e := twoSum(d.hi, x)
	d.hi, d.lo = s, d.lo+e
}

func (d ddSum) plus(o ddSum) ddSum {
	s, e := twoSum(d.hi, o.hi)
	return ddSum{s, e + d.lo + o.lo}.norm()
}

func (d ddSum) norm() ddSum {
	s, e := twoSum(d.hi, d.lo)
	return ddSum{s, e}
}

// hllPrecision is the number of index bits of the distinct-count sketch:
// 1024 one-byte registers, a standard error of about 3%.
const hllPrecision = 10

// hllAdd adds the string s to the registers.
func hllAdd(regs []byte, s string) {
	h := hashString(s)
	idx := h >> (64 - hllPrecision)
	rho := byte(bits.LeadingZeros64(h<<hllPrecision|1<<(hllPrecision-1)) + 1)
	if rho > regs[idx] {
		regs[idx] = rho
	}
}

// hllEstimate returns the HyperLogLog estimate of the number of distinct
// strings added (with linear counting for small numbers).
func hllEstimate(regs []byte) float64 {
	m := float64(len(regs))
	var sum float64
	zeros := 0
	for _, r := range regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return e
}

// hashString is FNV-1a followed by the SplitMix64 finaliser: stable across
// processes and platforms, unlike maphash.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
