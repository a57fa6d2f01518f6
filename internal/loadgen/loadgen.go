// Package loadgen is Ferry's HTTP load generator, for tests that must hold a
// server under load while something changes (a traffic switch, a rollout)
// and for the benchmarks under bench/.
//
// A run is closed-loop, as wrk's is: each of Concurrency workers sends its
// next request as soon as its last one is answered, over keep-alive
// connections (the default client keeps one idle connection per worker).
// Every request is measured; the Result counts requests, failures (by
// reason, with samples), answers per status and per value of one response
// header, and gives exact latency quantiles from the recorded samples.
//
// Run blocks until the run ends; Start runs in the background and its Load
// reports progress (Snapshot) while the run goes on, which long tests poll.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes a run. NewRequest is required; everything else has a
// default.
type Config struct {
	// Concurrency is the number of workers, each with at most one request
	// in flight (0 means 1).
	Concurrency int
	// Duration stops the run after this long: no request is sent after it,
	// the requests in flight are awaited. 0 means no limit.
	Duration time.Duration
	// Requests stops the run after this many requests. 0 means no limit.
	// With neither Duration nor Requests, the run lasts until ctx ends or
	// Load.Stop is called.
	Requests int
	// NewRequest returns the i-th request of the run (i from 0). It is
	// called concurrently by the workers; Run sets the request's context.
	// An error counts as a failure (reason "request") and sends nothing.
	NewRequest func(i int) (*http.Request, error)
	// Client sends the requests; nil means NewClient(Concurrency).
	Client *http.Client
	// Check, when set, judges every answer with a status below 500, given
	// its full body (valid only during the call); an error makes the
	// request a failure (reason "check"). It is called concurrently.
	Check func(resp *http.Response, body []byte) error
	// CountHeader names a response header whose values are counted
	// (Result.ByHeader), e.g. "x-ferry-deployment": which deployment
	// answered how many requests, and how many of them failed.
	CountHeader string
}

// MaxSamples is the number of example messages kept per failure reason.
const MaxSamples = 3

// Result is what a run measured. Requests counts every request that was
// sent and either answered or failed; requests cut short because ctx ended
// are counted in Canceled only.
type Result struct {
	Requests int64
	// Failures are transport errors, answers with a status of 500 or more,
	// failed Checks and requests NewRequest could not build.
	Failures int64
	// ClientErrors are answers with a 4xx status that Check (if any)
	// accepted: the caller's fault, not the server's.
	ClientErrors int64
	// Canceled are requests in flight when ctx ended.
	Canceled int64
	// ByStatus counts the answers per HTTP status.
	ByStatus map[int]int64
	// ByHeader counts requests per value of Config.CountHeader ("" for
	// answers without it and for requests that got no answer); it is empty
	// without a CountHeader.
	ByHeader map[string]Count
	// Reasons are the failures by reason: "transport", "status 503",
	// "check", "request", "read body".
	Reasons map[string]Reason
	// Latency summarises the time from sending a request to reading the
	// last byte of its answer (or failing), over the Requests sent.
	Latency Latency
	// Elapsed is the wall time from the start to the last answer.
	Elapsed time.Duration
	// Throughput is Requests per second of Elapsed.
	Throughput float64
}

// Count is how many requests carried one header value and how many of those
// failed.
type Count struct {
	Requests int64
	Failures int64
}

// Reason is how often one reason of failure occurred, with the first few
// messages (at most MaxSamples).
type Reason struct {
	Count   int64
	Samples []string
}

// Latency holds exact quantiles of the recorded latencies (nearest rank).
type Latency struct {
	P50, P90, P99, Max, Mean time.Duration
}

// FailureRate is Failures/Requests, 0 without requests.
func (r Result) FailureRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Failures) / float64(r.Requests)
}

// String summarises r on a few lines: totals and latency first, then the
// statuses, the header counts and the failures with their samples.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests in %s: %.0f req/s, p50 %s p90 %s p99 %s max %s; %d failures, %d 4xx, %d canceled",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Throughput, ms(r.Latency.P50), ms(r.Latency.P90),
		ms(r.Latency.P99), ms(r.Latency.Max), r.Failures, r.ClientErrors, r.Canceled)
	if len(r.ByStatus) > 0 {
		b.WriteString("\nstatus:")
		for _, s := range sortedKeys(r.ByStatus) {
			fmt.Fprintf(&b, " %d×%d", s, r.ByStatus[s])
		}
	}
	if len(r.ByHeader) > 0 {
		b.WriteString("\nheader:")
		for _, v := range sortedKeys(r.ByHeader) {
			c := r.ByHeader[v]
			fmt.Fprintf(&b, " %q×%d (%d failed)", v, c.Requests, c.Failures)
		}
	}
	for _, k := range sortedKeys(r.Reasons) {
		fmt.Fprintf(&b, "\nfailed %d× %s", r.Reasons[k].Count, k)
		for _, s := range r.Reasons[k].Samples {
			fmt.Fprintf(&b, "\n  %s", s)
		}
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/1e6) }

