package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// newRand returns the generator of the splits: PCG seeded from seed alone, so
// a split is reproducible from its seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// RandomSplit deals the rows 0..n-1 into len(fractions) parts of sizes
// proportional to fractions (weights are normalised, like Spark's
// randomSplit; sizes are rounded so that they add up to n), shuffled by a PCG
// generator seeded with seed. Each part is in ascending row order. The same
// n, fractions and seed always give the same parts.
//
// It panics when a fraction is negative, NaN or infinite, or when all are 0:
// fractions come from the program, not from data.
func RandomSplit(n int, fractions []float64, seed uint64) [][]int {
	var total float64
	for _, f := range fractions {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			panic(fmt.Sprintf("dataset: RandomSplit fraction %v is not a non-negative number", f))
		}
		total += f
	}
	if total == 0 {
		panic("dataset: RandomSplit fractions are all zero")
	}
	perm := newRand(seed).Perm(n)
	parts := make([][]int, len(fractions))
	var cum float64
	start := 0
	for i, f := range fractions {
		cum += f
		end := int(math.Round(cum / total * float64(n)))
		if i == len(fractions)-1 {
			end = n
		}
		end = min(max(end, start), n)
		parts[i] = slices.Clone(perm[start:end])
		slices.Sort(parts[i])
		start = end
	}
	return parts
}

// TimeSplit splits the rows of a timestamp column at cut: before holds the
// rows with a time earlier than cut, after those at or later than cut, both in
// ascending order. Rows with a missing time are in neither.
//
// col must be a timestamp column (check its Kind); TimeSplit panics otherwise.
func TimeSplit(col *Column, cut time.Time) (before, after []int) {
	if col.Kind != KindTimestamp {
		panic(fmt.Sprintf("dataset: TimeSplit on column '%s' of kind %s, not timestamp", col.Name, col.Kind))
	}
	c := cut.UnixNano()
	for i, t := range col.Time {
		switch {
		case t == MissingTime:
		case t < c:
			before = append(before, i)
		default:
			after = append(after, i)
		}
	}
	return before, after
}

// GroupSplit splits rows so that all rows with the same value of col (a
// customer, a patient, a store) are on the same side; missing values form one
// group. Groups are shuffled by a PCG generator seeded with seed and dealt to a
// until it holds at least fraction of the rows; the rest go to b. So a holds
// fraction of the rows up to the size of one group. Both are in ascending
// order, and the same column, fraction and seed give the same split.
//
// It panics when fraction is outside [0, 1]: fractions come from the program,
// not from data.
func GroupSplit(col *Column, fraction float64, seed uint64) (a, b []int) {
	if !(fraction >= 0 && fraction <= 1) {
		panic(fmt.Sprintf("dataset: GroupSplit fraction %v is outside [0, 1]", fraction))
	}
	n := col.Len()
	group := make([]int32, n) // row → group id in first-seen order
	var sizes []int
	switch col.Kind {
	case KindCategorical:
		ids := make(map[int32]int32)
		for i, code := range col.Codes {
			id, ok := ids[code]
			if !ok {
				id = int32(len(sizes))
				ids[code] = id
				sizes = append(sizes, 0)
			}
			group[i] = id
			sizes[id]++
		}
	default:
		ids := make(map[uint64]int32)
		for i := range n {
			var key uint64
			if col.Kind == KindNumeric {
				x := col.Num[i]
				switch {
				case math.IsNaN(x):
					x = math.NaN() // one missing group
				case x == 0:
					x = 0 // -0 and 0 are one group
				}
				key = math.Float64bits(x)
			} else {
				key = uint64(col.Time[i])
			}
			id, ok := ids[key]
			if !ok {
				id = int32(len(sizes))
				ids[key] = id
				sizes = append(sizes, 0)
			}
			group[i] = id
			sizes[id]++
		}
	}
	order := newRand(seed).Perm(len(sizes))
	inA := make([]bool, len(sizes))
	target := int(math.Round(fraction * float64(n)))
	taken := 0
	for _, g := range order {
		if taken >= target {
			break
		}
		inA[g] = true
		taken += sizes[g]
	}
	for i, g := range group {
		if inA[g] {
			a = append(a, i)
		} else {
			b = append(b, i)
		}
	}
	return a, b
}
