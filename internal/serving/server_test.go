package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// oneRow is a V2 request of one row with x and n.
func oneRow(x float64, n int) []byte {
	return []byte(fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[%g]},{"name":"n","shape":[1],"datatype":"INT64","data":[%d]}]}`, x, n))
}

type v2Answer struct {
	ModelVersion string `json:"model_version"`
	Outputs      []struct {
		Name string    `json:"name"`
		Data []float64 `json:"data"`
	} `json:"outputs"`
	Error string `json:"error"`
}

func post(t testing.TB, c *http.Client, url string, body []byte) (int, v2Answer) {
	t.Helper()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, v2Answer{}
	}
	defer resp.Body.Close()
	var a v2Answer
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Errorf("answer %q: %v", raw, err)
	}
	return resp.StatusCode, a
}

// TestHotSwapUnderLoad swaps the model behind a name 100 times while 8
// clients send requests continuously: no request fails, every answer comes
// from one model version whole, and every replaced model is Closed, after its
// last request.
func TestHotSwapUnderLoad(t *testing.T) {
	const clients, swaps = 8, 100
	s := New(Options{Registerer: prometheus.NewRegistry()})
	models := []*tableModel{{tag: 0}}
	s.Set("tab", "0", models[0], tableSignature())
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	url := ts.URL + "/v2/models/tab/infer"

	stop := make(chan struct{})
	served := make(chan struct{}, 1024)
	var failed, total atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := ts.Client()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				x := float64(c*1000 + i%1000)
				code, a := post(t, client, url, oneRow(x, 1))
				total.Add(1)
				if code != 200 || len(a.Outputs) != 1 || len(a.Outputs[0].Data) != 1 {
					failed.Add(1)
					t.Errorf("client %d request %d: %d %+v", c, i, code, a)
					continue
				}
				// score = x + n + tag, and the tag is the version: the answer
				// must come from one model, whole.
				v, _ := strconv.Atoi(a.ModelVersion)
				if want := x + 1 + float64(v); a.Outputs[0].Data[0] != want {
					failed.Add(1)
					t.Errorf("version %s answered %v, want %v", a.ModelVersion, a.Outputs[0].Data[0], want)
				}
				select {
				case served <- struct{}{}:
				default:
				}
			}
		}()
	}
	for i := 1; i <= swaps; i++ {
		// Let requests flow on the current model before swapping it.
		for range clients {
			<-served
		}
		m := &tableModel{tag: float64(i)}
		models = append(models, m)
		s.Set("tab", strconv.Itoa(i), m, tableSignature())
	}
	for range clients {
		<-served
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed", failed.Load(), total.Load())
	}
	for i, m := range models[:swaps] {
		if !m.closed.Load() {
			t.Errorf("model %d was replaced but not closed", i)
		}
		if err := m.problem(); err != nil {
			t.Errorf("model %d: %v", i, err)
		}
	}
	last := models[swaps]
	if last.closed.Load() {
		t.Fatal("the served model was closed")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !last.closed.Load() {
		t.Fatal("Close did not close the served model")
	}
	t.Logf("%d requests over %d swaps, none failed", total.Load(), swaps)
}

// TestBatching: concurrent requests are merged into one Predict and each
// gets its own rows back.
func TestBatching(t *testing.T) {
	s := New(Options{Registerer: prometheus.NewRegistry()})
	m := &tableModel{}
	// A long delay: the batch runs when it is full, not on a timer.
	s.Set("tab", "1", m, tableSignature(), WithBatching(8, time.Hour))
	h := s.Handler()
	sizes := []int{1, 2, 1, 3, 1} // 8 rows in 5 requests
	var wg sync.WaitGroup
	for i, n := range sizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			xs := make([]string, n)
			ns := make([]string, n)
			for r := range n {
				xs[r] = strconv.Itoa(100*i + r)
				ns[r] = "1"
			}
			body := fmt.Sprintf(`{"inputs":[{"name":"x","shape":[%d],"datatype":"FP64","data":[%s]},{"name":"n","shape":[%d],"datatype":"INT64","data":[%s]}]}`,
				n, strings.Join(xs, ","), n, strings.Join(ns, ","))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/tab/infer", strings.NewReader(body)))
			var a v2Answer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || w.Code != 200 {
				t.Errorf("request %d: %d %s", i, w.Code, w.Body)
				return
			}
			for r := range n {
				if want := float64(100*i+r) + 1; a.Outputs[0].Data[r] != want {
					t.Errorf("request %d row %d = %v, want %v", i, r, a.Outputs[0].Data[r], want)
				}
			}
		}()
	}
	wg.Wait()
	if c := m.calls.Load(); c != 1 {
		t.Fatalf("Predict calls = %d, want 1 batch of 8 rows", c)
	}
	if r := m.rows.Load(); r != 8 {
		t.Fatalf("rows = %d, want 8", r)
	}
	// Requests of another form (here: with the optional column) are not
	// merged with these, and a request as large as the batch runs alone.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/tab/infer", bytes.NewReader(
		[]byte(`{"inputs":[{"name":"x","shape":[8],"datatype":"FP64","data":[1,2,3,4,5,6,7,8]},{"name":"n","shape":[8],"datatype":"INT64","data":[1,1,1,1,1,1,1,1]}]}`))))
	if w.Code != 200 || m.calls.Load() != 2 {
		t.Fatalf("full-size request: %d %s, calls %d", w.Code, w.Body, m.calls.Load())
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !m.closed.Load() || m.problem() != nil {
		t.Fatalf("closed %v, %v", m.closed.Load(), m.problem())
	}
}

// TestBatchingTimer: a lone request is predicted after MaxDelay.
func TestBatchingTimer(t *testing.T) {
	s := New(Options{Registerer: prometheus.NewRegistry()})
	m := &tableModel{}
	s.Set("tab", "1", m, tableSignature(), WithBatching(64, time.Millisecond))
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/tab/infer", bytes.NewReader(oneRow(2, 3))))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"data":[5]`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// TestGracefulShutdown: http.Server.Shutdown waits for a request in
// Predict, which completes; the model is Closed only after it.
func TestGracefulShutdown(t *testing.T) {
	s := New(Options{Registerer: prometheus.NewRegistry()})
	m := &tableModel{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	s.Set("tab", "1", m, tableSignature())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler()}
	go func() { _ = srv.Serve(ln) }()

	type result struct {
		code int
		a    v2Answer
	}
	res := make(chan result, 1)
	go func() {
		code, a := post(t, http.DefaultClient, "http://"+ln.Addr().String()+"/v2/models/tab/infer", oneRow(1, 1))
		res <- result{code, a}
	}()
	<-m.entered // the request is in Predict
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()

	// Closing the models cannot finish while the request holds its model.
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(expired); err == nil {
		t.Fatal("Close returned while a request was in Predict")
	}
	if m.closed.Load() {
		t.Fatal("model closed while in use")
	}
	close(m.block)
	r := <-res
	if r.code != 200 || r.a.Outputs[0].Data[0] != 2 {
		t.Fatalf("drained request: %d %+v", r.code, r.a)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !m.closed.Load() || m.problem() != nil {
		t.Fatalf("closed %v, %v", m.closed.Load(), m.problem())
	}
	// After Close nothing is served.
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/v2/health/ready", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("ready after close: %d", w.Code)
	}
	// Set after Close closes the model at once.
	late := &tableModel{}
	s.Set("tab", "2", late, nil)
	if !late.closed.Load() {
		t.Fatal("Set after Close kept the model")
	}
}

