package predict

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"

	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/xgboost"
)

// fixture loads the benchmark model and its 1,000 rows and checks Ferry's
// predictions of them against XGBoost's (expected.f64) before any timing.
func fixture(b *testing.B) (*xgboost.Booster, []float32, int) {
	b.Helper()
	dir := os.Getenv("FERRY_BENCH_PREDICT_DIR")
	if dir == "" {
		b.Skip("FERRY_BENCH_PREDICT_DIR is not set; run bench/predict/run.sh")
	}
	booster, err := xgboost.LoadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "x1000.f32"))
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, len(raw)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	nf := booster.NumFeature()
	rows := len(x) / nf
	raw, err = os.ReadFile(filepath.Join(dir, "expected.f64"))
	if err != nil {
		b.Fatal(err)
	}
	if len(raw) != 8*rows {
		b.Fatalf("expected.f64 has %d bytes for %d rows", len(raw), rows)
	}
	out := []float64{0}
	var worst float64
	for r := range rows {
		booster.PredictRow(x[r*nf:(r+1)*nf], out)
		want := math.Float64frombits(binary.LittleEndian.Uint64(raw[8*r:]))
		worst = max(worst, math.Abs(out[0]-want))
	}
	if worst > 1e-6 {
		b.Fatalf("Ferry differs from XGBoost by up to %g", worst)
	}
	return booster, x, rows
}

// CPU clocks for cpuTime.
const (
	rusageSelf   = 0 // RUSAGE_SELF: every thread of the process
	rusageThread = 1 // RUSAGE_THREAD (Linux): the calling thread
)

// cpuTime returns the CPU time used by the calling OS thread or the whole
// process. On a machine shared with other work it is a steadier measure
// than wall time, which also counts the time spent waiting for a core.
func cpuTime(b *testing.B, who int) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkPredictRow predicts the 1,000 rows one at a time with PredictRow
// on one goroutine; one iteration is all 1,000 rows. It reports wall time
// (ns/row) and the thread's CPU time (cpu-ns/row) per row.
func BenchmarkPredictRow(b *testing.B) {
	booster, x, rows := fixture(b)
	nf := booster.NumFeature()
	out := []float64{0}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	b.ReportAllocs()
	cpu0 := cpuTime(b, rusageThread)
	for b.Loop() {
		for r := range rows {
			booster.PredictRow(x[r*nf:(r+1)*nf], out)
		}
	}
	cpu := cpuTime(b, rusageThread) - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	b.ReportMetric(float64(cpu)/float64(b.N*rows), "cpu-ns/row")
}

// BenchmarkPredictBatch predicts the 1,000 rows as one batch with
// Booster.Predict, which splits them over GOMAXPROCS goroutines, with
// GOMAXPROCS 1 and the number of CPUs; one iteration is the batch.
// cpu-ns/row is the process's CPU time (all threads) per row.
func BenchmarkPredictBatch(b *testing.B) {
	booster, x, rows := fixture(b)
	out := make([]float64, rows)
	ctx := context.Background()
	for _, procs := range []int{1, goruntime.NumCPU()} {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(procs))
			b.ReportAllocs()
			cpu0 := cpuTime(b, rusageSelf)
			for b.Loop() {
				if err := booster.Predict(ctx, x, rows, out); err != nil {
					b.Fatal(err)
				}
			}
			cpu := cpuTime(b, rusageSelf) - cpu0
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
			b.ReportMetric(float64(cpu)/float64(b.N*rows), "cpu-ns/row")
		})
	}
}

// BenchmarkModelPredict1 is one request of one row through runtime.Model
// (an FP32 [1, 20] tensor in, a new output tensor out): what serving adds
// to PredictRow, without any transport.
func BenchmarkModelPredict1(b *testing.B) {
	booster, x, rows := fixture(b)
	nf := booster.NumFeature()
	m := xgboost.NewModel(booster, nil)
	ctx := context.Background()
	in := []runtime.Tensor{{Name: "input-0", Datatype: runtime.FP32, Shape: []int64{1, int64(nf)}}}
	b.ReportAllocs()
	r := 0
	for b.Loop() {
		in[0].FP32 = x[r*nf : (r+1)*nf]
		if _, err := m.Predict(ctx, in); err != nil {
			b.Fatal(err)
		}
		r = (r + 1) % rows
	}
}
