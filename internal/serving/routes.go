package serving

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// modelSource finds the entry a request names, with a reference the caller
// releases: the Server's own models, or registered models loaded on demand.
type modelSource interface {
	acquire(ctx context.Context, name, version string) (*entry, error)
}

type staticModels struct{ s *Server }

func (m staticModels) acquire(_ context.Context, name, version string) (*entry, error) {
	return m.s.acquire(name, version)
}

// routes registers the inference routes on mux. standalone adds the routes
// of a single-model server: MLflow scoring, /ping, /health, /version and
// /metrics.
func (s *Server) routes(mux *http.ServeMux, src modelSource, standalone bool) {
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []byte("{\"live\":true}\n"))
	})
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {
		if !standalone || s.ready() {
			writeJSON(w, http.StatusOK, []byte("{\"ready\":true}\n"))
			return
		}
		s.fail(w, r, protoV2, s.notReady())
	})
	mux.HandleFunc("GET /v2", func(w http.ResponseWriter, r *http.Request) {
		b := append([]byte(`{"name":"ferry","version":`), appendString(nil, ferry.Version)...)
		writeJSON(w, http.StatusOK, append(b, ",\"extensions\":[]}\n"...))
	})
	meta := func(w http.ResponseWriter, r *http.Request) {
		s.withModel(w, r, src, protoV2, func(e *entry) (int, error) {
			b := s.bufs.get()
			defer s.bufs.put(b)
			*b = appendModelMetadata(*b, e)
			writeJSON(w, http.StatusOK, *b)
			return http.StatusOK, nil
		})
	}
	mux.HandleFunc("GET /v2/models/{name}", meta)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", meta)
	ready := func(w http.ResponseWriter, r *http.Request) {
		s.withModel(w, r, src, protoV2, func(e *entry) (int, error) {
			if !e.ready() {
				return 0, ferry.Errorf(ferry.EUNAVAILABLE, "Model '%s' is not ready: its server is starting again.", clip(e.name))
			}
			writeJSON(w, http.StatusOK, []byte("{\"name\":"+string(appendString(nil, e.name))+",\"ready\":true}\n"))
			return http.StatusOK, nil
		})
	}
	mux.HandleFunc("GET /v2/models/{name}/ready", ready)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", ready)
	infer := func(w http.ResponseWriter, r *http.Request) { s.inferV2(w, r, src) }
	mux.HandleFunc("POST /v2/models/{name}/infer", infer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", infer)

	mux.HandleFunc("GET /v1/models/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.withModel(w, r, src, protoV1, func(e *entry) (int, error) {
			writeJSON(w, http.StatusOK, []byte("{\"name\":"+string(appendString(nil, e.name))+",\"ready\":true}\n"))
			return http.StatusOK, nil
		})
	})
	mux.HandleFunc("POST /v1/models/{name}", func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutSuffix(r.PathValue("name"), ":predict")
		if !ok {
			start := time.Now()
			status := s.fail(w, r, protoV1, ferry.Errorf(ferry.ENOTFOUND, "No route for POST %s; a V1 prediction is POST /v1/models/NAME:predict.", clip(r.URL.Path)))
			s.metrics.observe(nil, protoV1, status, time.Since(start).Seconds())
			return
		}
		s.inferRows(w, r, protoV1, func(ctx context.Context) (*entry, error) { return src.acquire(ctx, name, "") },
			func(body []byte, e *entry) ([]runtime.Tensor, int, error) { return decodeV1(body, e.schema) })
	})
	if standalone {
		mux.HandleFunc("POST /invocations", func(w http.ResponseWriter, r *http.Request) {
			s.inferRows(w, r, protoMLflow, func(context.Context) (*entry, error) { return s.defaultModel() },
				func(body []byte, e *entry) ([]runtime.Tensor, int, error) {
					d := newRowDecoder(e.schema, true)
					t, rows, err := decodeInvocations(body, r.Header.Get("Content-Type"), d)
					if len(d.ignored) > 0 {
						w.Header().Set(IgnoredColumnsHeader, ignoredHeader(d.ignored))
						s.log.DebugContext(r.Context(), "serving: ignored columns the model does not take", "model", e.name, "version", e.version, "columns", d.ignored)
					}
					return t, rows, err
				})
		})
		ok := func(w http.ResponseWriter, r *http.Request) {
			// MLflow's scoring server labels its "\n" application/json.
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("\n"))
		}
		mux.HandleFunc("GET /ping", ok)
		mux.HandleFunc("GET /health", ok)
		mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(ferry.Version))
		})
		if s.gather != nil {
			mux.Handle("GET /metrics", s.gather)
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, protocolOf(r.URL.Path), ferry.Errorf(ferry.ENOTFOUND, "No route for %s %s. Inference is at POST /v2/models/NAME/infer (Open Inference Protocol V2), POST /v1/models/NAME:predict (KServe V1) and POST /invocations (MLflow).", r.Method, clip(r.URL.Path)))
	})
}