func TestLimits(t *testing.T) {
	t.Run("request size", func(t *testing.T) {
		s := New(Options{Registerer: prometheus.NewRegistry(), MaxRequestBytes: 64})
		s.Set("tab", "1", &tableModel{}, tableSignature())
		ts := httptest.NewServer(s.Handler())
		defer ts.Close()
		big := bytes.Repeat([]byte(" "), 100)
		for _, path := range []string{"/v2/models/tab/infer", "/v1/models/tab:predict", "/invocations"} {
			// With a Content-Length, and streamed without one.
			for _, body := range []io.Reader{bytes.NewReader(big), io.MultiReader(bytes.NewReader(big))} {
				resp, err := ts.Client().Post(ts.URL+path, "application/json", body)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(raw), "exceeds the limit of 64 bytes") {
					t.Errorf("%s: %d %s", path, resp.StatusCode, raw)
				}
			}
		}
		// Just under the limit is fine.
		code, _ := post(t, ts.Client(), ts.URL+"/v2/models/tab/infer", oneRow(1, 1)[:0])
		if code != 400 {
			t.Errorf("empty body: %d", code)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		s := New(Options{Registerer: prometheus.NewRegistry(), Timeout: 20 * time.Millisecond})
		m := &tableModel{block: make(chan struct{})} // never unblocked: ends by its context
		s.Set("tab", "1", m, tableSignature())
		for _, c := range []struct{ path, body string }{
			{"/v2/models/tab/infer", string(oneRow(1, 1))},
			{"/v1/models/tab:predict", `{"instances":[{"x":1,"n":1}]}`},
			{"/invocations", `{"instances":[{"x":1,"n":1}]}`},
		} {
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, httptest.NewRequest("POST", c.path, strings.NewReader(c.body)))
			if w.Code != http.StatusGatewayTimeout || !strings.Contains(w.Body.String(), "did not answer within 20ms") {
				t.Errorf("%s: %d %s", c.path, w.Code, w.Body)
			}
		}
	})
	t.Run("overload", func(t *testing.T) {
		s := New(Options{Registerer: prometheus.NewRegistry(), MaxInFlight: 1})
		m := &tableModel{block: make(chan struct{}), entered: make(chan struct{}, 1)}
		s.Set("tab", "1", m, tableSignature())
		h := s.Handler()
		first := make(chan int, 1)
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/tab/infer", bytes.NewReader(oneRow(1, 1))))
			first <- w.Code
		}()
		<-m.entered
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/tab/infer", bytes.NewReader(oneRow(1, 1))))
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "overloaded") {
			t.Errorf("second request: %d %s", w.Code, w.Body)
		}
		close(m.block)
		if code := <-first; code != 200 {
			t.Errorf("first request: %d", code)
		}
	})
}

