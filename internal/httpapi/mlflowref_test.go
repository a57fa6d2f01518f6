package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The recorded exchanges: testdata/mlflow/recorded/*.json hold what a real
// MLflow server answered to the exchanges of testdata/mlflow/*.json
// (TestRecordMLflowReference writes them); TestMLflowRecorded replays them
// against Ferry and compares Ferry's answers with MLflow's, field by field
// with JSON types, apart from the intended differences listed below.

// recording is one file of exchanges recorded from a real MLflow server.
type recording struct {
	MLflowVersion string `json:"mlflow_version"`
	// From is the fixture whose requests were replayed, or the program that
	// made them.
	From string `json:"from"`
	// Vars are the values MLflow generated for the fixture's $names (ids).
	Vars      map[string]string `json:"vars"`
	Exchanges []recorded        `json:"exchanges"`
}

// recorded is one request as the fixture makes it ($names substituted on
// replay) and MLflow's answer, verbatim.
type recorded struct {
	Name        string          `json:"name"`
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	Request     json.RawMessage `json:"request,omitempty"`
	BodyText    *string         `json:"body_text,omitempty"`
	BodyBase64  string          `json:"body_base64,omitempty"`
	Status      int             `json:"status"`
	ContentType string          `json:"content_type"`
	Response    json.RawMessage `json:"response,omitempty"`
	ResponseTxt *string         `json:"response_text,omitempty"`
	// ResponseBase64 is a body that is not text.
	ResponseBase64 string `json:"response_base64,omitempty"`
	// Captures maps JSON paths of the response to the $name whose value
	// they hold (an id the server generated).
	Captures map[string]string `json:"captures,omitempty"`
	// Volatile are JSON paths whose value the server generates (timestamps,
	// random run names): only the JSON type is compared.
	Volatile []string `json:"volatile,omitempty"`
}

// intended lists where Ferry deliberately answers otherwise than MLflow
// 2.17.2, keyed by "fixture/step name", each with its reason. The step is
// still sent (later steps depend on it); its answer is checked by
// TestMLflowFixtures against Ferry's own fixture instead.
var intended = map[string]string{
	"artifacts/download a missing artifact":                                          "Ferry answers 404 RESOURCE_DOES_NOT_EXIST; MLflow answers 500 INTERNAL_ERROR with the server's local paths in the message.",
	"errors/create a run without an experiment":                                      "MLflow fails the insert and answers 400 BAD_REQUEST with the SQL error; Ferry uses the Default experiment, as MLflow's clients do.",
	"errors/invalid status":                                                          "Ferry refuses a status that is not a RunStatus; MLflow's JSON parser drops the unknown enum value and answers 200, leaving the run as it was, so the typo goes unnoticed.",
	"errors/search without experiments":                                              "Ferry says that no experiment was named; MLflow answers an empty page.",
	"errors/unknown route":                                                           "Ferry answers a JSON error that names the API prefixes; MLflow (Flask) answers an HTML page.",
	"errors/health":                                                                  "the same body, OK; Ferry labels it text/plain, Flask's default text/html.",
	"errors/readiness":                                                               "/readyz is Ferry's readiness probe (the database answers); MLflow has none.",
	"experiments/search without max_results":                                         "MLflow's POST handler reads an absent max_results as 0 and refuses it; Ferry applies the default page size, as the GET form and MLflow's clients do.",
	"registry_models/invalid name":                                                   "Ferry refuses a / in a model name, which models:/<name>/<version> URIs cannot address; MLflow accepts it.",
	"registry_models/delete tag by query string":                                     "Ferry also reads a DELETE's parameters from the query string; MLflow reads only the JSON body.",
	"registry_models/search next page":                                               "Ferry gives no next_page_token on the last page; MLflow gives one whenever a page is full, which leads to an empty page.",
	"registry_versions/a source outside this server":                                 "Ferry copies and verifies a version's package (digests, flavour, signature) at registration, so it must read the source, and it reads only its own artifact store; MLflow stores the URI without looking and fails only when the model is loaded.",
	"registry_versions/a source with no files":                                       "as above: a version whose package cannot be read could never be served; MLflow registers it and fails at load time.",
	"registry_versions/a source that is not a model package":                         "as above: Ferry refuses a directory without an MLmodel at registration.",
	"registry_versions/a runs:/ source of an unknown run":                            "as above: Ferry resolves runs:/ at registration.",
	"registry_versions/version as a JSON number":                                     "Ferry reads a version sent as a JSON number as well as a string; MLflow refuses the number.",
	"registry_versions/search, next page":                                            "the last page: see registry_models/search next page.",
	"registry_versions/get by an unknown alias":                                      "Ferry answers 404 RESOURCE_DOES_NOT_EXIST for an alias that is not set; MLflow answers 400 INVALID_PARAMETER_VALUE.",
	"registry_versions/get by an alias of an unknown model":                          "as above, for an unknown model.",
	"registry_versions/download URI":                                                 "Ferry serves a version from the registry's own verified copy of the package; MLflow hands back the source.",
	"registry_versions/the registry's copy is downloadable":                          "as above: the registry's copy exists only in Ferry.",
	"registry_versions/delete alias by query string":                                 "see registry_models/delete tag by query string.",
	"runs/metric history page":                                                       "MLflow 2.17.2's server ignores max_results and page_token in get-history and answers every point; Ferry pages, as the proto declares.",
	"runs/metric history next page":                                                  "as above.",
	"logged_models/tracing is not supported":                                         "Ferry does not store traces and answers 501 NOT_IMPLEMENTED with a hint; MLflow 2.17.2 does.",
	"logged_models/nor its sub-routes":                                               "as above.",
	"logged_models/register the logged model, as MLflow 3's register_model sends it": "logged models are MLflow 3's API, which 2.17.2 does not have.",
	"logged_models/register an unknown logged model":                                 "as above.",
	"logged_models/the registered version keeps its copy":                            "as above: the version registered from a logged model exists only in Ferry.",
}

// intendedRoutes are path parts of routes MLflow 2.17.2 does not have, with
// the reason Ferry serves them.
var intendedRoutes = map[string]string{
	"/logged-models":                   "logged models are MLflow 3's API (MLflow 3 clients use them for log_model and register_model); 2.17.2 answers 404.",
	"/runs/outputs":                    "as above: LogOutputs records a run's logged models (MLflow 3).",
	"/model-versions/get-download-uri": "Ferry serves a version from the registry's own verified copy of the package (clients then download that copy); MLflow hands back the source.",
}

// intendedFields are response fields compared by JSON type only, each with
// its reason.
var intendedFields = map[string]string{
	"message":         "error messages are worded by each server; error_code and the status are compared",
	"next_page_token": "page tokens are opaque; each server encodes its own",
}

// intendedValues rewrite MLflow's strings before they are compared, each
// with its reason.
var intendedValues = []struct{ mlflow, ferry, reason string }{
	{"mlflow-artifacts://localhost:5000/", "mlflow-artifacts:/", "Ferry stores a proxied source in its host-independent form, so a version does not depend on the address its client used."},
}

// unordered are the arrays MLflow's SQL store answers in row order, which
// the protos leave unspecified: they are compared sorted by key (or
// version).
var unordered = map[string]bool{"tags": true, "params": true, "metrics": true, "latest_versions": true}

// unorderedRoutes are routes whose model_versions MLflow answers in its
// store's dictionary order (get-latest-versions: one per stage).
var unorderedRoutes = []string{"/get-latest-versions"}

// TestRecordMLflowReference replays every fixture of testdata/mlflow
// against a fresh real MLflow server and writes testdata/mlflow/recorded.
// It runs when FERRY_MLFLOW_PYTHONPATH names the PYTHONPATH of an MLflow
// source tree (see testdata/mlflow/recorded/README.md); FERRY_MLFLOW_PYTHON
// names the interpreter (python3).
func TestRecordMLflowReference(t *testing.T) {
	pp := os.Getenv("FERRY_MLFLOW_PYTHONPATH")
	if pp == "" {
		t.Skip("set FERRY_MLFLOW_PYTHONPATH to an MLflow source tree's PYTHONPATH to record the MLflow reference")
	}
	files, err := filepath.Glob("testdata/mlflow/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	if err := os.MkdirAll("testdata/mlflow/recorded", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			var steps []exchange
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &steps); err != nil {
				t.Fatalf("fixture %s: %v", f, err)
			}
			base, version := startMLflow(t, pp)
			rec := recording{MLflowVersion: version, From: filepath.Base(f), Vars: map[string]string{}}
			for _, st := range steps {
				resp, got := send(t, http.DefaultClient, base, st, rec.Vars)
				r := recorded{Name: st.Name, Method: st.Method, Path: st.Path, Request: st.Request, BodyText: st.BodyText,
					Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
				var have any
				if json.Unmarshal(got, &have) == nil && strings.HasPrefix(r.ContentType, "application/json") {
					compact, _ := json.Marshal(have)
					r.Response = compact
					var want any
					if st.Response != nil {
						if err := json.Unmarshal(st.Response, &want); err != nil {
							t.Fatal(err)
						}
						capture(want, have, rec.Vars)
						r.Captures, r.Volatile = map[string]string{}, nil
						annotate("$", want, have, &r)
						if len(r.Captures) == 0 {
							r.Captures = nil
						}
					}
				} else {
					s := string(got)
					r.ResponseTxt = &s
				}
				rec.Exchanges = append(rec.Exchanges, r)
			}
			out, err := json.MarshalIndent(rec, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("testdata/mlflow/recorded", filepath.Base(f)), append(out, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// annotate records, where the fixture has "$name" and MLflow answered a
// string, that the path captures name, and where the fixture has "#ms" or
// "*" (a value the server generates), that the path is volatile.
func annotate(path string, want, got any, r *recorded) {
	switch w := want.(type) {
	case string:
		if name, ok := varName(w); ok {
			if _, isString := got.(string); isString {
				r.Captures[path] = name
			}
			return
		}
		if (w == "#ms" || w == "*") && got != nil {
			if _, isString := got.(string); w == "*" && isString && strings.HasSuffix(path, ".message") {
				return // compared through intendedFields
			}
			r.Volatile = append(r.Volatile, path)
		}
	case map[string]any:
		if g, ok := got.(map[string]any); ok {
			keys := make([]string, 0, len(w))
			for k := range w {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				annotate(path+"."+k, w[k], g[k], r)
			}
		}
	case []any:
		if g, ok := got.([]any); ok && len(g) == len(w) {
			for i := range w {
				annotate(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], r)
			}
		}
	}
}

// startMLflow starts `python3 -m mlflow server` over a fresh SQLite file
// and artifact directory, as the reference setup has it, and
// returns its URL and MLflow's version.
func startMLflow(t *testing.T, pythonpath string) (string, string) {
	t.Helper()
	py := os.Getenv("FERRY_MLFLOW_PYTHON")
	if py == "" {
		py = "python3"
	}
	env := append(os.Environ(), "PYTHONPATH="+pythonpath)
	ver := exec.Command(py, "-c", "import mlflow; print(mlflow.__version__)")
	ver.Env = env
	out, err := ver.Output()
	if err != nil {
		t.Fatalf("import mlflow: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(py, "-m", "mlflow", "server", "--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		"--serve-artifacts", "--artifacts-destination", filepath.Join(dir, "artifacts"),
		"-h", "127.0.0.1", "-p", fmt.Sprint(port), "--workers", "1")
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("mlflow server did not start: %v\n%s", err, log)
		}
		time.Sleep(200 * time.Millisecond) // polling a child process's readiness
	}
	return base, strings.TrimSpace(string(out))
}

// TestMLflowRecorded replays each recorded MLflow exchange against a fresh
// Ferry server per file and compares Ferry's answers with MLflow's: the
// status, the media type, and the body field by field with JSON types.
// Ids MLflow generated compare as Ferry's own (captured where MLflow's
// were); volatile fields and intendedFields by type; steps in intended are
// sent but not compared.
func TestMLflowRecorded(t *testing.T) {
	files, err := filepath.Glob("testdata/mlflow/recorded/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded exchanges: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var rec recording
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if rec.MLflowVersion == "" {
				t.Fatalf("%s names no MLflow version", f)
			}
			srv := newTestServer(t)
			vars := map[string]string{}
			for i, r := range rec.Exchanges {
				st := exchange{Name: r.Name, Method: r.Method, Path: r.Path, Request: r.Request, BodyText: r.BodyText, BodyBase64: r.BodyBase64}
				resp, got := send(t, srv.Client(), srv.URL, st, vars)
				var have any
				isJSON := json.Unmarshal(got, &have) == nil
				if isJSON {
					for p, v := range r.Captures {
						if s, ok := at(have, p).(string); ok && s != "" && vars[v] == "" {
							vars[v] = s
						}
					}
				}
				if _, ok := intended[name+"/"+r.Name]; ok || intendedRoute(r.Path) {
					continue
				}
				where := fmt.Sprintf("step %d (%s): %s %s", i, r.Name, r.Method, r.Path)
				if resp.StatusCode != r.Status {
					t.Errorf("%s: status %d, MLflow %s answered %d; body %s", where, resp.StatusCode, rec.MLflowVersion, r.Status, got)
					continue
				}
				if mt, want := mediaType(resp.Header.Get("Content-Type")), mediaType(r.ContentType); mt != want {
					t.Errorf("%s: content type %q, MLflow's %q", where, mt, want)
				}
				tr := translator(rec.Vars, vars)
				if r.ResponseBase64 != "" {
					if want, _ := base64.StdEncoding.DecodeString(r.ResponseBase64); !bytes.Equal(got, want) {
						t.Errorf("%s: %d bytes differ from MLflow's %d", where, len(got), len(want))
					}
					continue
				}
				if r.ResponseTxt != nil {
					if want := tr(*r.ResponseTxt); string(got) != want {
						t.Errorf("%s: body %q, MLflow's %q", where, got, want)
					}
					continue
				}
				var want any
				if err := json.Unmarshal(r.Response, &want); err != nil {
					t.Fatalf("%s: recorded response: %v", where, err)
				}
				if !isJSON {
					t.Errorf("%s: response is not JSON: %s", where, got)
					continue
				}
				volatile := map[string]bool{}
				for _, p := range r.Volatile {
					volatile[p] = true
				}
				orderFree := false
				for _, p := range unorderedRoutes {
					orderFree = orderFree || strings.Contains(r.Path, p)
				}
				if diffs := matchRecorded("$", want, have, r.Captures, volatile, vars, tr, orderFree); len(diffs) > 0 {
					t.Errorf("%s: response %s differs from MLflow's %s:\n  %s", where, got, r.Response, strings.Join(diffs, "\n  "))
				}
			}
		})
	}
}

func intendedRoute(path string) bool {
	for p := range intendedRoutes {
		if strings.Contains(path, p) {
			return true
		}
	}
	return false
}

func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(strings.ToLower(mt))
}

// at returns the value at a path of annotate's form ($.a.b[0]), or nil.
func at(v any, path string) any {
	rest := strings.TrimPrefix(path, "$")
	for rest != "" {
		switch rest[0] {
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v, rest = m[rest[1:end+1]], rest[end+1:]
		case '[':
			end := strings.IndexByte(rest, ']')
			var i int
			if _, err := fmt.Sscanf(rest[1:end], "%d", &i); err != nil {
				return nil
			}
			a, ok := v.([]any)
			if !ok || i >= len(a) {
				return nil
			}
			v, rest = a[i], rest[end+1:]
		default:
			return nil
		}
	}
	return v
}

// translator turns strings of MLflow's answers into Ferry's terms: a string
// that is one of MLflow's generated ids becomes Ferry's id of the same
// name, and ids of 8 characters or more are replaced inside longer strings
// (such as artifact URIs) too.
func translator(mlflow, ferry map[string]string) func(string) string {
	return func(s string) string {
		for _, iv := range intendedValues {
			s = strings.ReplaceAll(s, iv.mlflow, iv.ferry)
		}
		for name, v := range mlflow {
			if f, ok := ferry[name]; ok && s == v {
				return f
			}
		}
		for name, v := range mlflow {
			if f, ok := ferry[name]; ok && len(v) >= 8 {
				s = strings.ReplaceAll(s, v, f)
			}
		}
		return s
	}
}

// jsonText reports whether s looks like a JSON object or array.
func jsonText(s string) bool {
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// sortedOrder returns the indexes of objects in the order of their key (or
// version).
func sortedOrder(in []any) []int {
	key := func(v any) string {
		m, _ := v.(map[string]any)
		return fmt.Sprint(m["key"], "/", m["version"])
	}
	out := identity(len(in))
	sort.SliceStable(out, func(i, j int) bool { return key(in[out[i]]) < key(in[out[j]]) })
	return out
}

// typeName is the JSON type of a decoded value.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// matchRecorded compares Ferry's answer with MLflow's recorded one, field
// by field with JSON types.
func matchRecorded(path string, want, got any, captures map[string]string, volatile map[string]bool, vars map[string]string, tr func(string) string, orderFree bool) []string {
	if name, ok := captures[path]; ok {
		if s, isString := got.(string); !isString || s != vars[name] {
			return []string{fmt.Sprintf("%s: %#v, want Ferry's $%s = %q", path, got, name, vars[name])}
		}
		return nil
	}
	last := path[strings.LastIndexAny(path, ".[")+1:]
	if _, ok := intendedFields[last]; ok || volatile[path] {
		if typeName(got) != typeName(want) {
			return []string{fmt.Sprintf("%s: %s %#v, MLflow answered a %s", path, typeName(got), got, typeName(want))}
		}
		return nil
	}
	switch w := want.(type) {
	case string:
		s, ok := got.(string)
		if ok && s != tr(w) && jsonText(w) && jsonText(s) {
			// A JSON document in a string (the mlflow.log-model.history
			// tag): clients parse it, so it is compared parsed.
			var wv, gv any
			if json.Unmarshal([]byte(tr(w)), &wv) == nil && json.Unmarshal([]byte(s), &gv) == nil {
				return matchRecorded(path+"<json>", wv, gv, captures, volatile, vars, tr, orderFree)
			}
		}
		if !ok || s != tr(w) {
			return []string{fmt.Sprintf("%s: %#v, MLflow's %q", path, got, tr(w))}
		}
		return nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %#v, MLflow answered an object", path, got)}
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing (MLflow: %v)", path, k, wv))
				continue
			}
			diffs = append(diffs, matchRecorded(path+"."+k, wv, gv, captures, volatile, vars, tr, orderFree)...)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: not in MLflow's answer", path, k))
			}
		}
		sort.Strings(diffs)
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v, MLflow answered %d items", path, got, len(w))}
		}
		pw, pg := identity(len(w)), identity(len(g))
		if unordered[last] || (last == "model_versions" && orderFree) {
			pw, pg = sortedOrder(w), sortedOrder(g)
		}
		var diffs []string
		for i := range w {
			// The path keeps MLflow's index, which captures and volatile name.
			diffs = append(diffs, matchRecorded(fmt.Sprintf("%s[%d]", path, pw[i]), w[pw[i]], g[pg[i]], captures, volatile, vars, tr, orderFree)...)
		}
		return diffs
	}
	if want != got {
		return []string{fmt.Sprintf("%s: %s %#v, MLflow's %s %#v", path, typeName(got), got, typeName(want), want)}
	}
	return nil
}
