package collect

import (
	"bytes"
	"context"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ferry-ml/ferry/internal/blob"
	"github.com/ferry-ml/ferry/internal/blob/file"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/serving"
)

// t0 is a fixed time: 2026-03-01 10:15:00 UTC.
var t0 = time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)

// clock is a fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// classSchema is the schema of a model whose [rows, 2] output
// "probabilities" is labelled no, yes.
var classSchema = serving.NewSchema(runtime.Metadata{
	Outputs: []runtime.TensorSpec{{Name: "probabilities", Datatype: runtime.FP64, Shape: []int64{-1, 2}, Labels: []string{"no", "yes"}}, {Name: "label", Datatype: runtime.INT64, Shape: []int64{-1}}},
}, nil)

// pred is a prediction of rows rows: inputs age (FP64, row 1 missing),
// plan (BYTES), n (INT64), flag (BOOL); outputs probabilities ([rows, 2])
// and label (INT64).
func pred(id string, at time.Time, rows int, base float64) serving.Prediction {
	age, plan, n, flag := make([]float64, rows), make([]string, rows), make([]int64, rows), make([]bool, rows)
	probs, label := make([]float64, 2*rows), make([]int64, rows)
	for r := range rows {
		age[r] = base + float64(r)
		plan[r] = []string{"basic", "pro", "team"}[r%3]
		n[r] = int64(r) * 10
		flag[r] = r%2 == 0
		probs[2*r], probs[2*r+1] = 0.25, 0.75
		label[r] = int64(r % 2)
	}
	if rows > 1 {
		age[1] = math.NaN()
	}
	return serving.Prediction{
		RequestID: id, Time: at, Model: "churn", Version: "3", Schema: classSchema, Rows: rows,
		Inputs: []runtime.Tensor{
			{Name: "age", Datatype: runtime.FP64, Shape: []int64{int64(rows)}, FP64: age},
			{Name: "plan", Datatype: runtime.BYTES, Shape: []int64{int64(rows)}, Str: plan},
			{Name: "n", Datatype: runtime.INT64, Shape: []int64{int64(rows)}, Int: n},
			{Name: "flag", Datatype: runtime.BOOL, Shape: []int64{int64(rows)}, Bool: flag},
		},
		Outputs: []runtime.Tensor{
			{Name: "probabilities", Datatype: runtime.FP64, Shape: []int64{int64(rows), 2}, FP64: probs},
			{Name: "label", Datatype: runtime.INT64, Shape: []int64{int64(rows)}, Int: label},
		},
	}
}

func newStore(t testing.TB) blob.Store {
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// segments lists the keys of the Parquet objects under prefix, sorted.
func segments(t testing.TB, s blob.Store, prefix string) []string {
	t.Helper()
	entries, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir {
			out = append(out, segments(t, s, e.Path)...)
		} else if strings.HasSuffix(e.Path, ".parquet") {
			out = append(out, e.Path)
		}
	}
	slices.Sort(out)
	return out
}

