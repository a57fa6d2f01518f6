package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime/xgboost"
)

// mlflowAnswers is testdata/mlflowref/mlflow_answers.json: what `mlflow
// models serve` answered to testdata/mlflowref/cases.json, serving the
// package in testdata/mlflowref/pkg (record.py wrote all three).
type mlflowAnswers struct {
	MLflowVersion  string   `json:"mlflow_version"`
	XGBoostVersion string   `json:"xgboost_version"`
	Answers        []answer `json:"answers"`
}

type answer struct {
	Name        string          `json:"name"`
	Status      int             `json:"status"`
	ContentType string          `json:"content_type"`
	Body        json.RawMessage `json:"body,omitempty"`
	Text        *string         `json:"text,omitempty"`
}

// scoringIntended lists the cases where Ferry deliberately answers
// otherwise than MLflow's scoring server, each with its reason; they are
// still checked, against Ferry's own goldens (TestGoldenMLflow).
var scoringIntended = map[string]string{
	"version":                         "the body is the server's own version.",
	"no content type":                 "Ferry reads a body without a Content-Type as JSON, as most JSON APIs do; MLflow refuses it (415). MLflow's clients always send the header.",
	"dataframe_split without columns": "Ferry takes the columns in the signature's order; MLflow names them 0, 1, ... and then fails its own schema check.",
	"error: float for a long":         "Ferry refuses 2.5 for a long column; MLflow truncates it to 2 without a word.",
	"error: csv with a ragged row":    "Ferry refuses a row with more fields than the header; pandas makes the first field the row's index and shifts the others, so MLflow scores other values than were sent.",
	"error: GET /invocations":         "Ferry answers 405 with a JSON error, as for every error; MLflow (Flask) with an HTML page.",
	"error: unknown path":             "Ferry answers 404 with a JSON error; MLflow (Flask) with an HTML page.",
}

// TestMLflowScoringParity replays the requests MLflow's scoring server
// answered against Ferry serving the same MLflow-written XGBoost package,
// and compares the status, the media type and the body's shape: the same
// keys with the same JSON types, the same error_code, predictions within
// 1e-6, and text where MLflow answers text.
func TestMLflowScoringParity(t *testing.T) {
	dir := filepath.Join("testdata", "mlflowref")
	var cases []exchange
	readJSON(t, filepath.Join(dir, "cases.json"), &cases)
	var rec mlflowAnswers
	readJSON(t, filepath.Join(dir, "mlflow_answers.json"), &rec)
	if len(rec.Answers) != len(cases) || rec.MLflowVersion == "" {
		t.Fatalf("%d answers (MLflow %q) for %d cases: run record.py", len(rec.Answers), rec.MLflowVersion, len(cases))
	}
	ctx := context.Background()
	pkg, err := model.Load(ctx, filepath.Join(dir, "pkg"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := xgboost.Load(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Default: "model", Registerer: prometheus.NewRegistry()})
	s.Set("model", "1", m, pkg.Manifest.Signature)
	h := s.Handler()
	for i, c := range cases {
		want := rec.Answers[i]
		if want.Name != c.Name {
			t.Fatalf("answer %d is %q, case %q: run record.py", i, want.Name, c.Name)
		}
		if _, ok := scoringIntended[c.Name]; ok {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			body := []byte(c.Request.Text)
			if c.Request.Body != nil {
				body = c.Request.Body
			}
			r := httptest.NewRequest(c.Request.Method, c.Request.Path, bytes.NewReader(body))
			if c.Request.ContentType != "" {
				r.Header.Set("Content-Type", c.Request.ContentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != want.Status {
				t.Fatalf("status %d, MLflow %s answered %d; body %s", w.Code, rec.MLflowVersion, want.Status, w.Body)
			}
			if got, mlf := mediaType(w.Header().Get("Content-Type")), mediaType(want.ContentType); got != mlf {
				t.Errorf("content type %q, MLflow's %q", w.Header().Get("Content-Type"), want.ContentType)
			}
			if want.Text != nil {
				if json.Valid(w.Body.Bytes()) && len(bytes.TrimSpace(w.Body.Bytes())) > 0 {
					t.Errorf("body %s is JSON, MLflow answered text %q", w.Body, *want.Text)
				}
				if want.Status == 200 && w.Body.String() != *want.Text {
					t.Errorf("body %q, MLflow's %q", w.Body, *want.Text)
				}
				return
			}
			var got, mlf any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q is not JSON, MLflow answered %s", w.Body, want.Body)
			}
			if err := json.Unmarshal(want.Body, &mlf); err != nil {
				t.Fatal(err)
			}
			if diffs := sameShape("$", mlf, got); len(diffs) > 0 {
				t.Errorf("body %s, MLflow's %s:\n  %v", w.Body, want.Body, diffs)
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// sameShape compares an answer with MLflow's: objects with the same keys
// (but stack_trace, which Ferry does not send),
// the same JSON types throughout, numbers within 1e-6, error_code equal;
// other strings (messages) may differ.
func sameShape(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want an object", path, got)}
		}
		var diffs []string
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case !inG && k == "stack_trace":
				// MLflow sends a Python traceback with some errors; Ferry
				// never shows its internals to clients.
			case !inG:
				diffs = append(diffs, path+"."+k+": missing")
			case !inW:
				diffs = append(diffs, path+"."+k+": not in MLflow's answer")
			case k == "error_code" && wv != gv:
				diffs = append(diffs, fmt.Sprintf("%s.%s: %v, MLflow's %v", path, k, gv, wv))
			default:
				diffs = append(diffs, sameShape(path+"."+k, wv, gv)...)
			}
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v, want %d items", path, got, len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, sameShape(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	case float64:
		if g, ok := got.(float64); !ok || math.Abs(g-w) > 1e-6 {
			return []string{fmt.Sprintf("%s: %v, MLflow's %v", path, got, w)}
		}
		return nil
	case string:
		if _, ok := got.(string); !ok {
			return []string{fmt.Sprintf("%s: %v, want a string", path, got)}
		}
		return nil
	}
	if want != got {
		return []string{fmt.Sprintf("%s: %v, MLflow's %v", path, got, want)}
	}
	return nil
}