// failingModel fails Predict with an internal error, or panics.
type failingModel struct {
	tableModel
	panics bool
}

func (m *failingModel) Predict(ctx context.Context, in []runtime.Tensor) ([]runtime.Tensor, error) {
	if m.panics {
		panic("boom")
	}
	return nil, errors.New("disk on fire at /secret/path")
}

func TestInternalErrorsAreNotShown(t *testing.T) {
	for _, panics := range []bool{false, true} {
		s := New(Options{Registerer: prometheus.NewRegistry()})
		s.Set("tab", "1", &failingModel{panics: panics}, tableSignature())
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/v2/models/tab/infer", bytes.NewReader(oneRow(1, 1)))
		r.Header.Set(RequestIDHeader, "req-7")
		s.Handler().ServeHTTP(w, r)
		if w.Code != 500 || strings.Contains(w.Body.String(), "secret") || !strings.Contains(w.Body.String(), "req-7") {
			t.Errorf("panics=%v: %d %s", panics, w.Code, w.Body)
		}
	}
}

func TestRequestIDAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{Registerer: reg})
	s.Set("tab", "1", &tableModel{}, tableSignature())
	h := s.Handler()
	ids := map[string]bool{}
	for i := range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/tab/infer", bytes.NewReader(oneRow(float64(i), 1))))
		id := w.Header().Get(RequestIDHeader)
		if w.Code != 200 || id == "" || ids[id] {
			t.Fatalf("request %d: %d, id %q", i, w.Code, id)
		}
		ids[id] = true
	}
	for _, c := range []struct{ path, body string }{
		{"/v2/models/tab/infer", `{"inputs": [}`},
		{"/v1/models/tab:predict", `{"instances":[{"x":1,"n":1}]}`},
		{"/invocations", `{"instances":[{"x":1,"n":1}]}`},
		{"/v2/models/nope/infer", string(oneRow(1, 1))},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", c.path, strings.NewReader(c.body)))
	}
	counts := gatherCounts(t, reg)
	for series, want := range map[string]float64{
		`ferry_serving_requests_total{code="200",model="tab",protocol="v2",version="1"}`:     3,
		`ferry_serving_requests_total{code="400",model="tab",protocol="v2",version="1"}`:     0, // malformed JSON is refused before the model is looked up
		`ferry_serving_requests_total{code="400",model="",protocol="v2",version=""}`:         1,
		`ferry_serving_requests_total{code="404",model="",protocol="v2",version=""}`:         1,
		`ferry_serving_requests_total{code="200",model="tab",protocol="v1",version="1"}`:     1,
		`ferry_serving_requests_total{code="200",model="tab",protocol="mlflow",version="1"}`: 1,
		`ferry_serving_errors_total{model="",protocol="v2",reason="invalid",version=""}`:     1,
		`ferry_serving_errors_total{model="",protocol="v2",reason="not_found",version=""}`:   1,
		`ferry_serving_request_duration_seconds{model="tab",protocol="v2",version="1"}`:      3,
		`ferry_serving_batch_rows{model="tab",version="1"}`:                                  5,
	} {
		if got := counts[series]; got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// Standalone, the server serves its own /metrics.
	own := New(Options{})
	own.Set("tab", "1", &tableModel{}, tableSignature())
	w := httptest.NewRecorder()
	own.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/tab/infer", bytes.NewReader(oneRow(1, 1))))
	w = httptest.NewRecorder()
	own.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `ferry_serving_requests_total{code="200",model="tab",protocol="v2",version="1"} 1`) {
		t.Fatalf("/metrics: %d %.400s", w.Code, w.Body)
	}
}