func get(t testing.TB, s blob.Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readFrame reads a segment with the dataset package's Parquet reader.
func readFrame(t testing.TB, s blob.Store, key string) *dataset.Frame {
	t.Helper()
	b := get(t, s, key)
	f, err := dataset.ReadParquet(context.Background(), bytes.NewReader(b), int64(len(b)), key, dataset.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func totalRows(t testing.TB, s blob.Store) int {
	n := 0
	for _, k := range segments(t, s, DefaultPrefix) {
		n += readFrame(t, s, k).Len()
	}
	return n
}

func closeC(t testing.TB, c *Collector) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestParquetSchemaAndValues: collected predictions are written under
// inference-logs/<endpoint>/<deployment>/date=/hour=/ with the documented
// schema (required metadata columns, typed optional feature and output
// columns, nulls for missing values) and read back with their values.
func TestParquetSchemaAndValues(t *testing.T) {
	store := newStore(t)
	clk := &clock{now: t0}
	c := New(store, Options{Now: clk.Now})
	tap := c.Tap("churn", "blue", 1, true, true)
	tap.Collect(context.Background(), pred("r1", t0, 3, 30))
	tap.Collect(context.Background(), pred("r2", t0.Add(time.Second), 1, 50))
	closeC(t, c)

	keys := segments(t, store, DefaultPrefix)
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "inference-logs/churn/blue/date=2026-03-01/hour=10/part-20260301T101500Z-") {
		t.Fatalf("segments %v", keys)
	}
	b := get(t, store, keys[0])
	pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range pf.Schema().Fields() {
		typ := f.Type().String()
		opt := "required"
		if f.Optional() {
			opt = "optional"
		}
		got = append(got, f.Name()+" "+opt+" "+typ)
	}
	want := []string{
		"request_id required STRING", "time required TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", "endpoint required STRING",
		"deployment required STRING", "model_version required STRING", "row required INT(64,true)",
		"age optional DOUBLE", "plan optional STRING", "n optional INT(64,true)", "flag optional BOOLEAN",
		"probabilities_no optional DOUBLE", "probabilities_yes optional DOUBLE", "label optional INT(64,true)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema\n got %q\nwant %q", got, want)
	}

	f := readFrame(t, store, keys[0])
	if f.Len() != 4 {
		t.Fatalf("%d rows, want 4", f.Len())
	}
	for name, want := range map[string][]string{
		"request_id":        {"r1", "r1", "r1", "r2"},
		"time":              {"2026-03-01T10:15:00Z", "2026-03-01T10:15:00Z", "2026-03-01T10:15:00Z", "2026-03-01T10:15:01Z"},
		"endpoint":          {"churn", "churn", "churn", "churn"},
		"deployment":        {"blue", "blue", "blue", "blue"},
		"model_version":     {"3", "3", "3", "3"},
		"row":               {"0", "1", "2", "0"},
		"age":               {"30", "NA", "32", "50"},
		"plan":              {"basic", "pro", "team", "basic"},
		"n":                 {"0", "10", "20", "0"},
		"probabilities_yes": {"0.75", "0.75", "0.75", "0.75"},
		"label":             {"0", "1", "0", "0"},
	} {
		col, err := f.Col(name)
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		for i := range f.Len() {
			vals = append(vals, col.String(i))
		}
		if !slices.Equal(vals, want) {
			t.Errorf("%s = %q, want %q", name, vals, want)
		}
	}
}

// TestCollectionsAndSampling: a tap logs only its enabled collections, and
// at rate 0 nothing.
func TestCollectionsAndSampling(t *testing.T) {
	store := newStore(t)
	c := New(store, Options{})
	c.Tap("churn", "inputs", 1, true, false).Collect(context.Background(), pred("a", t0, 2, 1))
	c.Tap("churn", "outputs", 1, false, true).Collect(context.Background(), pred("b", t0, 2, 1))
	c.Tap("churn", "none", 0, true, true).Collect(context.Background(), pred("c", t0, 2, 1))
	closeC(t, c)
	for dep, want := range map[string][]string{
		"inputs":  {"request_id", "time", "endpoint", "deployment", "model_version", "row", "age", "plan", "n", "flag"},
		"outputs": {"request_id", "time", "endpoint", "deployment", "model_version", "row", "probabilities_no", "probabilities_yes", "label"},
	} {
		keys := segments(t, store, DefaultPrefix+"/churn/"+dep)
		if len(keys) != 1 {
			t.Fatalf("%s: %v", dep, keys)
		}
		if got := readFrame(t, store, keys[0]).Names(); !slices.Equal(got, want) {
			t.Errorf("%s: columns %v, want %v", dep, got, want)
		}
	}
	if keys := segments(t, store, DefaultPrefix+"/churn/none"); len(keys) != 0 {
		t.Errorf("rate 0 wrote %v", keys)
	}
}

// blockingStore is a file store whose Put waits until release is closed
// (or ctx ends), after signalling entered.
type blockingStore struct {
	blob.Store
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *blockingStore) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	s.once.Do(func() { close(s.entered) })
	select {
	case <-s.release:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return s.Store.Put(ctx, key, r)
}

// TestFullQueueDropsWithoutBlocking: with the artifact store stuck, the
// queue fills to its bound, further predictions are dropped and counted at
// once, and nothing accepted is lost once the store answers again.
func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	bs := &blockingStore{Store: newStore(t), entered: make(chan struct{}), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	c := New(bs, Options{Registerer: reg, SegmentRows: 1, QueueRows: 10, QueueRecords: 100})
	tap := c.Tap("churn", "blue", 1, true, true)
	tap.Collect(context.Background(), pred("first", t0, 1, 1))
	<-bs.entered // the writer is stuck in Put
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			tap.Collect(context.Background(), pred("x", t0, 1, float64(i)))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Collect blocked on a stuck store")
	}
	accepted := value(t, c.m.records.WithLabelValues("churn", "blue"))
	dropped := value(t, c.m.dropped.WithLabelValues("churn", "blue"))
	if accepted != 11 || dropped != 990 {
		t.Errorf("accepted %v, dropped %v; want 11 (the one being written and a queue of 10 rows) and 990", accepted, dropped)
	}
	if q := c.queued.Load(); q > 10 {
		t.Errorf("queue holds %d rows, past its bound of 10", q)
	}
	close(bs.release)
	closeC(t, c)
	if n := totalRows(t, bs.Store); n != 11 {
		t.Errorf("%d rows written, want the 11 accepted", n)
	}
	if got := value(t, c.m.rows.WithLabelValues("churn", "blue")); got != 11 {
		t.Errorf("ferry_collector_rows_written_total = %v", got)
	}
	// Later predictions are dropped and counted, not queued.
	tap.Collect(context.Background(), pred("late", t0, 1, 1))
	if got := value(t, c.m.dropped.WithLabelValues("churn", "blue")); got != 991 {
		t.Errorf("dropped after Close = %v, want 991", got)
	}
}

