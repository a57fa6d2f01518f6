package drift

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/monitor/drift"
)

// table is the benchmark's baseline and current data, as
// `scipy_drift.py gen` wrote it.
type table struct {
	rows      int
	base, cur *dataset.Frame
}

func load(b *testing.B) table {
	b.Helper()
	dir := os.Getenv("FERRY_BENCH_DRIFT_DIR")
	if dir == "" {
		b.Skip("FERRY_BENCH_DRIFT_DIR is not set; run bench/drift/run.sh")
	}
	var meta struct {
		Rows    int `json:"rows"`
		Columns []struct {
			Name, Kind, File string
			Levels           int
		} `json:"columns"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "columns.json"))
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		b.Fatal(err)
	}
	var base, cur []*dataset.Column
	for _, c := range meta.Columns {
		for side, out := range map[string]*[]*dataset.Column{"base": &base, "cur": &cur} {
			ext := map[string]string{"numeric": "f64", "categorical": "i32"}[c.Kind]
			raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s_%s.%s", side, c.File, ext)))
			if err != nil {
				b.Fatal(err)
			}
			if c.Kind == "numeric" {
				x := make([]float64, len(raw)/8)
				for i := range x {
					x[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
				}
				*out = append(*out, dataset.NewNumeric(c.Name, x))
				continue
			}
			col := &dataset.Column{Name: c.Name, Kind: dataset.KindCategorical, Codes: make([]int32, len(raw)/4)}
			for i := range col.Codes {
				col.Codes[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			for l := range c.Levels {
				col.Levels = append(col.Levels, fmt.Sprintf("v%03d", l))
			}
			*out = append(*out, col)
		}
	}
	fb, err := dataset.NewFrame(base...)
	if err != nil {
		b.Fatal(err)
	}
	fc, err := dataset.NewFrame(cur...)
	if err != nil {
		b.Fatal(err)
	}
	return table{rows: meta.Rows, base: fb, cur: fc}
}

// BenchmarkDriftFromProfiles times the drift of the current table against
// the baseline from their stored profiles (profiling is done before the
// timer and is not part of the figure): per column the default metric
// (normalized Wasserstein or Jensen–Shannon), then also a test (KS or
// chi-square, Bonferroni-corrected): the statistics scipy_drift.py computes
// on the raw rows.
func BenchmarkDriftFromProfiles(b *testing.B) {
	t := load(b)
	pb := t.base.Profile()
	pc, err := dataset.ProfileWithEdges(t.cur, pb.Edges())
	if err != nil {
		b.Fatal(err)
	}
	// Stored profiles are read back from JSON, as the monitor reads them.
	pb, pc = roundTrip(b, pb), roundTrip(b, pc)
	tests := drift.Config{Numeric: drift.Metric{Name: drift.MetricKS, Threshold: 0.05},
		Categorical: drift.Metric{Name: drift.MetricChiSquare, Threshold: 0.05}, Bonferroni: true}
	for _, bc := range []struct {
		name string
		cfgs []drift.Config
	}{
		{"defaults", []drift.Config{{}}},
		{"defaults+tests", []drift.Config{{}, tests}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				for _, cfg := range bc.cfgs {
					rs, err := drift.CompareProfiles(pb, pc, cfg)
					if err != nil || len(rs) != 20 {
						b.Fatalf("%d results, %v", len(rs), err)
					}
				}
			}
		})
	}
}

func roundTrip(b *testing.B, p dataset.Profile) dataset.Profile {
	raw, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	var out dataset.Profile
	if err := json.Unmarshal(raw, &out); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkDriftExactRaw times Ferry's exact functions on the raw rows (the
// same statistics as SciPy; numeric columns only, the costly part), for
// comparison with both.
func BenchmarkDriftExactRaw(b *testing.B) {
	t := load(b)
	for b.Loop() {
		for i, c := range t.base.Columns {
			if c.Kind != dataset.KindNumeric {
				continue
			}
			x := t.cur.Columns[i].Num
			_ = drift.WassersteinNorm(c.Num, x)
			_ = drift.KS2Samp(c.Num, x)
		}
	}
}
