package router

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/serving"
)

// Prefix is the path the Router is mounted at.
const Prefix = "/endpoints/"

// maxCapture bounds the live answer kept to compare with the shadow's.
const maxCapture = 1 << 20

// ServeHTTP serves /endpoints/NAME/<rest>: it picks a deployment of
// endpoint NAME — the one the x-ferry-deployment header names, else one of
// those with traffic that are ready, by weight — and serves <rest> with its
// backend, naming it in the response's x-ferry-deployment header. A share
// of POST requests is mirrored to the endpoint's shadow deployment after
// the live answer. An unknown endpoint or deployment is 404; an endpoint
// without traffic or without a ready deployment 503. While every
// deployment that could answer is still loading for the first time (a
// fresh server, a command in local mode), the request waits for one, up to
// Options.FirstWait.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	name, rest := splitPath(req.URL.Path)
	if err := r.Started(req.Context()); err != nil {
		r.refuse(w, req, "", rest, err)
		return
	}
	pinned := req.Header.Get(Header)
	live, shadow, err := r.route(req, name, pinned)
	if ferry.ErrorCode(err) == ferry.ENOTFOUND && r.refreshOnMiss(req.Context()) {
		// Created since the last refresh (by this server or another)?
		live, shadow, err = r.route(req, name, pinned)
	}
	if err != nil {
		label := name
		if ferry.ErrorCode(err) == ferry.ENOTFOUND {
			label = ""
		}
		r.refuse(w, req, label, rest, err)
		return
	}
	var job *mirrorJob
	if shadow != nil {
		if job, err = r.newMirror(req, name, rest, shadow); err != nil {
			live.ref.release()
			r.refuse(w, req, name, rest, err)
			return
		}
	}
	if id := httpmw.RequestIDFrom(req.Context()); id != "" {
		req.Header.Set(httpmw.RequestIDHeader, id)
	}
	w.Header().Set(Header, live.name)
	lw := &liveWriter{ResponseWriter: w, status: http.StatusOK, capture: job != nil}
	defer func() {
		live.ref.release()
		failed := lw.status >= 500
		if p := recover(); p != nil {
			failed, lw.status = true, http.StatusInternalServerError
			defer panic(p)
		}
		took := time.Since(start)
		live.d.stats.observe(r.opts.Now(), took, failed)
		live.d.latency.Observe(took.Seconds())
		r.m.requests.WithLabelValues(name, live.name, codeText(lw.status)).Inc()
		if job != nil {
			job.liveStatus = lw.status
			if !lw.overflow {
				job.liveBody = lw.body
			}
			r.enqueue(job)
		}
	}()
	live.ref.b.ServeHTTP(lw, forward(req, rest))
}

// refuse answers a request the Router cannot route, in the inference
// protocol's error shape.
func (r *Router) refuse(w http.ResponseWriter, req *http.Request, endpoint, rest string, err error) {
	status := httpmw.WriteError(w, req, r.log, serving.ErrorEncoder(rest), err)
	r.m.requests.WithLabelValues(endpoint, "", codeText(status)).Inc()
}

// picked is a deployment chosen for a request, its backend acquired.
type picked struct {
	name string
	d    *deploymentState
	ref  *backendRef
}

// route picks the live deployment of a request, and the shadow when this
// request is to be mirrored, with their backends acquired.
func (r *Router) route(req *http.Request, endpoint, pinned string) (live, shadow *picked, err error) {
	var wait *time.Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	for {
		var until time.Time
		live, shadow, until, err = r.pick(endpoint, pinned, req.Method == http.MethodPost)
		if err == nil || until.IsZero() || !time.Now().Before(until) {
			return live, shadow, err
		}
		// Every deployment that could answer is still loading: wait.
		if wait == nil {
			wait = time.NewTimer(5 * time.Millisecond)
		} else {
			wait.Reset(5 * time.Millisecond)
		}
		select {
		case <-req.Context().Done():
			return nil, nil, req.Context().Err()
		case <-wait.C:
		}
		r.promote()
	}
}

