package bench

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/tracking"
)

const searchRuns = 100_000

// searchFilter selects about 0.7% of the seeded runs: acc > 0.9 holds for
// 10%, lr = '0.1' for a third, x LIKE 'a%' for a quarter, FINISHED for 80%.
// rareFilter is the same with acc > 0.99999, which no seeded run matches, so
// that the search cannot stop early.
const (
	searchFilter = `metrics.acc > 0.9 and params.lr = '0.1' and tags.x LIKE 'a%' and attributes.status = 'FINISHED'`
	rareFilter   = `metrics.acc > 0.99999 and params.lr = '0.1' and tags.x LIKE 'a%' and attributes.status = 'FINISHED'`
)

// BenchmarkSearchRuns measures POST runs/search with a filter on a metric, a
// param, a tag and an attribute over 100,000 runs of one experiment, asking
// for 100 results, in the default order (start_time DESC) and ordered by
// metrics.acc DESC. The client reads the whole answer. A supplementary case,
// filter=rare, matches no run, the worst case for the default order.
//
// Seeding 100,000 runs through tracking.Service takes between 80 s and 11 min
// on the 2-core benchmark machine (three transactions a run), so the runs are
// inserted with SQL in one transaction, row for row as the service writes
// them (see seedRuns); they are seeded once for every -count.
func BenchmarkSearchRuns(b *testing.B) {
	s := newServer(b, "", func(ctx context.Context, dbPath string, _ *tracking.Service) {
		start := time.Now()
		if err := seedRuns(ctx, dbPath, searchRuns); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded %d runs in %v", searchRuns, time.Since(start))
	})
	tests := []struct {
		name    string
		filter  string
		orderBy []string
		want    int // runs in the answer
	}{
		{name: "filter/order=default", filter: searchFilter, want: 100},
		{name: "filter/order=metrics.acc_DESC", filter: searchFilter, orderBy: []string{"metrics.acc DESC"}, want: 100},
		{name: "filter=rare/order=default", filter: rareFilter, want: 0},
	}
	for _, tt := range tests {
		body, err := json.Marshal(map[string]any{
			"experiment_ids": []string{tracking.DefaultExperimentID},
			"filter":         tt.filter,
			"max_results":    100,
			"order_by":       tt.orderBy,
		})
		if err != nil {
			b.Fatal(err)
		}
		checkSearch(b, s.post(b, "runs/search", body), tt.want, len(tt.orderBy) > 0)
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				s.post(b, "runs/search", body)
			}
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(time.Millisecond), "ms/call")
		})
	}
}

// checkSearch checks that a search answer holds want runs that match
// searchFilter, by descending acc when byAcc.
func checkSearch(b *testing.B, answer []byte, want int, byAcc bool) {
	b.Helper()
	var out struct {
		Runs []struct {
			Info struct {
				Status string `json:"status"`
			} `json:"info"`
			Data struct {
				Metrics []struct {
					Key   string  `json:"key"`
					Value float64 `json:"value"`
				} `json:"metrics"`
				Params []wireKV `json:"params"`
				Tags   []wireKV `json:"tags"`
			} `json:"data"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		b.Fatal(err)
	}
	if len(out.Runs) != want {
		b.Fatalf("runs/search returned %d runs, want %d", len(out.Runs), want)
	}
	prev := 2.0
	for _, r := range out.Runs {
		acc := -1.0
		for _, m := range r.Data.Metrics {
			if m.Key == "acc" {
				acc = m.Value
			}
		}
		var lr, x string
		for _, p := range r.Data.Params {
			if p.Key == "lr" {
				lr = p.Value
			}
		}
		for _, t := range r.Data.Tags {
			if t.Key == "x" {
				x = t.Value
			}
		}
		if acc <= 0.9 || lr != "0.1" || !strings.HasPrefix(x, "a") || r.Info.Status != tracking.StatusFinished {
			b.Fatalf("run does not match the filter: acc=%v lr=%q x=%q status=%s", acc, lr, x, r.Info.Status)
		}
		if byAcc && acc > prev {
			b.Fatalf("runs not ordered by acc DESC: %v after %v", acc, prev)
		}
		prev = acc
	}
}

// seedRuns inserts n finished or running runs into the Default experiment of
// the SQLite store at path, each with the rows tracking.Service would write
// for CreateRun, LogBatch(acc, lr, x) and UpdateRun: the run, its
// mlflow.runName tag, the param lr, the tag x, one point of the metric acc
// (a metric_chunks row) and its latest_metrics row. Values are drawn from a
// fixed seed.
func seedRuns(ctx context.Context, path string, n int) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var loc string
	if err := db.QueryRowContext(ctx, `SELECT artifact_location FROM experiments WHERE experiment_id = 0`).Scan(&loc); err != nil {
		return fmt.Errorf("seed: default experiment: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := map[string]string{
		"run":    `INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, 0, 'bench', ?, ?, ?, ?, 'active')`,
		"param":  `INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)`,
		"tag":    `INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)`,
		"metric": `INSERT INTO metric_chunks (run_uuid, key, points) VALUES (?, ?, ?)`,
		"latest": `INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES (?, ?, 0, ?, ?, 0)`,
	}
	prep := map[string]*sql.Stmt{}
	for name, q := range stmts {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("seed: prepare %s: %w", name, err)
		}
		defer st.Close()
		prep[name] = st
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lrs := [...]string{"0.1", "0.01", "0.001"}
	var id [16]byte
	for i := range n {
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		runID := hex.EncodeToString(id[:])
		name := fmt.Sprintf("bench-run-%d", i)
		start := int64(baseTime + i*1000)
		status, end := tracking.StatusFinished, sql.NullInt64{Int64: start + 500, Valid: true}
		switch p := rng.IntN(10); {
		case p == 0:
			status = tracking.StatusFailed
		case p == 1:
			status, end = tracking.StatusRunning, sql.NullInt64{}
		}
		acc := rng.Float64()
		x := string(rune('a'+rng.IntN(4))) + fmt.Sprintf("-%d", i)
		steps := []struct {
			stmt string
			args []any
		}{
			{"run", []any{runID, name, status, start, end, loc + "/" + runID + "/artifacts"}},
			{"tag", []any{runID, tracking.TagRunName, name}},
			{"param", []any{runID, "lr", lrs[rng.IntN(len(lrs))]}},
			{"tag", []any{runID, "x", x}},
			{"metric", []any{runID, "acc", packPoint(0, start+100, acc)}},
			{"latest", []any{runID, "acc", start + 100, acc}},
		}
		for _, s := range steps {
			if _, err := prep[s.stmt].ExecContext(ctx, s.args...); err != nil {
				return fmt.Errorf("seed: run %d: %s: %w", i, s.stmt, err)
			}
		}
	}
	return tx.Commit()
}

// packPoint encodes one metric point as the store keeps it in metric_chunks:
// little-endian step, timestamp and value bits.
func packPoint(step, timestamp int64, value float64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(step))
	b = binary.LittleEndian.AppendUint64(b, uint64(timestamp))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(value))
}
