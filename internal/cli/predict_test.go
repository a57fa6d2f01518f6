package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/dataset"
)

// TestPredictCommand scores files with a registered model through the CLI.
func TestPredictCommand(t *testing.T) {
	data := t.TempDir()
	run := trainTinyModel(t, data)
	if code, out, errs := runCLI(t, data, "models", "register", "toy", "--from", "runs:/"+run+"/model"); code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "rows.csv")
	os.WriteFile(in, []byte("x1,x2,y\n1,2,0\n9,0,1\n16,12,1\n"), 0o644)
	pq := filepath.Join(dir, "scored.parquet")
	code, out, errs := runCLI(t, data, "predict", "models:/toy/1", "-i", in, "-o", pq, "--keep-columns", "--batch-size", "2")
	if code != 0 || !strings.Contains(out, "Scored 3 rows of "+in+" with toy version 1") {
		t.Fatalf("predict: %d %q %q", code, out, errs)
	}
	f, err := dataset.Read(context.Background(), pq, dataset.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The input's y is kept; the model's outputs follow.
	if got := strings.Join(f.Names(), ","); got != "x1,x2,y,probability,label" {
		t.Fatalf("columns %s", got)
	}
	// Parquet in, JSON Lines out: the same predictions.
	jl := filepath.Join(dir, "again.jsonl")
	if code, out, errs := runCLI(t, data, "predict", "models:/toy/1", "-i", pq, "-o", jl); code != 0 {
		t.Fatalf("predict parquet: %d %s %s", code, out, errs)
	}
	raw, _ := os.ReadFile(jl)
	prob, _ := f.Col("probability")
	for i, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var row struct{ Probability float64 }
		if err := json.Unmarshal(line, &row); err != nil || row.Probability != prob.Num[i] {
			t.Fatalf("row %d: %s vs %v (%v)", i, line, prob.Num[i], err)
		}
	}
	code, _, errs = runCLI(t, data, "predict", "models:/toy/1", "-i", filepath.Join(dir, "nope.csv"), "-o", filepath.Join(dir, "x.csv"))
	if code != 1 || !strings.Contains(errs, "No input file") {
		t.Fatalf("missing input: %d %s", code, errs)
	}
	code, _, errs = runCLI(t, data, "predict", "models:/toy/1", "-i", pq, "-o", jl)
	if code != 1 || !strings.Contains(errs, jl+" exists; pass --force to replace it") {
		t.Fatalf("existing output: %d %s", code, errs)
	}
	if code, out, errs := runCLI(t, data, "predict", "models:/toy/1", "-i", pq, "-o", jl, "--force"); code != 0 {
		t.Fatalf("predict --force: %d %s %s", code, out, errs)
	}
	code, _, errs = runCLI(t, data, "predict", "models:/toy/1", "-i", in)
	if code != 2 || !strings.Contains(errs, "-o FILE") {
		t.Fatalf("no output: %d %s", code, errs)
	}
}
