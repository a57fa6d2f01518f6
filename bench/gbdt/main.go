// Command gbdt benchmarks Ferry's built-in GBDT trainer (internal/train) on
// the flights data set, for a side-by-side run with XGBoost (see run.sh and
// xgb_bench.py beside it).
//
// Task: label delay > 15 minutes; features month, weekday and hour (from
// date), distance (numeric) and origin, destination (categorical, codes =
// index in the sorted list of airport codes); train on January–April 2001,
// validate on May–June (internal/train/gbdt/flights reads them). It prints one JSON line: validation ROC AUC and log
// loss, training wall time, and the process's peak RSS (VmHWM).
//
// With -export DIR it instead writes the same features to DIR/train.bin and
// DIR/valid.bin for xgb_bench.py (flights.WriteBin), so both trainers see
// identical inputs and encodings. Python reads them with numpy because
// Debian 12 packages no Parquet reader for Python (no pyarrow).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/train/gbdt"
	"github.com/ferry-ml/ferry/internal/train/gbdt/flights"
	"github.com/ferry-ml/ferry/internal/validation/metrics"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gbdt bench:", err)
		os.Exit(1)
	}
}

type result struct {
	Trainer      string  `json:"trainer"`
	TrainRows    int     `json:"train_rows"`
	ValidRows    int     `json:"valid_rows"`
	Rounds       int     `json:"rounds"`
	MaxDepth     int     `json:"max_depth"`
	LearningRate float64 `json:"learning_rate"`
	MaxBins      int     `json:"max_bins"`
	Threads      int     `json:"threads"`
	LoadSeconds  float64 `json:"load_seconds"`
	TrainSeconds float64 `json:"train_seconds"`
	TrainCPU     float64 `json:"train_cpu_seconds"` // user + system time of the process while training
	ValidAUC     float64 `json:"valid_auc"`
	ValidLogLoss float64 `json:"valid_logloss"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gbdt", flag.ContinueOnError)
	data := fs.String("data", "../shared/data/flights-3m.parquet", "flights Parquet file")
	rounds := fs.Int("rounds", 200, "boosting rounds")
	depth := fs.Int("depth", 8, "max tree depth")
	lr := fs.Float64("lr", 0.1, "learning rate")
	maxBins := fs.Int("max-bins", 256, "max bins per numeric feature")
	threads := fs.Int("threads", 2, "goroutines")
	export := fs.String("export", "", "write the features for xgb_bench.py to this directory and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of training to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	tr, va, err := load(*data)
	if err != nil {
		return err
	}
	loadSeconds := time.Since(start).Seconds()
	// drop the reader's garbage before training, as the Python side has
	// none: the peak RSS then reflects the data and the trainer
	debug.FreeOSMemory()
	if *export != "" {
		if err := flights.WriteBin(filepath.Join(*export, "train.bin"), tr.Features, tr.Label); err != nil {
			return err
		}
		return flights.WriteBin(filepath.Join(*export, "valid.bin"), va.Features, va.Label)
	}

	p := gbdt.DefaultParams(native.ObjectiveBinary)
	p.NumRounds, p.MaxDepth, p.LearningRate, p.MaxBins, p.NumThreads = *rounds, *depth, *lr, *maxBins, *threads
	var last float64
	cb := func(iter int, trainMetric, validMetric float64) error { last = validMetric; return nil }
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	t0, cpu0 := time.Now(), cpuSeconds()
	m, err := gbdt.Train(ctx, tr, va, p, cb)
	trainSeconds, trainCPU := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	probs, err := m.PredictBatch(ctx, va.Features)
	if err != nil {
		return err
	}
	score, _, err := metrics.Evaluate(model.TaskBinary, []string{"0", "1"}, va.Label, probs)
	if err != nil {
		return err
	}
	if math.Abs(score[metrics.LogLoss]-last) > 1e-4 {
		return fmt.Errorf("validation log loss %v from the callback, %v from the model", last, score[metrics.LogLoss])
	}
	rss, err := peakRSS()
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(result{
		Trainer: "ferry", TrainRows: tr.NumRows(), ValidRows: va.NumRows(),
		Rounds: *rounds, MaxDepth: *depth, LearningRate: *lr, MaxBins: *maxBins, Threads: *threads,
		LoadSeconds: loadSeconds, TrainSeconds: trainSeconds, TrainCPU: trainCPU,
		ValidAUC: score[metrics.ROCAUC], ValidLogLoss: score[metrics.LogLoss], PeakRSSMB: rss,
	})
}

// load reads the flights file: January–April for training, May–June for
// validation, labelled delay > 15 minutes.
func load(path string) (trainSet, validSet *gbdt.Data, err error) {
	tr, va, err := flights.Load(path, 1)
	if err != nil {
		return nil, nil, err
	}
	return &gbdt.Data{Features: tr.Features, Label: tr.Late()}, &gbdt.Data{Features: va.Features, Label: va.Late()}, nil
}

// cpuSeconds is the user + system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// peakRSS is VmHWM from /proc/self/status, in MiB.
func peakRSS() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
