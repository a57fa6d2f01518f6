// Command gbdt benchmarks Ferry's built-in GBDT trainer (internal/train) on
// the flights data set, for a side-by-side run with XGBoost (see run.sh and
// xgb_bench.py beside it).
//
// Task: label delay > 15 minutes; features month, weekday and hour (from
// date), distance (numeric) and origin, destination (categorical, codes =
// index in the sorted list of airport codes); train on January–April 2001,
// validate on May–June. It prints one JSON line: validation ROC AUC and log
// loss, training wall time, and the process's peak RSS (VmHWM).
//
// With -export DIR it instead writes the same features to DIR/train.bin and
// DIR/valid.bin for xgb_bench.py (an int64 row count, then 6 feature columns
// and the label, each as n little-endian float32 values), so both trainers
// see identical inputs and encodings. Python reads them with numpy because
// Debian 12 packages no Parquet reader for Python (no pyarrow).
//
// The Parquet file is read with github.com/parquet-go/parquet-go directly:
// internal/dataset is being written concurrently and the benchmark should not
// move with it.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/train/gbdt"
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
		if err := writeBin(filepath.Join(*export, "train.bin"), tr); err != nil {
			return err
		}
		return writeBin(filepath.Join(*export, "valid.bin"), va)
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

// load reads the flights file and splits it by month: January–April for
// training, May–June for validation (the few July rows are dropped).
func load(path string) (trainSet, validSet *gbdt.Data, err error) {
	featureNames := []string{"month", "weekday", "hour", "distance", "origin", "destination"}
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
	n := int(pf.NumRows())
	month := make([]int8, 0, n)
	weekday := make([]int8, 0, n)
	hour := make([]int8, 0, n)
	dist := make([]int32, 0, n)
	late := make([]bool, 0, n)
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
	for {
		k, err := r.ReadRows(rows)
		for _, row := range rows[:k] {
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
			late = append(late, vals[1].Int64() > 15)
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
	build := func(idx []int) *gbdt.Data {
		d := &gbdt.Data{Label: make([]float64, len(idx))}
		num := [][]float64{make([]float64, len(idx)), make([]float64, len(idx)), make([]float64, len(idx)), make([]float64, len(idx))}
		codes := [][]int32{make([]int32, len(idx)), make([]int32, len(idx))}
		for k, i := range idx {
			num[0][k], num[1][k], num[2][k], num[3][k] = float64(month[i]), float64(weekday[i]), float64(hour[i]), float64(dist[i])
			codes[0][k], codes[1][k] = oCodes[i], dCodes[i]
			if late[i] {
				d.Label[k] = 1
			}
		}
		for j := range 4 {
			d.Features = append(d.Features, native.Feature{Name: featureNames[j], Num: num[j]})
		}
		d.Features = append(d.Features,
			native.Feature{Name: featureNames[4], Codes: codes[0], Levels: oLevels},
			native.Feature{Name: featureNames[5], Codes: codes[1], Levels: dLevels})
		return d
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

func writeBin(path string, d *gbdt.Data) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	n := d.NumRows()
	if err := binary.Write(w, binary.LittleEndian, int64(n)); err != nil {
		return err
	}
	buf := make([]byte, 4*n)
	put := func(i int, v float64) { binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(v))) }
	for _, ft := range d.Features {
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
	for i, y := range d.Label {
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
