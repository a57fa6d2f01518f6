package router

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"time"

	"github.com/ferry-ml/ferry/internal/httpmw"
)

// mirrorJob is one request copied to a shadow deployment.
type mirrorJob struct {
	endpoint   string
	shadow     *picked
	req        *http.Request // addressed to the shadow, body buffered
	body       []byte
	liveStatus int
	liveBody   []byte // nil when too large to compare
}

// newMirror buffers req's body (the live request reads the buffer) and
// prepares its copy for shadow. On an error shadow is released.
func (r *Router) newMirror(req *http.Request, endpoint, rest string, shadow *picked) (*mirrorJob, error) {
	body, err := readBody(req)
	if err != nil {
		shadow.ref.release()
		return nil, err
	}
	out := forward(req, rest)
	out.Header = req.Header.Clone()
	out.Header.Del(Header)
	return &mirrorJob{endpoint: endpoint, shadow: shadow, req: out, body: body}, nil
}

// enqueue hands j to the mirror workers, or drops it (counted) when their
// queue is full or the Router is closed. It never blocks.
func (r *Router) enqueue(j *mirrorJob) {
	r.mu.RLock()
	sent := false
	if !r.closed {
		select {
		case r.mirrorq <- j:
			sent = true
		default:
		}
	}
	r.mu.RUnlock()
	if sent {
		return
	}
	j.shadow.ref.release()
	r.m.mirrors.WithLabelValues(j.endpoint, j.shadow.name, mirrorDropped).Inc()
}

// mirrorWorker sends queued mirrored requests until the Router closes,
// and then those still queued.
func (r *Router) mirrorWorker() {
	defer r.workers.Done()
	for {
		select {
		case j := <-r.mirrorq:
			r.mirror(j)
		case <-r.ctx.Done():
			for {
				select {
				case j := <-r.mirrorq:
					r.mirror(j)
				default:
					return
				}
			}
		}
	}
}

// mirror sends j to its shadow, discards the answer and counts its outcome
// and whether it disagrees with the live one.
func (r *Router) mirror(j *mirrorJob) {
	defer j.shadow.ref.release()
	timeout := r.opts.MirrorTimeout
	if timeout <= 0 {
		timeout = time.Duration(j.shadow.ref.spec.RequestSettings.RequestTimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if id := httpmw.RequestIDFrom(j.req.Context()); id != "" {
		ctx = httpmw.WithRequestID(ctx, id)
	}
	req := j.req.WithContext(ctx)
	req.Body = http.NoBody
	if j.body != nil {
		req.Body = nopCloser{bytes.NewReader(j.body)}
		req.ContentLength = int64(len(j.body))
	}
	w := &captureWriter{header: http.Header{}, status: http.StatusOK}
	func() {
		defer func() {
			if p := recover(); p != nil {
				w.status = http.StatusInternalServerError
				r.log.Error("router: panic in a shadow deployment", "endpoint", j.endpoint, "deployment", j.shadow.name, "panic", p)
			}
		}()
		j.shadow.ref.b.ServeHTTP(w, req)
	}()
	outcome := mirrorOK
	if w.status >= 500 || ctx.Err() != nil {
		outcome = mirrorError
	}
	r.m.mirrors.WithLabelValues(j.endpoint, j.shadow.name, outcome).Inc()
	if w.status != j.liveStatus || (j.liveBody != nil && !w.overflow && !samePredictions(j.liveBody, w.body)) {
		r.m.disagreements.WithLabelValues(j.endpoint, j.shadow.name).Inc()
	}
}

// samePredictions reports whether two answers carry the same predictions:
// equal JSON once the fields naming the request and the model (id,
// model_name, model_version) are removed; bytes otherwise.
func samePredictions(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(stripIdentity(x), stripIdentity(y))
}

func stripIdentity(v any) any {
	if m, ok := v.(map[string]any); ok {
		delete(m, "id")
		delete(m, "model_name")
		delete(m, "model_version")
	}
	return v
}

// captureWriter is the ResponseWriter of a mirrored request: it keeps the
// status and up to maxCapture bytes of the body.
type captureWriter struct {
	header   http.Header
	status   int
	wrote    bool
	body     []byte
	overflow bool
}

func (w *captureWriter) Header() http.Header { return w.header }

func (w *captureWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.wrote = true
	if !w.overflow {
		if len(w.body)+len(b) > maxCapture {
			w.overflow, w.body = true, nil
		} else {
			w.body = append(w.body, b...)
		}
	}
	return len(b), nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