// pick chooses under r.mu. When nothing is ready but some candidate is
// loading for the first time, until is when waiting for it should stop.
func (r *Router) pick(endpoint, pinned string, mirror bool) (live, shadow *picked, until time.Time, err error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	es := r.endpoints[endpoint]
	if es == nil {
		return nil, nil, until, ferry.Errorf(ferry.ENOTFOUND, "Endpoint '%s' does not exist; see ferry endpoints list.", clip(endpoint))
	}
	if pinned != "" {
		_, d, err := r.deploymentLocked(endpoint, pinned)
		if err != nil {
			return nil, nil, until, err
		}
		if !d.ready() {
			return nil, nil, d.startingUntil(r.opts.FirstWait), ferry.Errorf(ferry.EUNAVAILABLE, "Deployment '%s' of endpoint '%s' is not ready%s.", pinned, endpoint, d.why())
		}
		return d.acquire(pinned), nil, until, nil
	}
	total, ready := 0, 0
	for _, name := range es.names {
		w := es.ep.Traffic[name]
		total += w
		if w > 0 {
			if d := es.deps[name]; d.ready() {
				ready += w
			} else if u := d.startingUntil(r.opts.FirstWait); u.After(until) {
				until = u
			}
		}
	}
	if total == 0 {
		return nil, nil, time.Time{}, ferry.Errorf(ferry.EUNAVAILABLE, "Endpoint '%s' has no traffic; set it with ferry endpoints traffic.", endpoint)
	}
	if ready == 0 {
		return nil, nil, until, ferry.Errorf(ferry.EUNAVAILABLE, "No deployment of endpoint '%s' that takes traffic is ready; ferry endpoints get %s shows their state.", endpoint, endpoint)
	}
	n := r.intN(ready)
	for _, name := range es.names {
		d := es.deps[name]
		if w := es.ep.Traffic[name]; w > 0 && d.ready() {
			if n < w {
				live = d.acquire(name)
				break
			}
			n -= w
		}
	}
	if mirror {
		for name, pct := range es.ep.MirrorTraffic {
			if pct <= 0 || r.intN(100) >= pct {
				continue
			}
			d := es.deps[name]
			if d == nil || !d.ready() {
				r.m.mirrors.WithLabelValues(endpoint, name, mirrorNotReady).Inc()
				continue
			}
			shadow = d.acquire(name)
		}
	}
	return live, shadow, until, nil
}

// ready reports whether d's backend takes requests; the caller holds r.mu.
func (d *deploymentState) ready() bool {
	if d.cur == nil || !d.cur.b.Ready() {
		return false
	}
	if !d.cur.everReady.Load() {
		d.cur.everReady.Store(true)
	}
	return true
}

// startingUntil is when waiting for d to load for the first time should
// stop; zero unless d's first backend is being built, or is younger than
// wait, has never been ready and has not failed.
func (d *deploymentState) startingUntil(wait time.Duration) time.Time {
	if wait >= 0 && d.cur == nil && d.lastErr == nil {
		return d.added.Add(wait) // its first backend is being built
	}
	if wait < 0 || d.cur == nil || d.cur.everReady.Load() {
		return time.Time{}
	}
	if f, ok := d.cur.b.(failer); ok && f.Err() != nil {
		return time.Time{}
	}
	return d.cur.born.Add(wait)
}

// why says why d is not ready, for an error message.
func (d *deploymentState) why() string {
	switch {
	case d.cur == nil && d.lastErr != nil:
		return ": " + d.lastErr.Error()
	case d.cur == nil:
		return ""
	}
	if f, ok := d.cur.b.(failer); ok && f.Err() != nil {
		return ": " + f.Err().Error()
	}
	return " (" + d.cur.spec.ModelVersion + " is loading)"
}

// acquire takes a reference on d's backend; the caller holds r.mu.
func (d *deploymentState) acquire(name string) *picked {
	d.cur.refs.Add(1)
	return &picked{name: name, d: d, ref: d.cur}
}

// intN draws from [0, n): from the seeded sequence when Options.Seed is
// set, else at random.
func (r *Router) intN(n int) int {
	if r.rng == nil {
		return rand.IntN(n)
	}
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return r.rng.IntN(n)
}

// splitPath splits /endpoints/NAME/<rest> into NAME and /<rest>.
func splitPath(p string) (name, rest string) {
	p = strings.TrimPrefix(p, Prefix)
	name, rest, _ = strings.Cut(p, "/")
	return name, "/" + rest
}

// forward is req addressed to the backend: its path is rest.
func forward(req *http.Request, rest string) *http.Request {
	out := new(http.Request)
	*out = *req
	u := *req.URL
	u.Path, u.RawPath = rest, ""
	out.URL = &u
	return out
}

// liveWriter records the status of the live answer, and its body when it
// is to be compared with a shadow's.
type liveWriter struct {
	http.ResponseWriter
	status   int
	wrote    bool
	capture  bool
	overflow bool
	body     []byte
}

func (w *liveWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *liveWriter) Write(b []byte) (int, error) {
	w.wrote = true
	if w.capture && !w.overflow {
		if len(w.body)+len(b) > maxCapture {
			w.overflow, w.body = true, nil
		} else {
			w.body = append(w.body, b...)
		}
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *liveWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// readBody buffers a request body for mirroring and puts a reader of the
// buffer back in its place.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}