// gatherCounts returns counter values and histogram sample counts by series.
func gatherCounts(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[seriesName(mf.GetName(), m)] = metricValue(m)
		}
	}
	return out
}

func seriesName(name string, m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// fakeResolver resolves from a map of aliases and loads tableModels tagged
// with their version.
type fakeResolver struct {
	mu      sync.Mutex
	aliases map[string]string
	latest  string
	loads   map[string]int
	models  map[string]*tableModel
}

func (r *fakeResolver) Resolve(ctx context.Context, name, ref string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name != "churn" {
		return "", ferry.Errorf(ferry.ENOTFOUND, "Registered model '%s' not found.", name)
	}
	switch {
	case ref == "":
		return r.latest, nil
	case strings.HasPrefix(ref, "@"):
		v, ok := r.aliases[ref[1:]]
		if !ok {
			return "", ferry.Errorf(ferry.ENOTFOUND, "No alias '%s'.", ref[1:])
		}
		return v, nil
	}
	return ref, nil
}

func (r *fakeResolver) Load(ctx context.Context, name, version string) (runtime.Model, *model.Signature, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tag, err := strconv.Atoi(version)
	if err != nil {
		return nil, nil, ferry.Errorf(ferry.ENOTFOUND, "No version %s.", version)
	}
	r.loads[version]++
	m := &tableModel{tag: float64(tag)}
	r.models[version] = m
	return m, tableSignature(), nil
}

func TestRegistryHandler(t *testing.T) {
	res := &fakeResolver{aliases: map[string]string{"champion": "1"}, latest: "2", loads: map[string]int{}, models: map[string]*tableModel{}}
	s := New(Options{Registerer: prometheus.NewRegistry()})
	h := s.RegistryHandler(res, RegistryOptions{MaxLoaded: 2})
	infer := func(path string) (int, v2Answer) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", path, bytes.NewReader(oneRow(10, 0))))
		var a v2Answer
		_ = json.Unmarshal(w.Body.Bytes(), &a)
		return w.Code, a
	}
	for _, c := range []struct {
		path    string
		code    int
		version string
	}{
		{"/v2/models/churn@champion/infer", 200, "1"},
		{"/v2/models/churn@champion/infer", 200, "1"},
		{"/v2/models/churn/infer", 200, "2"},
		{"/v2/models/churn/versions/1/infer", 200, "1"},
		{"/v2/models/churn@nope/infer", 404, ""},
		{"/v2/models/other/infer", 404, ""},
		{"/v2/models/churn/versions/x/infer", 404, ""},
	} {
		code, a := infer(c.path)
		if code != c.code || a.ModelVersion != c.version {
			t.Errorf("%s: %d %+v, want %d version %q", c.path, code, a, c.code, c.version)
		}
		if code == 200 && a.Outputs[0].Data[0] != 10+float64(mustAtoi(c.version)) {
			t.Errorf("%s: answer %v", c.path, a.Outputs[0].Data)
		}
	}
	if res.loads["1"] != 1 || res.loads["2"] != 1 {
		t.Fatalf("loads = %v, want each version once", res.loads)
	}
	// The alias moves: the next request loads the version it points to, and
	// with MaxLoaded 2 the least recently used version is unloaded.
	res.mu.Lock()
	res.aliases["champion"] = "3"
	res.mu.Unlock()
	if code, a := infer("/v2/models/churn@champion/infer"); code != 200 || a.ModelVersion != "3" {
		t.Fatalf("after the alias moved: %d %+v", code, a)
	}
	if !res.models["2"].closed.Load() || res.models["1"].closed.Load() || res.models["3"].closed.Load() {
		t.Fatalf("closed: v1 %v v2 %v v3 %v; want only v2 (least recently used)", res.models["1"].closed.Load(), res.models["2"].closed.Load(), res.models["3"].closed.Load())
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v2/models/churn@champion", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"versions":["3"]`) {
		t.Fatalf("metadata: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/models/churn@champion:predict", strings.NewReader(`{"instances":[{"x":1,"n":1}]}`)))
	if w.Code != 200 || w.Body.String() != "{\"predictions\":[5]}\n" {
		t.Fatalf("v1: %d %s", w.Code, w.Body)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for v, m := range res.models {
		if !m.closed.Load() || m.problem() != nil {
			t.Errorf("version %s: closed %v, %v", v, m.closed.Load(), m.problem())
		}
	}
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }
