package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// doubler is a fake model with a column signature — x (double), tag (string,
// optional) — that gives y = 2x, and remembers the largest batch it got.
type doubler struct {
	calls, maxRows int
}

func (d *doubler) Metadata() runtime.Metadata {
	return runtime.Metadata{
		Inputs:  []runtime.TensorSpec{{Name: "x", Datatype: runtime.FP64, Shape: []int64{-1}}, {Name: "tag", Datatype: runtime.BYTES, Shape: []int64{-1}}},
		Outputs: []runtime.TensorSpec{{Name: "y", Datatype: runtime.FP64, Shape: []int64{-1}}},
	}
}

func (d *doubler) Predict(ctx context.Context, in []runtime.Tensor) ([]runtime.Tensor, error) {
	x := in[0].FP64
	d.calls++
	d.maxRows = max(d.maxRows, len(x))
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = 2 * v
	}
	return []runtime.Tensor{{Name: "y", Datatype: runtime.FP64, Shape: []int64{int64(len(x))}, FP64: y}}, nil
}

func (d *doubler) Close() error { return nil }

func doublerModel() (*loadedModel, *doubler) {
	d := &doubler{}
	sig := &model.Signature{Inputs: []model.Spec{{Name: "x", Type: model.TypeDouble, Required: true}, {Name: "tag", Type: model.TypeString}}}
	return &loadedModel{model: d, sig: sig, name: "doubler", version: "1"}, d
}

// TestPredictFileBatches: the file is scored in batches of at most
// --batch-size rows, and every row once, in order, in each output format.
func TestPredictFileBatches(t *testing.T) {
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id,x,tag\n")
	for i := range 95 {
		fmt.Fprintf(&csv, "r%d,%d,t\n", i, i)
	}
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte(csv.String()), 0o644)
	for _, ext := range []string{"csv", "jsonl", "parquet"} {
		t.Run(ext, func(t *testing.T) {
			lm, d := doublerModel()
			out := filepath.Join(dir, "out."+ext)
			n, err := predictFile(context.Background(), lm, in, out, predictOptions{batch: 10, keep: true})
			if err != nil || n != 95 {
				t.Fatalf("%d rows, %v", n, err)
			}
			if d.calls != 10 || d.maxRows != 10 {
				t.Fatalf("%d Predict calls, at most %d rows; want 10 batches of at most 10", d.calls, d.maxRows)
			}
			f, err := dataset.Read(context.Background(), out, dataset.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.Names(), ","); got != "id,x,tag,y" {
				t.Fatalf("columns %s", got)
			}
			y, _ := f.Col("y")
			id, _ := f.Col("id")
			for i := range 95 {
				if y.Num[i] != float64(2*i) || id.String(i) != fmt.Sprintf("r%d", i) {
					t.Fatalf("row %d: id %s y %v", i, id.String(i), y.Num[i])
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Fatalf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
	t.Run("limit", func(t *testing.T) {
		lm, d := doublerModel()
		n, err := predictFile(context.Background(), lm, in, filepath.Join(dir, "limited.csv"), predictOptions{batch: 40, limit: 45})
		if err != nil || n != 45 || d.calls != 2 {
			t.Fatalf("%d rows in %d calls, %v", n, d.calls, err)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, "limited.csv"))
		if lines := strings.Count(string(raw), "\n"); lines != 46 || !strings.HasPrefix(string(raw), "y\n0\n2\n") {
			t.Fatalf("output:\n%s", raw)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct{ name, body, out, want string }{
			{"bad value", "x\n1\nabc\n", "o.csv", `bad.csv: Column 'x' row 2: "abc" is not a number; the column takes double.`},
			{"missing value", "x,tag\n1,a\n,b\n", "o.csv", `bad.csv: Column 'x' row 2: the value is missing; the column is required (double).`},
			{"missing column", "tag\na\n", "o.csv", `bad.csv: Missing required column 'x' (double).`},
			{"ragged", "x\n1\n2,3\n", "o.csv", `bad.csv: line 3: wrong number of fields`},
			{"empty", "", "o.csv", "bad.csv: the file is empty"},
			{"unknown output type", "x\n1\n", "o.txt", `unknown file type ".txt"`},
		} {
			lm, _ := doublerModel()
			bad := filepath.Join(dir, "bad.csv")
			os.WriteFile(bad, []byte(c.body), 0o644)
			out := filepath.Join(dir, c.out)
			os.Remove(out)
			_, err := predictFile(context.Background(), lm, bad, out, predictOptions{batch: 10})
			if err == nil || !strings.Contains(userMessage(err), c.want) {
				t.Errorf("%s: %v, want %q", c.name, err, c.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("%s: %s written despite the error", c.name, c.out)
			}
		}
	})
}

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
	code, _, errs = runCLI(t, data, "predict", "models:/toy/1", "-i", in)
	if code != 2 || !strings.Contains(errs, "-o FILE") {
		t.Fatalf("no output: %d %s", code, errs)
	}
}