func sortedKeys[K int | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Progress is a run's state so far (Load.Snapshot): counts only, cheap to
// take while the run goes on.
type Progress struct {
	Requests, Failures, ClientErrors, Canceled int64
	ByStatus                                   map[int]int64
	ByHeader                                   map[string]Count
	Elapsed                                    time.Duration
	// Done reports whether every worker has finished.
	Done bool
}

// NewClient returns an HTTP client for concurrency workers: a copy of the
// default transport keeping concurrency idle connections per host (so that
// every worker reuses its connection), without compression, and a 30 s
// timeout per request.
func NewClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(concurrency, 1) * 2
	t.MaxIdleConnsPerHost = max(concurrency, 1) * 2
	t.DisableCompression = true
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// Post returns a Config.NewRequest that POSTs body to url with the given
// Content-Type, the same for every request.
func Post(url, contentType string, body []byte) func(int) (*http.Request, error) {
	return func(int) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", contentType)
		return req, nil
	}
}

// Get returns a Config.NewRequest that GETs url.
func Get(url string) func(int) (*http.Request, error) {
	return func(int) (*http.Request, error) { return http.NewRequest(http.MethodGet, url, nil) }
}

// Run sends the requests cfg describes and returns what it measured. It
// returns when the run ends (Duration, Requests, or ctx). It panics when
// cfg.NewRequest is nil.
func Run(ctx context.Context, cfg Config) Result {
	return Start(ctx, cfg).Wait()
}

// Load is a run in progress, started by Start. Its methods are safe for
// concurrent use.
type Load struct {
	cfg      Config
	ctx      context.Context
	start    time.Time
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	end      atomic.Int64 // nanoseconds from start to the end, once done
	next     atomic.Int64
	workers  []*tally
}

// Start starts the run cfg describes in the background. The caller ends it
// with Wait or Stop (ending ctx also ends it, canceling the requests in
// flight). It panics when cfg.NewRequest is nil.
func Start(ctx context.Context, cfg Config) *Load {
	if cfg.NewRequest == nil {
		panic("loadgen: Config.NewRequest is nil")
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.Client == nil {
		cfg.Client = NewClient(cfg.Concurrency)
	}
	l := &Load{cfg: cfg, ctx: ctx, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	l.workers = make([]*tally, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range l.workers {
		l.workers[w] = newTally(cfg.CountHeader != "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.work(l.workers[w])
		}()
	}
	var timer *time.Timer
	if cfg.Duration > 0 {
		timer = time.AfterFunc(cfg.Duration, l.halt)
	}
	go func() {
		wg.Wait()
		l.end.Store(int64(time.Since(l.start)))
		if timer != nil {
			timer.Stop()
		}
		close(l.done)
	}()
	return l
}

// halt stops the workers from sending more requests.
func (l *Load) halt() { l.stopOnce.Do(func() { close(l.stop) }) }

// Stop ends the run: no request is sent after it, and it returns the Result
// once the requests in flight are answered.
func (l *Load) Stop() Result {
	l.halt()
	return l.Wait()
}

// Wait waits for the run to end by itself (Duration, Requests, ctx or Stop)
// and returns its Result.
func (l *Load) Wait() Result {
	<-l.done
	return l.result()
}

// Snapshot returns the progress of the run so far. Its cost grows with the
// number of workers and of distinct statuses and header values, not with
// the number of requests.
func (l *Load) Snapshot() Progress {
	p := Progress{ByStatus: map[int]int64{}, ByHeader: map[string]Count{}}
	select {
	case <-l.done:
		p.Done = true
		p.Elapsed = time.Duration(l.end.Load())
	default:
		p.Elapsed = time.Since(l.start)
	}
	for _, t := range l.workers {
		t.mu.Lock()
		p.Requests += t.requests
		p.Failures += t.failures
		p.ClientErrors += t.clientErrors
		p.Canceled += t.canceled
		mergeCounts(p.ByStatus, p.ByHeader, t)
		t.mu.Unlock()
	}
	return p
}

func mergeCounts(status map[int]int64, header map[string]Count, t *tally) {
	for s, n := range t.status {
		status[s] += n
	}
	for v, c := range t.header {
		h := header[v]
		h.Requests += c.Requests
		h.Failures += c.Failures
		header[v] = h
	}
}

// result merges the workers' tallies; the run must be done.
func (l *Load) result() Result {
	r := Result{ByStatus: map[int]int64{}, ByHeader: map[string]Count{}, Reasons: map[string]Reason{}}
	r.Elapsed = time.Duration(l.end.Load())
	var lat []time.Duration
	for _, t := range l.workers {
		r.Requests += t.requests
		r.Failures += t.failures
		r.ClientErrors += t.clientErrors
		r.Canceled += t.canceled
		mergeCounts(r.ByStatus, r.ByHeader, t)
		for k, reason := range t.reasons {
			m := r.Reasons[k]
			m.Count += reason.Count
			for _, s := range reason.Samples {
				if len(m.Samples) < MaxSamples {
					m.Samples = append(m.Samples, s)
				}
			}
			r.Reasons[k] = m
		}
		lat = append(lat, t.latencies...)
	}
	r.Latency = quantiles(lat)
	if r.Elapsed > 0 {
		r.Throughput = float64(r.Requests) / r.Elapsed.Seconds()
	}
	return r
}

// quantiles sorts lat and returns its nearest-rank quantiles.
func quantiles(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration {
		rank := int(math.Ceil(q * float64(len(lat)))) // 1-based
		return lat[min(max(rank, 1), len(lat))-1]
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: lat[len(lat)-1], Mean: sum / time.Duration(len(lat))}
}

// tally is one worker's record. Its worker is the only writer; Snapshot
// reads it under mu.
type tally struct {
	mu                                         sync.Mutex
	requests, failures, clientErrors, canceled int64
	status                                     map[int]int64
	header                                     map[string]Count
	reasons                                    map[string]Reason
	latencies                                  []time.Duration
	countHeader                                bool // whether header counts values of Config.CountHeader
}

func newTally(countHeader bool) *tally {
	return &tally{countHeader: countHeader, status: map[int]int64{}, header: map[string]Count{}, reasons: map[string]Reason{}, latencies: make([]time.Duration, 0, 1024)}
}

// outcome is what became of one request.
type outcome struct {
	latency  time.Duration
	status   int    // 0 without an answer
	header   string // the CountHeader value
	reason   string // why it failed; "" when it did not
	sample   string
	client   bool // a 4xx
	canceled bool
	unsent   bool // NewRequest failed: no latency to record
}

func (t *tally) record(o outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if o.canceled {
		t.canceled++
		return
	}
	t.requests++
	if !o.unsent {
		t.latencies = append(t.latencies, o.latency)
	}
	if o.status != 0 {
		t.status[o.status]++
	}
	h := t.header[o.header]
	h.Requests++
	switch {
	case o.reason != "":
		t.failures++
		h.Failures++
		r := t.reasons[o.reason]
		r.Count++
		if len(r.Samples) < MaxSamples {
			r.Samples = append(r.Samples, o.sample)
		}
		t.reasons[o.reason] = r
	case o.client:
		t.clientErrors++
	}
	if t.countHeader {
		t.header[o.header] = h
	}
}

// work is one worker's closed loop.
func (l *Load) work(t *tally) {
	var body bytes.Buffer
	for {
		select {
		case <-l.stop:
			return
		case <-l.ctx.Done():
			return
		default:
		}
		i := int(l.next.Add(1) - 1)
		if l.cfg.Requests > 0 && i >= l.cfg.Requests {
			return
		}
		t.record(l.send(i, &body))
	}
}

// send sends request i and reads its answer into body.
func (l *Load) send(i int, body *bytes.Buffer) outcome {
	req, err := l.cfg.NewRequest(i)
	if err != nil {
		return outcome{reason: "request", sample: err.Error(), unsent: true}
	}
	req = req.WithContext(l.ctx)
	t0 := time.Now()
	resp, err := l.cfg.Client.Do(req)
	if err != nil {
		if l.ctx.Err() != nil {
			return outcome{canceled: true}
		}
		return outcome{latency: time.Since(t0), reason: "transport", sample: err.Error()}
	}
	body.Reset()
	_, err = body.ReadFrom(resp.Body)
	resp.Body.Close()
	o := outcome{latency: time.Since(t0), status: resp.StatusCode}
	if l.cfg.CountHeader != "" {
		o.header = resp.Header.Get(l.cfg.CountHeader)
	}
	switch {
	case err != nil && l.ctx.Err() != nil:
		return outcome{canceled: true}
	case err != nil:
		o.reason, o.sample = "read body", err.Error()
	case resp.StatusCode >= 500:
		o.reason, o.sample = fmt.Sprintf("status %d", resp.StatusCode), l.describe(resp, body.Bytes())
	default:
		if l.cfg.Check != nil {
			if err := l.cfg.Check(resp, body.Bytes()); err != nil {
				o.reason, o.sample = "check", fmt.Sprintf("%v (%s)", err, l.describe(resp, body.Bytes()))
				return o
			}
		}
		o.client = resp.StatusCode >= 400
	}
	return o
}

// describe is a failure's sample: status, the counted header and the start
// of the body.
func (l *Load) describe(resp *http.Response, body []byte) string {
	s := resp.Status
	if l.cfg.CountHeader != "" {
		s += fmt.Sprintf(" (%s: %q)", l.cfg.CountHeader, resp.Header.Get(l.cfg.CountHeader))
	}
	const maxBody = 200
	if len(body) > maxBody {
		body = body[:maxBody]
	}
	return s + ": " + strings.TrimSpace(string(body))
}
