package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/testbackend"
)

// newTestServer serves the API over a real SQLite file and artifact directory.
func newTestServer(t testing.TB) *httptest.Server {
	t.Helper()
	b := testbackend.OpenWith(t, testbackend.Options{Synchronous: sqlite.SynchronousNormal, MaxRequestBytes: 1 << 20})
	srv := httptest.NewServer(b.API.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// exchange is one recorded request and the response it must get.
//
// In Response (and ResponseText), a string "$name" captures the value found
// there the first time and must equal it afterwards; "*" matches any non-null
// value; "#ms" matches a millisecond Unix timestamp. "$name" inside a longer
// string, in Path, Request or BodyText, is replaced by the captured value.
type exchange struct {
	Name         string          `json:"name"`
	Method       string          `json:"method"`
	Path         string          `json:"path"`
	Request      json.RawMessage `json:"request,omitempty"`
	BodyText     *string         `json:"body_text,omitempty"`
	BodyBase64   string          `json:"body_base64,omitempty"` // a body that is not text, sent as is
	Status       int             `json:"status"`
	Response     json.RawMessage `json:"response,omitempty"`
	ResponseText *string         `json:"response_text,omitempty"`
}

// TestMLflowFixtures replays testdata/mlflow/*.json against a fresh server
// each, in order. The files are the request scripts the MLflow reference
// is recorded from (TestRecordMLflowReference); their responses state
// Ferry's answers, which equal MLflow's recorded ones (TestMLflowRecorded)
// but where mlflowref_test.go lists an intended difference.
func TestMLflowFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/mlflow/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var steps []exchange
			if err := json.Unmarshal(raw, &steps); err != nil {
				t.Fatalf("fixture %s: %v", f, err)
			}
			srv := newTestServer(t)
			vars := map[string]string{}
			for i, st := range steps {
				if !replay(t, srv, i, st, vars) {
					return
				}
			}
		})
	}
}

// send makes the request of st, its $names substituted, to base.
func send(t testing.TB, client *http.Client, base string, st exchange, vars map[string]string) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	switch {
	case st.BodyBase64 != "":
		raw, err := base64.StdEncoding.DecodeString(st.BodyBase64)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	case st.BodyText != nil:
		body = strings.NewReader(substitute(*st.BodyText, vars))
	case st.Request != nil:
		body = strings.NewReader(substitute(string(st.Request), vars))
	}
	req, err := http.NewRequest(st.Method, base+substitute(st.Path, vars), body)
	if err != nil {
		t.Fatal(err)
	}
	if st.Request != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, got
}

func replay(t *testing.T, srv *httptest.Server, i int, st exchange, vars map[string]string) bool {
	t.Helper()
	resp, got := send(t, srv.Client(), srv.URL, st, vars)
	where := fmt.Sprintf("step %d (%s): %s %s", i, st.Name, st.Method, st.Path)
	if resp.StatusCode != st.Status {
		t.Errorf("%s: status %d, want %d; body %s", where, resp.StatusCode, st.Status, got)
		return false
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id", where)
	}
	if st.ResponseText != nil {
		if string(got) != substitute(*st.ResponseText, vars) {
			t.Errorf("%s: body %q, want %q", where, got, *st.ResponseText)
			return false
		}
		return true
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: content type %q", where, resp.Header.Get("Content-Type"))
	}
	var want, have any
	if err := json.Unmarshal(st.Response, &want); err != nil {
		t.Fatalf("%s: fixture response: %v", where, err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Errorf("%s: response is not JSON: %s", where, got)
		return false
	}
	capture(want, have, vars)
	if diffs := match("$", want, have, vars); len(diffs) > 0 {
		t.Errorf("%s: response %s differs:\n  %s", where, got, strings.Join(diffs, "\n  "))
		return false
	}
	return true
}

// substitute replaces $name by captured values, longest names first.
func substitute(s string, vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, k := range names {
		s = strings.ReplaceAll(s, "$"+k, vars[k])
	}
	return s
}

// capture records the values at "$name" places not captured yet, so that
// match can compare strings that use them wherever they appear.
func capture(want, got any, vars map[string]string) {
	switch w := want.(type) {
	case string:
		if name, ok := varName(w); ok {
			if g, ok := got.(string); ok && g != "" {
				if _, seen := vars[name]; !seen {
					vars[name] = g
				}
			}
		}
	case map[string]any:
		if g, ok := got.(map[string]any); ok {
			for k, wv := range w {
				capture(wv, g[k], vars)
			}
		}
	case []any:
		if g, ok := got.([]any); ok && len(g) == len(w) {
			for i := range w {
				capture(w[i], g[i], vars)
			}
		}
	}
}

// varName returns name for a fixture string "$name".
func varName(s string) (string, bool) {
	if len(s) > 1 && s[0] == '$' && !strings.ContainsAny(s[1:], "/ $'") {
		return s[1:], true
	}
	return "", false
}

// match compares a response with its fixture, field by field with JSON
// types, and returns the differences.
func match(path string, want, got any, vars map[string]string) []string {
	switch w := want.(type) {
	case string:
		switch {
		case w == "*":
			if got == nil {
				return []string{path + ": missing"}
			}
			return nil
		case w == "#ms":
			if n, ok := got.(float64); !ok || n < 1e12 || n > 1e13 {
				return []string{fmt.Sprintf("%s: %v is not a millisecond timestamp", path, got)}
			}
			return nil
		}
		if name, ok := varName(w); ok {
			v, seen := vars[name]
			if s, ok := got.(string); !seen || !ok || v != s {
				return []string{fmt.Sprintf("%s: %#v, want %s = %q", path, got, w, v)}
			}
			return nil
		}
		if s, ok := got.(string); !ok || s != substitute(w, vars) {
			return []string{fmt.Sprintf("%s: %#v, want %q", path, got, substitute(w, vars))}
		}
		return nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %#v, want an object", path, got)}
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, path+"."+k+": missing")
				continue
			}
			diffs = append(diffs, match(path+"."+k, wv, gv, vars)...)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				diffs = append(diffs, path+"."+k+": unexpected field")
			}
		}
		sort.Strings(diffs)
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v, want %d items", path, got, len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, match(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], vars)...)
		}
		return diffs
	}
	// Numbers, booleans and null: the same JSON type and value, so that 2
	// does not match "2" nor true "true".
	if want != got {
		return []string{fmt.Sprintf("%s: %#v, want %#v", path, got, want)}
	}
	return nil
}

// post sends a JSON body and returns the status and decoded answer.
func post(t testing.TB, srv *httptest.Server, path string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Post(srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
