package servingbench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/native"
	"github.com/ferry-ml/ferry/internal/serving"
)

// ScoreRows is the number of rows of BenchmarkScoreFile.
const ScoreRows = 200_000

// BenchmarkScoreFile scores the first 200,000 rows of FERRY_BENCH_PREDICT_DATA
// (flights-3m.parquet; skipped when unset) with serving.ScoreFile — the engine
// of `ferry predict` — in batches of 10,000 into Parquet, CSV and JSON Lines,
// and reports rows/s. The model is the native flights model of
// FERRY_BENCH_PREDICT_MODEL (a package directory, as bench/serving/predict.sh
// trains it), or, when that is unset, the fast fake, which isolates the cost
// of reading and writing.
func BenchmarkScoreFile(b *testing.B) {
	data := os.Getenv("FERRY_BENCH_PREDICT_DATA")
	if data == "" {
		b.Skip("set FERRY_BENCH_PREDICT_DATA to flights-3m.parquet")
	}
	var m runtime.Model = fastFake{}
	sig := flightsSignature()
	if dir := os.Getenv("FERRY_BENCH_PREDICT_MODEL"); dir != "" {
		pkg, err := model.Load(context.Background(), dir)
		if err != nil {
			b.Fatal(err)
		}
		if m, err = native.Load(context.Background(), pkg); err != nil {
			b.Fatal(err)
		}
		sig = pkg.Manifest.Signature
	}
	defer m.Close()
	for _, ext := range []string{"parquet", "csv", "jsonl"} {
		b.Run(ext, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "scored."+ext)
			for b.Loop() {
				res, err := serving.ScoreFile(context.Background(), m, sig, data, out, serving.ScoreOptions{BatchSize: 10000, Limit: ScoreRows, Overwrite: true})
				if err != nil || res.Rows != ScoreRows {
					b.Fatalf("%d rows: %v", res.Rows, err)
				}
			}
			b.ReportMetric(float64(ScoreRows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
