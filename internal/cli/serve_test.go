package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs `ferry serve args...` in-process on a free loopback port
// and returns its base URL and a function that interrupts it and returns
// its exit code and standard error.
func startServe(t *testing.T, data string, environ []string, args ...string) (string, func() (int, string)) {
	t.Helper()
	return startListening(t, data, environ, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
}

// startListening runs a command that listens (serve, server) until the
// returned stop is called; it returns the URL the command printed first.
func startListening(t *testing.T, data string, environ []string, args ...string) (string, func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errb := &lockedBuffer{}
	done := make(chan int, 1)
	env := Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: errb, Environ: append([]string{"HOME=" + t.TempDir()}, environ...)}
	go func() {
		code := Run(ctx, append([]string{"--data", data}, args...), env)
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("%s: %v; stderr: %s", args[0], err, errb.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	i := strings.Index(line, "http://")
	if i < 0 {
		cancel()
		t.Fatalf("%s printed %q", args[0], line)
	}
	url := strings.TrimSpace(line[i:])
	return url, func() (int, string) {
		cancel()
		return <-done, errb.String()
	}
}

func postJSON(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestServe serves a registered version and a package directory, and
// checks that the served predictions are ferry predict's.
func TestServe(t *testing.T) {
	data := t.TempDir()
	pkgDir := t.TempDir()
	run := trainTinyModel(t, data, "--out", pkgDir)
	if code, out, errs := runCLI(t, data, "models", "register", "toy", "--from", "runs:/"+run+"/model"); code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}
	// ferry predict's answers for three rows.
	in := filepath.Join(t.TempDir(), "rows.csv")
	os.WriteFile(in, []byte("x1,x2\n1,2\n9,0\n16,12\n"), 0o644)
	outPath := filepath.Join(t.TempDir(), "scored.jsonl")
	if code, out, errs := runCLI(t, data, "predict", "models:/toy/1", "-i", in, "-o", outPath); code != 0 {
		t.Fatalf("predict: %d %s %s", code, out, errs)
	}
	raw, _ := os.ReadFile(outPath)
	var want []float64
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var row struct{ Probability float64 }
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		want = append(want, row.Probability)
	}

	for _, c := range []struct {
		name, ref, model, version string
		environ                   []string
	}{
		{"registered", "models:/toy/1", "toy", "1", nil},
		{"alias-free latest", "models:/toy@latest", "toy", "1", nil},
		{"package directory", filepath.Join(pkgDir, "model"), "churn", "7", []string{"FERRY_MODEL_NAME=churn", "FERRY_MODEL_VERSION=7"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, stop := startServe(t, data, c.environ, c.ref)
			code, body := postJSON(t, url+"/v2/models/"+c.model+"/infer", "application/json",
				`{"inputs":[{"name":"x1","shape":[3],"datatype":"INT64","data":[1,9,16]},{"name":"x2","shape":[3],"datatype":"FP64","data":[2,0,12]}]}`)
			var v2 struct {
				ModelVersion string `json:"model_version"`
				Outputs      []struct {
					Name string
					Data []any
				}
			}
			if err := json.Unmarshal([]byte(body), &v2); err != nil || code != 200 || v2.ModelVersion != c.version {
				t.Fatalf("v2: %d %s", code, body)
			}
			for i, w := range want {
				if got := v2.Outputs[0].Data[i].(float64); v2.Outputs[0].Name != "probability" || got != w {
					t.Errorf("row %d: served %s %v, ferry predict %v", i, v2.Outputs[0].Name, got, w)
				}
			}
			code, body = postJSON(t, url+"/invocations", "text/csv", "x2,x1\n2,1\n")
			if code != 200 || !strings.HasPrefix(body, `{"predictions":[{"probability":`) {
				t.Fatalf("invocations: %d %s", code, body)
			}
			code, body = postJSON(t, url+"/invocations", "application/json", `{"dataframe_split":{"columns":["x1"],"data":[[1]]}}`)
			if code != 400 || !strings.Contains(body, "Missing required column 'x2' (double)") {
				t.Fatalf("invocations error: %d %s", code, body)
			}
			resp, err := http.Get(url + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(metrics), `ferry_serving_requests_total{code="200",model="`+c.model+`",protocol="v2",version="`+c.version+`"} 1`) {
				t.Fatalf("metrics:\n%s", metrics)
			}
			code, errs := stop()
			if code != 0 || !strings.Contains(errs, "closed model") {
				t.Fatalf("exit %d; stderr:\n%s", code, errs)
			}
		})
	}

	code, _, errs := runCLI(t, data, "serve", "models:/nope/1", "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errs, "nope") {
		t.Fatalf("unknown model: %d %s", code, errs)
	}
	code, _, errs = runCLI(t, data, "serve", filepath.Join(t.TempDir(), "missing"))
	if code != 1 || !strings.Contains(errs, "no model package directory") {
		t.Fatalf("missing directory: %d %s", code, errs)
	}
	code, _, errs = runCLI(t, data, "serve")
	if code != 2 {
		t.Fatalf("no argument: %d %s", code, errs)
	}
}

// TestInferenceHandler serves registered models by alias and version beside
// the API, as `ferry server` will once it mounts withInference.
func TestInferenceHandler(t *testing.T) {
	data := t.TempDir()
	run := trainTinyModel(t, data)
	for _, args := range [][]string{
		{"models", "register", "toy", "--from", "runs:/" + run + "/model"},
		{"models", "alias", "toy", "champion", "1"},
	} {
		if code, out, errs := runCLI(t, data, args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errs)
		}
	}
	a := &app{env: Env{Environ: []string{"HOME=" + t.TempDir()}}, dataDir: data}
	cfg, err := a.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := a.open(ctx, cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h, closeInference := b.Handler()
	srv := httptestServer(t, h)
	row := `{"inputs":[{"name":"x1","shape":[1],"datatype":"FP64","data":[3]},{"name":"x2","shape":[1],"datatype":"FP64","data":[4]}]}`
	for _, path := range []string{"/v2/models/toy@champion/infer", "/v2/models/toy/versions/1/infer", "/v2/models/toy/infer"} {
		code, body := postJSON(t, srv+path, "application/json", row)
		if code != 200 || !strings.Contains(body, `"model_name":"toy","model_version":"1"`) {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	code, body := postJSON(t, srv+"/v2/models/toy@nope/infer", "application/json", row)
	if code != 404 {
		t.Fatalf("unknown alias: %d %s", code, body)
	}
	resp, err := http.Get(srv + "/healthz") // the API's routes are untouched
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := closeInference(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(cfg.DataDir, "cache", "serving"))
	if len(entries) != 0 {
		t.Fatalf("fetched packages left after close: %v", entries)
	}
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
