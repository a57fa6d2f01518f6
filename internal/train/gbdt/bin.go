package gbdt

import (
	"math"
	"slices"

	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/parallel"
)

// maxValueBins is the most value bins a feature can have: bin codes are
// uint8 and one code is kept for missing values.
const maxValueBins = 255

// binnedFeature is one feature quantised to uint8 bin codes, stored
// column-wise. Bins 0..numBins-1 hold values; bin numBins holds missing
// values (and, for categorical features, categories beyond the 255 most
// frequent).
type binnedFeature struct {
	bins        []uint8
	numBins     int
	categorical bool
	// upper[b] is the float32 threshold above bin b: a value v is in a bin
	// <= b exactly when float32(v) < upper[b]. Numeric features only.
	upper []float32
	// binCode[b] is the category code of bin b. Categorical features only.
	binCode []int32
}

func (f *binnedFeature) missingBin() int { return f.numBins }

// binFeatures quantises every feature, one goroutine per feature.
func binFeatures(features []native.Feature, maxBins, threads int) []binnedFeature {
	out := make([]binnedFeature, len(features))
	parallel.For(threads, len(features), func(j int) {
		if features[j].Categorical() {
			out[j] = binCategorical(features[j].Codes)
		} else {
			out[j] = binNumeric(features[j].Num, min(maxBins, maxValueBins))
		}
	})
	return out
}

// binLike bins another data set's feature f with the bins of b (a training
// feature): values route through binned splits exactly as their raw values
// route through the model's splits. Categories without a bin of their own
// (unseen in training, or beyond the 255 most frequent) get the missing bin.
func binLike(b *binnedFeature, f *native.Feature) []uint8 {
	out := make([]uint8, f.Len())
	miss := uint8(b.numBins)
	if b.categorical {
		lookup := map[int32]uint8{}
		for bin, c := range b.binCode {
			lookup[c] = uint8(bin)
		}
		for i, c := range f.Codes {
			if bin, ok := lookup[c]; ok {
				out[i] = bin
			} else {
				out[i] = miss
			}
		}
		return out
	}
	for i, v := range f.Num {
		if math.IsNaN(v) {
			out[i] = miss
		} else {
			out[i] = uint8(searchUpper(b.upper, float32(v)))
		}
	}
	return out
}

// binCategorical gives each category its own bin, the 255 most frequent ones
// when there are more (ties by lower code); the rest share the missing bin.
func binCategorical(codes []int32) binnedFeature {
	maxc := int32(-1)
	for _, c := range codes {
		maxc = max(maxc, c)
	}
	counts := make([]int, maxc+1)
	for _, c := range codes {
		if c >= 0 {
			counts[c]++
		}
	}
	var present []int32
	for c, n := range counts {
		if n > 0 {
			present = append(present, int32(c))
		}
	}
	if len(present) > maxValueBins {
		slices.SortStableFunc(present, func(a, b int32) int { return counts[b] - counts[a] })
		present = present[:maxValueBins]
		slices.Sort(present)
	}
	f := binnedFeature{categorical: true, numBins: len(present), binCode: present}
	lookup := make([]uint8, maxc+1)
	for c := range lookup {
		lookup[c] = uint8(len(present))
	}
	for b, c := range present {
		lookup[c] = uint8(b)
	}
	f.bins = make([]uint8, len(codes))
	for i, c := range codes {
		if c < 0 {
			f.bins[i] = uint8(len(present))
		} else {
			f.bins[i] = lookup[c]
		}
	}
	return f
}

// binNumeric cuts the float32 values of x into at most maxBins bins of about
// equal row counts; a value repeated more often than a bin's share gets a bin
// of its own. With at most maxBins distinct values every value has its own
// bin. Thresholds are float32 values seen in the data, so float32
// comparisons at prediction time route rows exactly as their bins did.
func binNumeric(x []float64, maxBins int) binnedFeature {
	keys := make([]uint32, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) {
			keys = append(keys, f32key(float32(v)))
		}
	}
	radixSort(keys)
	// distinct values and their counts
	var vals []float32
	var counts []int
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		vals = append(vals, f32unkey(keys[i]))
		counts = append(counts, j-i)
		i = j
	}
	f := binnedFeature{}
	if len(vals) <= maxBins {
		f.upper = make([]float32, len(vals))
		for b := range vals {
			if b+1 < len(vals) {
				f.upper[b] = vals[b+1]
			} else {
				f.upper[b] = float32(math.Inf(1))
			}
		}
	} else {
		remaining, binsLeft, cur := len(keys), maxBins, 0
		target := float64(remaining) / float64(binsLeft)
		for i := range vals {
			cur += counts[i]
			last := i == len(vals)-1
			// close the bin when it has its share, or when the next value
			// alone would overfill it; keep enough bins for the values left
			closeBin := !last && binsLeft > 1 &&
				(float64(cur) >= target || float64(cur+counts[i+1]) > 1.5*target && cur > 0)
			if closeBin {
				f.upper = append(f.upper, vals[i+1])
				remaining -= cur
				binsLeft--
				cur = 0
				target = float64(remaining) / float64(binsLeft)
			}
		}
		f.upper = append(f.upper, float32(math.Inf(1)))
	}
	if len(f.upper) == 0 { // every value missing
		f.upper = []float32{float32(math.Inf(1))}
	}
	f.numBins = len(f.upper)
	f.bins = make([]uint8, len(x))
	for i, v := range x {
		if math.IsNaN(v) {
			f.bins[i] = uint8(f.numBins)
			continue
		}
		f.bins[i] = uint8(searchUpper(f.upper, float32(v)))
	}
	return f
}

// searchUpper is the first bin b with v < upper[b].
func searchUpper(upper []float32, v float32) int {
	lo, hi := 0, len(upper)-1 // upper[len-1] is +Inf: the answer is <= hi
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if v < upper[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// f32key maps float32 to uint32 so that unsigned order is float order
// (-0 and +0 map to the same key).
func f32key(v float32) uint32 {
	if v == 0 {
		v = 0
	}
	b := math.Float32bits(v)
	if b&0x8000_0000 != 0 {
		return ^b
	}
	return b | 0x8000_0000
}

func f32unkey(k uint32) float32 {
	if k&0x8000_0000 != 0 {
		return math.Float32frombits(k &^ 0x8000_0000)
	}
	return math.Float32frombits(^k)
}

// radixSort sorts keys ascending (LSD, three 11-bit passes).
func radixSort(keys []uint32) {
	if len(keys) < 256 {
		slices.Sort(keys)
		return
	}
	buf := make([]uint32, len(keys))
	src, dst := keys, buf
	for shift := uint(0); shift < 32; shift += 11 {
		var count [2048]int
		for _, k := range src {
			count[(k>>shift)&2047]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, k := range src {
			d := (k >> shift) & 2047
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	// three passes: the result is in buf
	copy(keys, src)
}
