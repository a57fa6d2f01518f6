// Package flights reads the flights-3m data set (../shared/data, see its
// README) into the features that the GBDT benchmark (bench/gbdt) and the
// XGBoost quality test (internal/train/gbdt) train on, and writes them in
// the binary layout that bench/gbdt/xgb_bench.py reads, so that Ferry and
// XGBoost see identical values and category codes.
//
// Features: month, weekday and hour (from date), distance (numeric), and
// origin and destination (categorical; code = index in the sorted list of
// airport codes of the rows read). Rows of January–April 2001 are the
// training part, May–June the validation part; the few July rows are
// dropped.
//
// The Parquet file is read with github.com/parquet-go/parquet-go directly, so
// the benchmark does not move with internal/dataset.
package flights

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ferry-ml/ferry/internal/model/native"
)

// Part is one side of the time split: the features (month, weekday, hour,
// distance, origin, destination, in this order) and each row's delay in
// minutes.
type Part struct {
	Features []native.Feature
	Delay    []float64
}

// NumRows is the number of rows.
func (p *Part) NumRows() int { return len(p.Delay) }

// Late is the binary label: 1 when the delay is over 15 minutes, else 0.
func (p *Part) Late() []float64 {
	y := make([]float64, len(p.Delay))
	for i, d := range p.Delay {
		if d > 15 {
			y[i] = 1
		}
	}
	return y
}

// ClippedDelay is the regression label: the delay clipped to [lo, hi].
func (p *Part) ClippedDelay(lo, hi float64) []float64 {
	y := make([]float64, len(p.Delay))
	for i, d := range p.Delay {
		y[i] = min(max(d, lo), hi)
	}
	return y
}

// Load reads the flights file at path, keeping every every-th row (row 0,
// every, 2·every, …; every <= 1 keeps all rows), and splits the rows by
// month into training (January–April) and validation (May–June).
func Load(path string, every int) (train, valid *Part, err error) {
	every = max(every, 1)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, fld := range pf.Schema().Fields() {
		col[fld.Name()] = i
	}
	for _, name := range []string{"date", "delay", "distance", "origin", "destination"} {
		if _, ok := col[name]; !ok {
			return nil, nil, fmt.Errorf("%s: no column %q", path, name)
		}
	}
	n := int(pf.NumRows())/every + 1
	month := make([]int8, 0, n)
	weekday := make([]int8, 0, n)
	hour := make([]int8, 0, n)
	dist := make([]int32, 0, n)
	delay := make([]int32, 0, n)
	origin := make([]int32, 0, n) // codes in order of first appearance, sorted below
	dest := make([]int32, 0, n)
	r := parquet.NewReader(pf)
	defer r.Close()
	rows := make([]parquet.Row, 4096)
	oDict, dDict := map[string]int32{}, map[string]int32{}
	code := func(dict map[string]int32, v parquet.Value) int32 {
		c, ok := dict[string(v.ByteArray())]
		if !ok {
			c = int32(len(dict))
			dict[string(v.ByteArray())] = c
		}
		return c
	}
	seen := 0
	for {
		k, err := r.ReadRows(rows)
		for _, row := range rows[:k] {
			seen++
			if (seen-1)%every != 0 {
				continue
			}
			vals := [5]parquet.Value{row[col["date"]], row[col["delay"]], row[col["distance"]], row[col["origin"]], row[col["destination"]]}
			for _, v := range vals {
				if v.IsNull() {
					return nil, nil, fmt.Errorf("%s: null values are not expected", path)
				}
			}
			t := time.UnixMicro(vals[0].Int64()).UTC()
			month = append(month, int8(t.Month()))
			weekday = append(weekday, int8(t.Weekday()))
			hour = append(hour, int8(t.Hour()))
			dist = append(dist, int32(vals[2].Int64()))
			delay = append(delay, int32(vals[1].Int64()))
			origin = append(origin, code(oDict, vals[3]))
			dest = append(dest, code(dDict, vals[4]))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	oLevels, oCodes := sortCodes(oDict, origin)
	dLevels, dCodes := sortCodes(dDict, dest)
	var trIdx, vaIdx []int
	for i, mo := range month {
		switch {
		case mo <= 4:
			trIdx = append(trIdx, i)
		case mo <= 6:
			vaIdx = append(vaIdx, i)
		}
	}
	names := [...]string{"month", "weekday", "hour", "distance", "origin", "destination"}
	build := func(idx []int) *Part {
		p := &Part{Delay: make([]float64, len(idx))}
		num := [][]float64{make([]float64, len(idx)), make([]float64, len(idx)), make([]float64, len(idx)), make([]float64, len(idx))}
		codes := [][]int32{make([]int32, len(idx)), make([]int32, len(idx))}
		for k, i := range idx {
			num[0][k], num[1][k], num[2][k], num[3][k] = float64(month[i]), float64(weekday[i]), float64(hour[i]), float64(dist[i])
			codes[0][k], codes[1][k] = oCodes[i], dCodes[i]
			p.Delay[k] = float64(delay[i])
		}
		for j := range 4 {
			p.Features = append(p.Features, native.Feature{Name: names[j], Num: num[j]})
		}
		p.Features = append(p.Features,
			native.Feature{Name: names[4], Codes: codes[0], Levels: oLevels},
			native.Feature{Name: names[5], Codes: codes[1], Levels: dLevels})
		return p
	}
	return build(trIdx), build(vaIdx), nil
}

// sortCodes renumbers codes given in order of first appearance (dict) so
// that a code is the index of its string in the sorted list of strings.
func sortCodes(dict map[string]int32, codes []int32) ([]string, []int32) {
	levels := make([]string, 0, len(dict))
	for v := range dict {
		levels = append(levels, v)
	}
	slices.Sort(levels)
	remap := make([]int32, len(dict))
	for i, v := range levels {
		remap[dict[v]] = int32(i)
	}
	for i, c := range codes {
		codes[i] = remap[c]
	}
	return levels, codes
}

// WriteBin writes features and label to path for xgb_bench.py: an int64 row
// count, then each feature column (category codes for categorical ones) and
// the label, each as n little-endian float32 values. Every value of this
// data set (small integers) is exact in float32.
func WriteBin(path string, features []native.Feature, label []float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	n := len(label)
	if err := binary.Write(w, binary.LittleEndian, int64(n)); err != nil {
		return err
	}
	buf := make([]byte, 4*n)
	put := func(i int, v float64) { binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(v))) }
	for _, ft := range features {
		for i := range n {
			if ft.Codes != nil {
				put(i, float64(ft.Codes[i]))
			} else {
				put(i, ft.Num[i])
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	for i, y := range label {
		put(i, y)
	}
	if _, err := w.Write(buf); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// ReadFloat64s reads a file of little-endian float64 values (the
// predictions xgb_bench.py writes with --pred).
func ReadFloat64s(path string) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%s: %d bytes, not a whole number of float64 values", path, len(b))
	}
	v := make([]float64, len(b)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v, nil
}
