package serving

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ferry-ml/ferry"
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

func doublerSignature() *model.Signature {
	return &model.Signature{Inputs: []model.Spec{{Name: "x", Type: model.TypeDouble, Required: true}, {Name: "tag", Type: model.TypeString}}}
}

// noTemp fails if a temporary output file is left in dir.
func noTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}

// TestScoreFileBatches: the file is scored in batches of at most BatchSize
// rows, and every row once, in order, from each input format into each
// output format.
func TestScoreFileBatches(t *testing.T) {
	dir := t.TempDir()
	var csv, jl strings.Builder
	csv.WriteString("id,x,tag\n")
	for i := range 95 {
		fmt.Fprintf(&csv, "r%d,%d,t\n", i, i)
		fmt.Fprintf(&jl, `{"id":"r%d","x":%d,"tag":"t"}`+"\n", i, i)
	}
	inputs := map[string]string{"csv": filepath.Join(dir, "in.csv"), "jsonl": filepath.Join(dir, "in.jsonl"), "gz": filepath.Join(dir, "in.csv.gz"), "parquet": filepath.Join(dir, "in.parquet")}
	os.WriteFile(inputs["csv"], []byte(csv.String()), 0o644)
	os.WriteFile(inputs["jsonl"], []byte(jl.String()), 0o644)
	writeGzip(t, inputs["gz"], csv.String())
	type row struct {
		ID  string  `parquet:"id"`
		X   float64 `parquet:"x"`
		Tag string  `parquet:"tag"`
	}
	var rows []row
	for i := range 95 {
		rows = append(rows, row{fmt.Sprintf("r%d", i), float64(i), "t"})
	}
	if err := parquet.WriteFile(inputs["parquet"], rows, parquet.MaxRowsPerRowGroup(30)); err != nil {
		t.Fatal(err)
	}
	for inName, in := range inputs {
		for _, ext := range []string{"csv", "jsonl", "parquet"} {
			t.Run(inName+" to "+ext, func(t *testing.T) {
				d := &doubler{}
				out := filepath.Join(dir, "out-"+inName+"."+ext)
				var progress []int
				res, err := ScoreFile(context.Background(), d, doublerSignature(), in, out, ScoreOptions{BatchSize: 10, KeepColumns: true, Progress: func(done, total int) {
					progress = append(progress, done)
				}})
				if err != nil || res.Rows != 95 {
					t.Fatalf("%d rows, %v", res.Rows, err)
				}
				if d.calls != 10 || d.maxRows != 10 || len(progress) != 10 || progress[9] != 95 {
					t.Fatalf("%d Predict calls, at most %d rows, progress %v; want 10 batches of at most 10", d.calls, d.maxRows, progress)
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
				noTemp(t, dir)
			})
		}
	}
	t.Run("limit", func(t *testing.T) {
		d := &doubler{}
		res, err := ScoreFile(context.Background(), d, doublerSignature(), inputs["csv"], filepath.Join(dir, "limited.csv"), ScoreOptions{BatchSize: 40, Limit: 45})
		if err != nil || res.Rows != 45 || d.calls != 2 {
			t.Fatalf("%d rows in %d calls, %v", res.Rows, d.calls, err)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, "limited.csv"))
		if lines := strings.Count(string(raw), "\n"); lines != 46 || !strings.HasPrefix(string(raw), "y\n0\n2\n") {
			t.Fatalf("output:\n%s", raw)
		}
	})
	t.Run("batch larger than a read", func(t *testing.T) {
		var big strings.Builder
		big.WriteString("x\n")
		for i := range 2*readChunk + 5 {
			fmt.Fprintf(&big, "%d\n", i)
		}
		in := filepath.Join(dir, "big.csv")
		os.WriteFile(in, []byte(big.String()), 0o644)
		d := &doubler{}
		res, err := ScoreFile(context.Background(), d, doublerSignature(), in, filepath.Join(dir, "big-out.csv"), ScoreOptions{BatchSize: 3 * readChunk})
		if err != nil || res.Rows != 2*readChunk+5 || d.calls != 1 || d.maxRows != 2*readChunk+5 {
			t.Fatalf("%d rows in %d calls of at most %d, %v", res.Rows, d.calls, d.maxRows, err)
		}
	})
	t.Run("header only", func(t *testing.T) {
		in := filepath.Join(dir, "header.csv")
		os.WriteFile(in, []byte("x,tag\n"), 0o644)
		out := filepath.Join(dir, "header-out.csv")
		res, err := ScoreFile(context.Background(), &doubler{}, doublerSignature(), in, out, ScoreOptions{})
		raw, _ := os.ReadFile(out)
		if err != nil || res.Rows != 0 || string(raw) != "y\n" {
			t.Fatalf("%d rows, %v, output %q", res.Rows, err, raw)
		}
	})
	t.Run("existing output needs Overwrite", func(t *testing.T) {
		out := filepath.Join(dir, "existing.csv")
		if err := os.WriteFile(out, []byte("keep me\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		d := &doubler{}
		_, err := ScoreFile(context.Background(), d, doublerSignature(), inputs["csv"], out, ScoreOptions{})
		if ferry.ErrorCode(err) != ferry.ECONFLICT || !strings.Contains(ferry.ErrorMessage(err), "exists; pass --force") {
			t.Fatalf("err %v, want ECONFLICT naming --force", err)
		}
		if raw, _ := os.ReadFile(out); string(raw) != "keep me\n" || d.calls != 0 {
			t.Fatalf("output %q after %d Predict calls; want it untouched and nothing scored", raw, d.calls)
		}
		if _, err := ScoreFile(context.Background(), d, doublerSignature(), inputs["csv"], out, ScoreOptions{Overwrite: true}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(out)
		if raw, _ := os.ReadFile(out); err != nil || !strings.HasPrefix(string(raw), "y\n") || fi.Mode().Perm() != 0o640 {
			t.Fatalf("replaced output %q, mode %v (%v); want predictions, mode kept", raw, fi.Mode(), err)
		}
		noTemp(t, dir)
	})
	t.Run("a new output gets the umask's mode", func(t *testing.T) {
		ref := filepath.Join(t.TempDir(), "ref")
		f, err := os.Create(ref) // 0666 less the umask
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		want, _ := os.Stat(ref)
		out := filepath.Join(dir, "mode.csv")
		if _, err := ScoreFile(context.Background(), &doubler{}, doublerSignature(), inputs["csv"], out, ScoreOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := os.Stat(out)
		if err != nil || got.Mode().Perm() != want.Mode().Perm() {
			t.Fatalf("mode %v (%v), want %v as os.Create gives", got.Mode(), err, want.Mode())
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		out := filepath.Join(dir, "cancelled.csv")
		_, err := ScoreFile(ctx, &doubler{}, doublerSignature(), inputs["csv"], out, ScoreOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Fatal("output written despite the cancellation")
		}
	})
}

func writeGzip(t *testing.T, path, body string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(body))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestScoreFileErrors: bad input gives an error naming the file, the column
// and the row, never a panic, and leaves no output file behind.
func TestScoreFileErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	type row struct {
		X   float64   `parquet:"x"`
		Tag string    `parquet:"tag"`
		At  time.Time `parquet:"at"`
	}
	if err := parquet.WriteFile(good, []row{{1, "a", time.Unix(0, 0)}, {2, "b", time.Unix(60, 0)}}); err != nil {
		t.Fatal(err)
	}
	goodBytes, _ := os.ReadFile(good)
	type strRow struct {
		X string `parquet:"x"`
	}
	strs := filepath.Join(dir, "strs.parquet")
	if err := parquet.WriteFile(strs, []strRow{{"1"}, {"2"}, {"abc"}}); err != nil {
		t.Fatal(err)
	}
	strBytes, _ := os.ReadFile(strs)
	corrupt := append([]byte(nil), goodBytes...)
	for i := 4; i < len(corrupt)/2; i++ {
		corrupt[i] ^= 0x5a
	}
	for _, c := range []struct {
		name, in, out string
		body          []byte
		code          string
		want          string
	}{
		{"bad value", "bad.csv", "o.csv", []byte("x\n1\nabc\n"), ferry.EINVALID, `bad.csv: Column 'x' row 2: "abc" is not a number; the column takes double.`},
		{"bad value in a later batch", "bad.csv", "o.csv", []byte("x\n1\n2\n3\nabc\n"), ferry.EINVALID, `bad.csv: Column 'x' row 4: "abc" is not a number`},
		{"missing value", "bad.csv", "o.csv", []byte("x,tag\n1,a\n,b\n"), ferry.EINVALID, `bad.csv: Column 'x' row 2: the value is missing; the column is required (double).`},
		{"missing column", "bad.csv", "o.csv", []byte("tag\na\n"), ferry.EINVALID, `bad.csv: Missing required column 'x' (double).`},
		{"ragged", "bad.csv", "o.csv", []byte("x\n1\n2,3\n"), ferry.EINVALID, `bad.csv line 3: 2 fields, the header has 1`},
		{"empty", "bad.csv", "o.csv", []byte(""), ferry.EINVALID, "bad.csv is empty"},
		{"empty JSON Lines", "bad.jsonl", "o.csv", []byte("\n"), ferry.EINVALID, "bad.jsonl is empty"},
		{"wrong JSON type", "bad.jsonl", "o.csv", []byte(`{"x":1}` + "\n" + `{"x":true}`), ferry.EINVALID, `bad.jsonl: Column 'x' row 2:`},
		{"not JSON", "bad.jsonl", "o.csv", []byte(`{"x":1}` + "\n" + `{"x":`), ferry.EINVALID, "bad.jsonl line 2 column 'x': malformed JSON"},
		{"wrong Parquet type", "bad.parquet", "o.csv", strBytes, ferry.EINVALID, `bad.parquet: Column 'x' row 3: "abc" is not a number`},
		{"corrupt Parquet", "bad.parquet", "o.csv", corrupt, ferry.EINVALID, "bad.parquet"},
		{"truncated Parquet", "bad.parquet", "o.csv", goodBytes[:len(goodBytes)/2], ferry.EINVALID, "bad.parquet: not a readable Parquet file"},
		{"not gzip", "bad.csv.gz", "o.csv", []byte("x\n1\n"), ferry.EINVALID, "bad.csv.gz: not gzip data"},
		{"unknown output type", "bad.csv", "o.txt", []byte("x\n1\n"), ferry.EINVALID, `unknown file type ".txt"`},
		{"unknown input type", "bad.txt", "o.csv", []byte("x\n1\n"), ferry.EINVALID, "bad.txt: unknown file type"},
		{"no input", "", "o.csv", nil, ferry.ENOTFOUND, "No input file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(dir, "nope.csv")
			if c.in != "" {
				in = filepath.Join(dir, c.in)
				os.WriteFile(in, c.body, 0o644)
			}
			out := filepath.Join(dir, c.out)
			os.Remove(out)
			_, err := ScoreFile(context.Background(), &doubler{}, doublerSignature(), in, out, ScoreOptions{BatchSize: 2})
			if ferry.ErrorCode(err) != c.code || !strings.Contains(ferry.ErrorMessage(err), c.want) {
				t.Errorf("%v (code %s), want %s %q", err, ferry.ErrorCode(err), c.code, c.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("%s written despite the error", c.out)
			}
			noTemp(t, dir)
		})
	}
}

// classifier is a fake multiclass model: probabilities [rows, 3] labelled by
// class, and the label.
type classifier struct{}

func (classifier) Metadata() runtime.Metadata {
	return runtime.Metadata{
		Inputs: []runtime.TensorSpec{{Name: "x", Datatype: runtime.FP64, Shape: []int64{-1}}},
		Outputs: []runtime.TensorSpec{
			{Name: "probabilities", Datatype: runtime.FP64, Shape: []int64{-1, 3}, Labels: []string{"setosa", "versicolor", "virginica"}},
			{Name: "label", Datatype: runtime.BYTES, Shape: []int64{-1}},
		},
	}
}

func (classifier) Predict(_ context.Context, in []runtime.Tensor) ([]runtime.Tensor, error) {
	n := len(in[0].FP64)
	p := make([]float64, 0, 3*n)
	labels := make([]string, n)
	for i := range n {
		p = append(p, 0.2, 0.3, 0.5)
		labels[i] = "virginica"
	}
	return []runtime.Tensor{
		{Name: "probabilities", Datatype: runtime.FP64, Shape: []int64{int64(n), 3}, FP64: p},
		{Name: "label", Datatype: runtime.BYTES, Shape: []int64{int64(n)}, Str: labels},
	}, nil
}

func (classifier) Close() error { return nil }

// TestScoreFileNamesClassColumns: a multiclass model's probability columns
// are named by class, whatever the signature calls its outputs.
func TestScoreFileNamesClassColumns(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("x\n1\n2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")
	sig := &model.Signature{Inputs: []model.Spec{{Name: "x", Type: model.TypeDouble, Required: true}},
		Outputs: []model.Spec{{Name: "probabilities", Type: model.TypeDouble}, {Name: "label", Type: model.TypeString}}}
	if _, err := ScoreFile(context.Background(), classifier{}, sig, in, out, ScoreOptions{}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(out)
	if first, _, _ := strings.Cut(string(raw), "\n"); first != "probabilities_setosa,probabilities_versicolor,probabilities_virginica,label" {
		t.Fatalf("header %q", first)
	}
}
