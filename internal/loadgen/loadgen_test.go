package loadgen

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunCounts: a handler that fails every 20th request and answers from
// two "deployments" in turn; the counts are exact.
func TestRunCounts(t *testing.T) {
	var n atomic.Int64
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		dep := "blue"
		if i%2 == 0 {
			dep = "green"
		}
		w.Header().Set("x-ferry-deployment", dep)
		if i%20 == 0 {
			http.Error(w, "model failed", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	const total, conc = 2000, 8
	res := Run(context.Background(), Config{
		Concurrency: conc, Requests: total, NewRequest: Post(srv.URL+"/infer", "application/json", []byte(`{}`)),
		CountHeader: "x-ferry-deployment",
	})
	if res.Requests != total || res.Failures != total/20 || res.ClientErrors != 0 || res.Canceled != 0 {
		t.Fatalf("requests %d failures %d 4xx %d canceled %d, want %d %d 0 0\n%s", res.Requests, res.Failures, res.ClientErrors, res.Canceled, total, total/20, res)
	}
	if res.ByStatus[200] != total*19/20 || res.ByStatus[500] != total/20 || len(res.ByStatus) != 2 {
		t.Errorf("by status %v", res.ByStatus)
	}
	// every 20th request is even: green answered all the failures
	if want := (Count{Requests: total / 2, Failures: total / 20}); res.ByHeader["green"] != want {
		t.Errorf("green %+v, want %+v", res.ByHeader["green"], want)
	}
	if want := (Count{Requests: total / 2}); res.ByHeader["blue"] != want {
		t.Errorf("blue %+v, want %+v", res.ByHeader["blue"], want)
	}
	r := res.Reasons["status 500"]
	if r.Count != total/20 || len(r.Samples) != MaxSamples || !strings.Contains(r.Samples[0], `x-ferry-deployment: "green"`) || !strings.Contains(r.Samples[0], "model failed") {
		t.Errorf("reason %+v", r)
	}
	if got := res.FailureRate(); got != 0.05 {
		t.Errorf("failure rate %v", got)
	}
	// a worker may dial while another frees a connection it then takes,
	// but connections must not grow with the requests
	if c := conns.Load(); c > 2*conc {
		t.Errorf("%d connections for %d workers and %d requests: keep-alive not kept", c, conc, total)
	}
	if res.Throughput <= 0 || res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 || res.Latency.P99 < res.Latency.P90 || res.Latency.P90 < res.Latency.P50 {
		t.Errorf("figures %s", res)
	}
}

// TestRunDelay: a handler that takes 20 ms; every quantile is at least that
// and the throughput at most Concurrency/20ms.
func TestRunDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay) // the behaviour under test, not synchronisation
	}))
	defer srv.Close()
	res := Run(context.Background(), Config{Concurrency: 4, Requests: 100, NewRequest: Get(srv.URL)})
	if res.Requests != 100 || res.Failures != 0 {
		t.Fatal(res)
	}
	l := res.Latency
	if l.P50 < delay || l.P90 < delay || l.P99 < delay || l.Mean < delay {
		t.Errorf("latency %+v below the handler's %s", l, delay)
	}
	if l.P50 > delay+time.Second {
		t.Errorf("p50 %s: far above the handler's %s", l.P50, delay)
	}
	if max := 4 / delay.Seconds(); res.Throughput > max {
		t.Errorf("throughput %.0f/s above the possible %.0f/s", res.Throughput, max)
	}
}

