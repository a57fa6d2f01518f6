package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/serving"
)

// ServeHTTP sends r to a ready instance, round robin, within the
// deployment's request timeout (504 beyond). The body is read first (413
// beyond MaxRequestBytes), so that a request an instance fails to take — it
// just died, or is stopping — goes once to another ready instance. With no
// ready instance the answer is 503 (EUNAVAILABLE). Errors are written as the
// route's protocol writes them: MLflow's {"error_code", "message"} for
// /invocations, {"error": "..."} otherwise.
func (d *Deployment) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.pick(nil) == nil {
		d.writeError(w, r, d.unavailable())
		return
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, d.opts.MaxRequestBytes)); err != nil {
			var mbe *http.MaxBytesError
			if !errors.As(err, &mbe) && r.Context().Err() == nil {
				err = &httpmw.StatusError{Status: http.StatusBadRequest, Code: ferry.EINVALID, Message: "The request body could not be read.", Err: err}
			}
			d.writeError(w, r, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.timeout)
	defer cancel()
	out := r.WithContext(ctx)
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) {
		if len(body) == 0 {
			return http.NoBody, nil
		}
		return io.NopCloser(bytes.NewReader(body)), nil
	}
	out.Body, _ = out.GetBody()
	d.proxy.ServeHTTP(w, out)
}

// errNoInstance is the balancer's error when no instance is ready.
var errNoInstance = errors.New("no ready instance")

func (d *Deployment) unavailable() error {
	if d.ctx.Err() != nil {
		return errClosed(d.id)
	}
	return ferry.Errorf(ferry.EUNAVAILABLE, "deployment %s has no ready instance (of %d); its logs say why", d.id, len(d.slots))
}

func (d *Deployment) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "instance" // the balancer picks one
			pr.Out.Host = ""
			pr.SetXForwarded()
		},
		Transport: balancer{d},
		ErrorLog:  slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			switch {
			case errors.Is(err, errNoInstance):
				err = d.unavailable()
			case errors.Is(r.Context().Err(), context.DeadlineExceeded):
				err = &httpmw.StatusError{Status: http.StatusGatewayTimeout, Code: ferry.EUNAVAILABLE,
					Message: fmt.Sprintf("The deployment did not answer within its request timeout of %s.", d.timeout), Err: err}
			case r.Context().Err() != nil:
				err = r.Context().Err()
			default:
				err = &httpmw.StatusError{Status: http.StatusBadGateway, Code: ferry.EUNAVAILABLE,
					Message: "The deployment's instance failed while answering; retry.", Err: err}
			}
			d.writeError(w, r, err)
		},
	}
}

// balancer is the proxy's transport: it sends each request to a ready
// instance, and once more to another one when the first fails to answer.
type balancer struct{ d *Deployment }

func (b balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	first := b.d.pick(nil)
	if first == nil {
		return nil, errNoInstance
	}
	resp, err := b.send(req, first)
	if err == nil || req.Context().Err() != nil {
		return resp, err
	}
	next := b.d.pick(first)
	if next == nil {
		return nil, err
	}
	b.d.log.Debug("process: retrying on another instance", "instance", first.idx, "pid", first.pid, "err", err, "retry_instance", next.idx)
	return b.send(req, next)
}

// send sends req to in, with a fresh copy of the buffered body.
func (b balancer) send(req *http.Request, in *instance) (*http.Response, error) {
	out := *req
	u := *req.URL
	u.Host = in.address()
	out.URL = &u
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	return b.d.transport.RoundTrip(&out)
}

// writeError answers err in the shape of the request's protocol, as
// `ferry serve` does (MLflow's on /invocations, {"error"} elsewhere).
func (d *Deployment) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpmw.Errors{Log: d.log, Family: func(r *http.Request) httpmw.Encoder { return serving.ErrorEncoder(r.URL.Path) }}.Write(w, r, err)
}
