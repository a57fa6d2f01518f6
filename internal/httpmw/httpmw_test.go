package httpmw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/httpmw"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{ferry.EINVALID, 400},
		{ferry.ECONFLICT, 400},
		{ferry.EUNAUTHORIZED, 401},
		{ferry.EFORBIDDEN, 403},
		{ferry.ENOTFOUND, 404},
		{ferry.ETOOLARGE, 413},
		{ferry.ENOTIMPLEMENTED, 501},
		{ferry.EUNAVAILABLE, 503},
		{ferry.EINTERNAL, 500},
		{"", 500},
		{"ESOMETHINGNEW", 500},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := httpmw.StatusOf(tt.code); got != tt.want {
				t.Fatalf("StatusOf(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

// answer is the body testEncoder writes.
type answer struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func testEncoder(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer{status, code, message})
}

func decode(t *testing.T, w *httptest.ResponseRecorder) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %q is not the family's body: %v", w.Body, err)
	}
	return a
}

// logTo returns a logger writing JSON records at debug level to buf.
func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testErrors(log *slog.Logger) httpmw.Errors {
	return httpmw.Errors{Log: log, Family: func(*http.Request) httpmw.Encoder { return testEncoder }}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		status  int
		code    string
		message string // a part of the message
		logged  bool   // at error level, with the error
	}{
		{"ferry error", ferry.Errorf(ferry.ENOTFOUND, "No run 'x'."), 404, ferry.ENOTFOUND, "No run 'x'.", false},
		{"validation error is 4xx", ferry.Errorf(ferry.EINVALID, "Bad field."), 400, ferry.EINVALID, "Bad field.", false},
		{"unauthenticated", ferry.Errorf(ferry.EUNAUTHORIZED, "Who are you?"), 401, ferry.EUNAUTHORIZED, "Who are you?", false},
		{"forbidden", ferry.Errorf(ferry.EFORBIDDEN, "Not you."), 403, ferry.EFORBIDDEN, "Not you.", false},
		{"status error", &httpmw.StatusError{Status: 415, Code: ferry.EINVALID, Message: "Send JSON."}, 415, ferry.EINVALID, "Send JSON.", false},
		{"body too large", &http.MaxBytesError{Limit: 10}, 413, ferry.ETOOLARGE, "limit of 10 bytes", false},
		{"deadline", context.DeadlineExceeded, 504, ferry.EUNAVAILABLE, "time limit", false},
		{"canceled", context.Canceled, httpmw.StatusClientClosed, ferry.EUNAVAILABLE, "canceled", false},
		{"internal", errors.New("disk on fire at /secret"), 500, ferry.EINTERNAL, "request id req-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/x", nil)
			r = r.WithContext(httpmw.WithRequestID(r.Context(), "req-1"))
			if got := httpmw.WriteError(w, r, logTo(&logs), testEncoder, tt.err); got != tt.status {
				t.Fatalf("returned %d, want %d", got, tt.status)
			}
			a := decode(t, w)
			if w.Code != tt.status || a.Code != tt.code || !strings.Contains(a.Message, tt.message) || strings.Contains(a.Message, "secret") {
				t.Fatalf("answer %d %+v, want %d %s %q", w.Code, a, tt.status, tt.code, tt.message)
			}
			logged := strings.Contains(logs.String(), `"level":"ERROR"`)
			if logged != tt.logged {
				t.Fatalf("logged at error level: %v, want %v: %s", logged, tt.logged, logs.String())
			}
			if logged && (!strings.Contains(logs.String(), `"request_id":"req-1"`) || !strings.Contains(logs.String(), "secret")) {
				t.Fatalf("log lacks the request id or the error: %s", logs.String())
			}
		})
	}
}

func TestRequestIDs(t *testing.T) {
	var inCtx string
	h := httpmw.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inCtx = httpmw.RequestIDFrom(r.Context())
	}), httpmw.RequestIDs())
	serve := func(incoming string) (string, string) {
		r := httptest.NewRequest("GET", "/", nil)
		if incoming != "" {
			r.Header.Set(httpmw.RequestIDHeader, incoming)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Header().Get(httpmw.RequestIDHeader), inCtx
	}
	tests := []struct {
		name     string
		incoming string
		kept     bool
	}{
		{"incoming kept", "req-7_abc.DEF:1", true},
		{"longest kept", strings.Repeat("a", httpmw.MaxRequestIDBytes), true},
		{"absent generated", "", false},
		{"too long replaced", strings.Repeat("a", httpmw.MaxRequestIDBytes+1), false},
		{"space replaced", "a b", false},
		{"control replaced", "a\x01b", false},
		{"non-ASCII replaced", "é", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header, ctx := serve(tt.incoming)
			if header == "" || header != ctx {
				t.Fatalf("response id %q, context id %q", header, ctx)
			}
			if kept := header == tt.incoming; kept != tt.kept {
				t.Fatalf("id %q for incoming %q: kept %v, want %v", header, tt.incoming, kept, tt.kept)
			}
			if !tt.kept {
				if seen[header] {
					t.Fatalf("generated id %q twice", header)
				}
				seen[header] = true
			}
		})
	}
}