func TestQuantiles(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{"none", nil, Latency{}},
		{"one", []time.Duration{7}, Latency{7, 7, 7, 7, 7}},
		{"1..100 shuffled", func() []time.Duration {
			var d []time.Duration
			for i := 100; i >= 1; i-- {
				d = append(d, time.Duration(i)*time.Millisecond)
			}
			return d
		}(), Latency{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond, Mean: 50500 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantiles(tt.in); got != tt.want {
				t.Errorf("quantiles = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestRunClassifies: 4xx, failed checks, transport errors and requests that
// cannot be built are told apart.
func TestRunClassifies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/wrong":
			w.Write([]byte("wrong answer"))
		default:
			w.Write([]byte("right answer"))
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	check := func(_ *http.Response, body []byte) error {
		if string(body) == "wrong answer" {
			return errors.New("wrong answer")
		}
		return nil
	}
	tests := []struct {
		name               string
		newRequest         func(int) (*http.Request, error)
		failures, clientEr int64
		reason             string
	}{
		{"right", Get(srv.URL + "/"), 0, 0, ""},
		{"4xx", Get(srv.URL + "/missing"), 0, 10, ""},
		{"check", Get(srv.URL + "/wrong"), 10, 0, "check"},
		{"transport", Get(closed.URL), 10, 0, "transport"},
		{"request", func(int) (*http.Request, error) { return nil, errors.New("no body") }, 10, 0, "request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Run(context.Background(), Config{Concurrency: 2, Requests: 10, NewRequest: tt.newRequest, Check: check})
			if res.Requests != 10 || res.Failures != tt.failures || res.ClientErrors != tt.clientEr {
				t.Fatalf("requests %d failures %d 4xx %d, want 10 %d %d\n%s", res.Requests, res.Failures, res.ClientErrors, tt.failures, tt.clientEr, res)
			}
			if tt.reason != "" && res.Reasons[tt.reason].Count != 10 {
				t.Errorf("reasons %v, want %s", res.Reasons, tt.reason)
			}
			if tt.reason == "request" && res.Latency != (Latency{}) {
				t.Errorf("latency %+v of requests never sent", res.Latency)
			}
		})
	}
}

// TestSnapshot: while the server holds requests, Snapshot shows exactly
// the answered ones; the run then ends by itself at Requests.
func TestSnapshot(t *testing.T) {
	const first, conc = 50, 4
	var n atomic.Int64
	gate := make(chan struct{})
	held := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i <= first {
			return
		}
		if i == first+conc {
			close(held) // every worker has a request in flight
		}
		<-gate
	}))
	defer srv.Close()
	l := Start(context.Background(), Config{Concurrency: conc, Requests: first + conc, NewRequest: Get(srv.URL)})
	<-held
	p := l.Snapshot()
	if p.Requests != first || p.ByStatus[200] != first || p.Done {
		t.Errorf("snapshot %+v, want %d requests, not done", p, first)
	}
	close(gate)
	res := l.Wait()
	if res.Requests != first+conc || res.Failures != 0 {
		t.Errorf("result %s", res)
	}
	if p := l.Snapshot(); !p.Done || p.Requests != first+conc || p.Elapsed != res.Elapsed {
		t.Errorf("final snapshot %+v", p)
	}
}

// TestStopAndCancel: Stop lets the requests in flight finish; ending ctx
// cancels them, and they count as neither requests nor failures.
func TestStopAndCancel(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		var n atomic.Int64
		seen := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 100 {
				close(seen)
			}
		}))
		defer srv.Close()
		l := Start(context.Background(), Config{Concurrency: 3, NewRequest: Get(srv.URL)})
		<-seen
		res := l.Stop()
		if res.Requests < 99 || res.Failures != 0 || res.Canceled != 0 || res.Requests != n.Load() {
			t.Errorf("result %s; server saw %d", res, n.Load())
		}
	})
	t.Run("cancel", func(t *testing.T) {
		var n atomic.Int64
		held := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 3 {
				close(held)
			}
			<-r.Context().Done()
		}))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		l := Start(ctx, Config{Concurrency: 3, NewRequest: Get(srv.URL)})
		<-held
		cancel()
		res := l.Wait()
		if res.Requests != 0 || res.Failures != 0 || res.Canceled != 3 {
			t.Errorf("result %s", res)
		}
	})
	t.Run("duration", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer srv.Close()
		res := Run(context.Background(), Config{Concurrency: 2, Duration: 50 * time.Millisecond, NewRequest: Get(srv.URL)})
		if res.Requests == 0 || res.Failures != 0 || res.Elapsed < 50*time.Millisecond {
			t.Errorf("result %s", res)
		}
	})
}