// withModel runs fn with the model the path names, and answers errors.
func (s *Server) withModel(w http.ResponseWriter, r *http.Request, src modelSource, proto string, fn func(e *entry) (int, error)) {
	e, err := src.acquire(r.Context(), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		s.fail(w, r, proto, err)
		return
	}
	defer e.release()
	if _, err := fn(e); err != nil {
		s.fail(w, r, proto, err)
	}
}

// inferV2 serves POST /v2/models/{name}[/versions/{version}]/infer.
func (s *Server) inferV2(w http.ResponseWriter, r *http.Request, src modelSource) {
	start := time.Now()
	var e *entry
	status := func() int {
		if r.Header.Get("Inference-Header-Content-Length") != "" {
			return s.fail(w, r, protoV2, ferry.Errorf(ferry.ENOTIMPLEMENTED, "The binary tensor data extension is not supported; send the request as JSON."))
		}
		if err := s.enter(); err != nil {
			return s.fail(w, r, protoV2, err)
		}
		defer s.leave()
		body, err := s.readBody(r)
		if err != nil {
			return s.fail(w, r, protoV2, err)
		}
		defer s.bufs.put(body)
		req, err := parseV2(*body)
		if err != nil {
			return s.fail(w, r, protoV2, err)
		}
		if e, err = src.acquire(r.Context(), r.PathValue("name"), r.PathValue("version")); err != nil {
			return s.fail(w, r, protoV2, err)
		}
		inputs, rows, err := decodeInputs(req, e.schema)
		if err == nil {
			err = checkOutputs(e.schema, req.outputs)
		}
		if err != nil {
			return s.fail(w, r, protoV2, err)
		}
		all, err := s.predict(r.Context(), e, inputs, rows)
		if err != nil {
			return s.fail(w, r, protoV2, err)
		}
		outs, err := selectOutputs(all, req.outputs)
		if err != nil {
			return s.fail(w, r, protoV2, err)
		}
		*body = appendV2Response((*body)[:0], e, req, outs)
		writeJSON(w, http.StatusOK, *body)
		s.collect(r, e, start, inputs, all, rows)
		return http.StatusOK
	}()
	s.done(e, protoV2, status, start)
}

// done records a request's metrics and releases its model.
func (s *Server) done(e *entry, proto string, status int, start time.Time) {
	if e != nil {
		s.metrics.observe(e.m, proto, status, time.Since(start).Seconds())
		e.release()
		return
	}
	s.metrics.observe(nil, proto, status, time.Since(start).Seconds())
}

// inferRows serves the row protocols (V1, MLflow): decode with the model's
// schema, predict, answer {"predictions": [...]}.
func (s *Server) inferRows(w http.ResponseWriter, r *http.Request, proto string, lookup func(context.Context) (*entry, error),
	decode func(body []byte, e *entry) ([]runtime.Tensor, int, error)) {
	start := time.Now()
	var e *entry
	status := func() int {
		if err := s.enter(); err != nil {
			return s.fail(w, r, proto, err)
		}
		defer s.leave()
		body, err := s.readBody(r)
		if err != nil {
			return s.fail(w, r, proto, err)
		}
		defer s.bufs.put(body)
		if e, err = lookup(r.Context()); err != nil {
			return s.fail(w, r, proto, err)
		}
		inputs, rows, err := decode(*body, e)
		if err != nil {
			return s.fail(w, r, proto, err)
		}
		outs, err := s.predict(r.Context(), e, inputs, rows)
		if err != nil {
			return s.fail(w, r, proto, err)
		}
		b := append((*body)[:0], `{"predictions":`...)
		if b, err = appendPredictions(b, e.schema, outs, rows); err != nil {
			return s.fail(w, r, proto, err)
		}
		*body = append(b, "}\n"...)
		writeJSON(w, http.StatusOK, *body)
		s.collect(r, e, start, inputs, outs, rows)
		return http.StatusOK
	}()
	s.done(e, proto, status, start)
}
