package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/testenv"
)

// TestDuckDBReads: a segment reads in DuckDB — an independent Parquet
// reader — with the column types the docs promise and the values written.
// It needs node and the npm package @duckdb/node-api in the node_modules
// directory FERRY_TEST_DUCKDB_MODULES names (.ci/duckdb.sh installs it).
func TestDuckDBReads(t *testing.T) {
	modules := os.Getenv("FERRY_TEST_DUCKDB_MODULES")
	if modules == "" {
		testenv.Unavailable(t, "FERRY_TEST_DUCKDB_MODULES is not set (source .ci/duckdb.sh)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "node is not installed: %v", err)
	}
	store := newStore(t)
	c := New(store, Options{})
	tap := c.Tap("churn", "blue", 1, true, true)
	tap.Collect(context.Background(), pred("r1", t0, 3, 30))
	tap.Collect(context.Background(), pred("r2", t0.Add(1500000), 1, 50))
	closeC(t, c)
	keys := segments(t, store, DefaultPrefix)
	if len(keys) != 1 {
		t.Fatalf("segments %v", keys)
	}
	path := filepath.Join(t.TempDir(), "part.parquet")
	if err := os.WriteFile(path, get(t, store, keys[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "duckdb_read.mjs"), path)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("duckdb: %v: %s", err, stderr)
	}
	var got struct {
		Schema []string         `json:"schema"`
		Rows   []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	wantSchema := []string{
		"request_id VARCHAR", "time TIMESTAMP WITH TIME ZONE", "endpoint VARCHAR", "deployment VARCHAR",
		"model_version VARCHAR", "row BIGINT", "age DOUBLE", "plan VARCHAR", "n BIGINT", "flag BOOLEAN",
		"probabilities_no DOUBLE", "probabilities_yes DOUBLE", "label BIGINT",
	}
	if !slices.Equal(got.Schema, wantSchema) {
		t.Errorf("DuckDB schema\n got %q\nwant %q", got.Schema, wantSchema)
	}
	// Rows as request_id row time_us age plan n flag probabilities_yes label.
	want := []string{
		"r1 0 1772360100000000 30 basic 0 true 0.75 0",
		"r1 1 1772360100000000 <nil> pro 10 false 0.75 1",
		"r1 2 1772360100000000 32 team 20 true 0.75 0",
		"r2 0 1772360100001500 50 basic 0 true 0.75 0",
	}
	var rows []string
	for _, r := range got.Rows {
		var parts []string
		for _, k := range []string{"request_id", "row", "time_us", "age", "plan", "n", "flag", "probabilities_yes", "label"} {
			parts = append(parts, fmt.Sprint(r[k]))
		}
		rows = append(rows, strings.Join(parts, " "))
	}
	if !slices.Equal(rows, want) {
		t.Errorf("DuckDB rows\n got %q\nwant %q", rows, want)
	}
}