func TestRecover(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    bool // the family's error body
	}{
		{"panic before the answer", func(w http.ResponseWriter, r *http.Request) { panic("boom at /secret") }, 500, true},
		{"panic after the answer began", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("boom")
		}, 202, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := logTo(&logs)
			h := httpmw.Chain(tt.handler, httpmw.RequestIDs(), httpmw.Recover(testErrors(log)))
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/x", nil)
			r.Header.Set(httpmw.RequestIDHeader, "req-9")
			h.ServeHTTP(w, r) // must not panic
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if tt.body {
				a := decode(t, w)
				if a.Code != ferry.EINTERNAL || !strings.Contains(a.Message, "req-9") || strings.Contains(a.Message, "secret") {
					t.Fatalf("answer %+v", a)
				}
			} else if w.Body.Len() != 0 {
				t.Fatalf("a second body was written: %q", w.Body)
			}
			for _, want := range []string{`"msg":"panic serving request"`, `"request_id":"req-9"`, `"stack":"goroutine`} {
				if !strings.Contains(logs.String(), want) {
					t.Fatalf("log lacks %s: %s", want, logs.String())
				}
			}
		})
	}
	t.Run("ErrAbortHandler passes", func(t *testing.T) {
		h := httpmw.Recover(testErrors(nil))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	})
}

func TestLimitBody(t *testing.T) {
	errs := testErrors(nil)
	h := httpmw.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			errs.Write(w, r, err)
			return
		}
		_, _ = w.Write(b)
	}), httpmw.LimitBody(8))
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"under", "1234567", 200},
		{"at the limit", "12345678", 200},
		{"over", "123456789", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(tt.body)))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 413 {
				if a := decode(t, w); a.Code != ferry.ETOOLARGE || !strings.Contains(a.Message, "limit of 8 bytes") {
					t.Fatalf("answer %+v", a)
				}
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	errs := testErrors(nil)
	h := httpmw.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		errs.Write(w, r, r.Context().Err())
	}), httpmw.Timeout(time.Millisecond))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if a := decode(t, w); w.Code != http.StatusGatewayTimeout || a.Code != ferry.EUNAVAILABLE {
		t.Fatalf("%d %+v", w.Code, a)
	}
}

func TestPrincipal(t *testing.T) {
	const header = "X-Ferry-Principal"
	var got string
	h := httpmw.Principal(header, testErrors(nil))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = auth.PrincipalFrom(r.Context())
	}))
	tests := []struct {
		name   string
		value  *string
		status int
		want   string
	}{
		{"absent is anonymous", nil, 200, auth.Anonymous},
		{"blank is anonymous", ptr("  "), 200, auth.Anonymous},
		{"valid", ptr("ana"), 200, "ana"},
		{"trimmed", ptr("  bo smith "), 200, "bo smith"},
		{"control character", ptr("ana\x01"), 400, ""},
		{"too long", ptr(strings.Repeat("x", auth.MaxPrincipalBytes+1)), 400, ""},
		{"not UTF-8", ptr("\xff\xfe"), 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = ""
			r := httptest.NewRequest("GET", "/", nil)
			if tt.value != nil {
				r.Header[header] = []string{*tt.value}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status || got != tt.want {
				t.Fatalf("status %d, principal %q; want %d, %q", w.Code, got, tt.status, tt.want)
			}
			if tt.status == 400 {
				if a := decode(t, w); a.Code != ferry.EINVALID || !strings.Contains(a.Message, "Invalid "+header+" header") {
					t.Fatalf("answer %+v", a)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := httpmw.NewMetrics(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /runs/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	route := func(r *http.Request) string {
		if _, p := mux.Handler(r); p != "" {
			return p
		}
		return "unmatched"
	}
	h := httpmw.Chain(mux, httpmw.RequestIDs(), m.Middleware(route), httpmw.AccessLog(slog.New(slog.DiscardHandler)), httpmw.Recover(testErrors(nil)))
	for _, path := range []string{"/runs/1", "/runs/2", "/boom", "/runs/3"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	counts := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			if c := m.GetCounter(); c != nil {
				counts[key] = c.GetValue()
			} else if h := m.GetHistogram(); h != nil {
				counts[key] = float64(h.GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"ferry_http_requests_total code=200 route=GET /runs/{id}":  3,
		"ferry_http_requests_total code=500 route=GET /boom":       1,
		"ferry_http_request_duration_seconds route=GET /runs/{id}": 3,
		"ferry_http_request_duration_seconds route=GET /boom":      1,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s = %v, want %v", k, counts[k], v)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("series %v, want %v", counts, want)
	}
}

func TestAccessLog(t *testing.T) {
	var logs bytes.Buffer
	h := httpmw.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }),
		httpmw.RequestIDs(), httpmw.AccessLog(logTo(&logs)))
	r := httptest.NewRequest("DELETE", "/x", nil)
	r.Header.Set(httpmw.RequestIDHeader, "req-3")
	h.ServeHTTP(httptest.NewRecorder(), r)
	for _, want := range []string{`"method":"DELETE"`, `"path":"/x"`, `"status":418`, `"request_id":"req-3"`, `"duration":`} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("access log lacks %s: %s", want, logs.String())
		}
	}
}