// TestCloseFlushesEverything: Close writes every queued and held row of
// every deployment, in one segment each when the bounds are not reached.
func TestCloseFlushesEverything(t *testing.T) {
	store := newStore(t)
	c := New(store, Options{})
	var wg sync.WaitGroup
	for _, dep := range []string{"blue", "green"} {
		tap := c.Tap("churn", dep, 1, true, true)
		for g := range 4 {
			wg.Go(func() {
				for i := range 250 {
					tap.Collect(context.Background(), pred("r", t0, 2, float64(g*1000+i)))
				}
			})
		}
	}
	wg.Wait()
	closeC(t, c)
	for _, dep := range []string{"blue", "green"} {
		keys := segments(t, store, DefaultPrefix+"/churn/"+dep)
		if len(keys) != 1 {
			t.Fatalf("%s: %d segments", dep, len(keys))
		}
		if n := readFrame(t, store, keys[0]).Len(); n != 2000 {
			t.Errorf("%s: %d rows, want 2000", dep, n)
		}
	}
}

// TestRolling: segments roll by rows, by bytes, by age (on a fake clock)
// and when the hour changes, each into its own date=/hour= partition.
func TestRolling(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		// send collects the predictions, moving the clock as it goes.
		send func(tap *Tap, clk *clock)
		want map[string]int // partition prefix → rows per segment, in order
	}{
		{"rows", Options{SegmentRows: 10}, func(tap *Tap, _ *clock) {
			for i := range 35 {
				tap.Collect(context.Background(), pred("r", t0, 1, float64(i)))
			}
		}, map[string]int{"date=2026-03-01/hour=10": 4}},
		{"bytes", Options{SegmentBytes: 1000}, func(tap *Tap, _ *clock) {
			for i := range 20 {
				tap.Collect(context.Background(), pred("r", t0, 1, float64(i)))
			}
		}, map[string]int{"date=2026-03-01/hour=10": 2}},
		{"age", Options{SegmentAge: time.Minute, Tick: time.Hour}, func(tap *Tap, clk *clock) {
			for i := range 3 {
				tap.Collect(context.Background(), pred("r", t0, 1, float64(i)))
				if err := tap.c.Sync(context.Background()); err != nil {
					panic(err)
				}
				clk.Add(61 * time.Second)
			}
		}, map[string]int{"date=2026-03-01/hour=10": 3}},
		{"hour", Options{}, func(tap *Tap, _ *clock) {
			tap.Collect(context.Background(), pred("r", t0, 1, 1))
			tap.Collect(context.Background(), pred("r", t0.Add(50*time.Minute), 1, 2))
			tap.Collect(context.Background(), pred("r", t0.Add(14*time.Hour), 1, 3))
		}, map[string]int{"date=2026-03-01/hour=10": 1, "date=2026-03-01/hour=11": 1, "date=2026-03-02/hour=00": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			clk := &clock{now: t0}
			tc.opts.Now = clk.Now
			c := New(store, tc.opts)
			tc.send(c.Tap("churn", "blue", 1, true, true), clk)
			closeC(t, c)
			got := map[string]int{}
			for _, k := range segments(t, store, DefaultPrefix) {
				dir := strings.TrimPrefix(k[:strings.LastIndex(k, "/")], "inference-logs/churn/blue/")
				got[dir]++
			}
			if len(got) != len(tc.want) {
				t.Fatalf("segments by partition %v, want %v", got, tc.want)
			}
			for k, n := range tc.want {
				if got[k] != n {
					t.Errorf("partition %s: %d segments, want %d", k, got[k], n)
				}
			}
		})
	}
}

// value is a counter's value.
func value(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
