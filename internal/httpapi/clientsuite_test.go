package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// TestMLflowClientSuite runs testdata/mlflow/client_suite.py, MLflow's
// official client checking every answer, against Ferry. It runs where
// MLflow is importable: FERRY_MLFLOW_PYTHONPATH names its PYTHONPATH
// (testdata/mlflow/recorded/README.md). With FERRY_MLFLOW_RECORD=1 it first
// runs the suite against a real `mlflow server` through a recording proxy
// and writes recorded/client_suite.json, which TestMLflowRecorded replays
// against Ferry wherever it runs, CI included.
func TestMLflowClientSuite(t *testing.T) {
	pp := os.Getenv("FERRY_MLFLOW_PYTHONPATH")
	if pp == "" {
		t.Skip("set FERRY_MLFLOW_PYTHONPATH to run MLflow's client against Ferry; CI replays its recorded exchanges (testdata/mlflow/recorded/client_suite.json) in TestMLflowRecorded")
	}
	if os.Getenv("FERRY_MLFLOW_RECORD") != "" {
		base, version := startMLflow(t, pp)
		rp := &recordingProxy{target: base, vars: map[string]string{}, names: map[string]string{}}
		proxy := httptest.NewServer(rp)
		runClientSuite(t, pp, proxy.URL)
		proxy.Close()
		rec := recording{MLflowVersion: version, From: "client_suite.py", Vars: rp.vars, Exchanges: rp.exchanges}
		out, err := json.MarshalIndent(rec, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "mlflow", "recorded", "client_suite.json"), append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runClientSuite(t, pp, newTestServer(t).URL)
}

func runClientSuite(t *testing.T, pythonpath, uri string) {
	t.Helper()
	py := os.Getenv("FERRY_MLFLOW_PYTHON")
	if py == "" {
		py = "python3"
	}
	script, err := filepath.Abs(filepath.Join("testdata", "mlflow", "client_suite.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pythonpath, "MLFLOW_TRACKING_URI="+uri, "PYTHONWARNINGS=ignore")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client suite against %s: %v\n%s", uri, err, out)
	}
}

// recordingProxy forwards requests to target and records each exchange,
// the ids the server generated replaced by $names (see templatize).
type recordingProxy struct {
	target string

	mu        sync.Mutex
	vars      map[string]string // $name -> the server's value
	names     map[string]string // the server's value -> $name
	exchanges []recorded
}

// idKeys are the response fields whose values are ids the server generates.
var idKeys = map[string]string{"run_id": "run", "run_uuid": "run", "experiment_id": "exp", "next_page_token": "tok"}

// volatileKeys are the response fields the server fills from its clock.
var volatileKeys = map[string]bool{"creation_time": true, "last_update_time": true, "creation_timestamp": true, "last_updated_timestamp": true}

func (p *recordingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req, err := http.NewRequest(r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.record(r, body, resp, out)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

func (p *recordingProxy) record(r *http.Request, body []byte, resp *http.Response, out []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ex := recorded{Name: fmt.Sprintf("%03d %s %s", len(p.exchanges), r.Method, r.URL.Path), Method: r.Method,
		Path: p.templatizePath(r.URL), Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	var req any
	switch {
	case len(body) == 0:
	case json.Unmarshal(body, &req) == nil && strings.Contains(r.Header.Get("Content-Type"), "json"):
		ex.Request, _ = json.Marshal(p.templatizeJSON("", req))
	case utf8.Valid(body):
		s := p.templatize(string(body))
		ex.BodyText = &s
	default:
		ex.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	var have any
	switch {
	case strings.HasPrefix(ex.ContentType, "application/json") && json.Unmarshal(out, &have) == nil:
		ex.Captures = map[string]string{}
		p.capture("$", have, &ex)
		if len(ex.Captures) == 0 {
			ex.Captures = nil
		}
		ex.Response, _ = json.Marshal(have)
	case utf8.Valid(out):
		s := string(out)
		ex.ResponseTxt = &s
	default:
		ex.ResponseBase64 = base64.StdEncoding.EncodeToString(out)
	}
	p.exchanges = append(p.exchanges, ex)
}

// capture names the ids of a response not seen before and notes where
// they and the clock's values are.
func (p *recordingProxy) capture(path string, v any, ex *recorded) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := path + "." + k
			if kind, ok := idKeys[k]; ok {
				if s, isString := x[k].(string); isString && s != "" && s != "0" {
					name, seen := p.names[s]
					if !seen {
						name = fmt.Sprintf("%s%03d", kind, len(p.vars)+1)
						p.names[s], p.vars[name] = name, s
						ex.Captures[sub] = name
					}
					continue
				}
			}
			if _, isNumber := x[k].(float64); isNumber && volatileKeys[k] {
				ex.Volatile = append(ex.Volatile, sub)
				continue
			}
			p.capture(sub, x[k], ex)
		}
	case []any:
		for i := range x {
			p.capture(fmt.Sprintf("%s[%d]", path, i), x[i], ex)
		}
	}
}

var expBeforeRun = regexp.MustCompile(`(^|[/:])(\d+)/\$run`)

// templatize replaces the run ids known so far in s by their $names, and an
// experiment id right before one (as in artifact paths).
func (p *recordingProxy) templatize(s string) string {
	for v, name := range p.names {
		if !strings.HasPrefix(name, "exp") {
			s = strings.ReplaceAll(s, v, "$"+name)
		}
	}
	return expBeforeRun.ReplaceAllStringFunc(s, func(m string) string {
		sub := expBeforeRun.FindStringSubmatch(m)
		if name, ok := p.names[sub[2]]; ok {
			return sub[1] + "$" + name + "/$run"
		}
		return m
	})
}

// templatizeJSON templatizes the strings of a request; experiment ids
// where the key says so.
func (p *recordingProxy) templatizeJSON(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = p.templatizeJSON(k, e)
		}
	case []any:
		for i, e := range x {
			x[i] = p.templatizeJSON(key, e)
		}
	case string:
		if name, ok := p.names[x]; ok && (key == "experiment_id" || key == "experiment_ids") {
			return "$" + name
		}
		return p.templatize(x)
	}
	return v
}

func (p *recordingProxy) templatizePath(u *url.URL) string {
	path := p.templatize(u.EscapedPath())
	if u.RawQuery == "" {
		return path
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			if name, ok := p.names[v]; ok && strings.HasPrefix(k, "experiment_id") {
				parts = append(parts, url.QueryEscape(k)+"=$"+name)
				continue
			}
			parts = append(parts, url.QueryEscape(k)+"="+strings.ReplaceAll(url.QueryEscape(p.templatize(v)), "%24", "$"))
		}
	}
	return path + "?" + strings.Join(parts, "&")
}
