package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/dataset"
)

// TestServeCollect: `ferry serve --collect` logs each prediction to the
// configured artifact store under inference-logs/serve/<name>/, counts it
// in /metrics, and writes it when interrupted.
func TestServeCollect(t *testing.T) {
	data := t.TempDir()
	run := trainTinyModel(t, data)
	if code, out, errs := runCLI(t, data, "models", "register", "toy", "--from", "runs:/"+run+"/model"); code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}
	url, stop := startServe(t, data, nil, "models:/toy/1", "--collect")
	if code, body := postJSON(t, url+"/invocations", "text/csv", "x2,x1\n2,1\n0,9\n12,16\n"); code != 200 {
		t.Fatalf("invocations: %d %s", code, body)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ferry_collector_records_total{deployment="toy",endpoint="serve"} 1`, `ferry_serving_requests_total{code="200",model="toy",protocol="mlflow",version="1"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
	if code, errs := stop(); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	var found []string
	_ = filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".parquet") && strings.Contains(filepath.ToSlash(path), "/inference-logs/serve/toy/date=") {
			found = append(found, path)
		}
		return nil
	})
	if len(found) != 1 {
		t.Fatalf("segments %v, want one", found)
	}
	f, err := dataset.Read(context.Background(), found[0], dataset.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := f.Names()
	if f.Len() != 3 || !slices.Contains(names, "x1") || !slices.Contains(names, "x2") || !slices.Contains(names, "probability") {
		t.Errorf("%d rows of %v; want 3 rows with x1, x2 and probability", f.Len(), names)
	}
}
