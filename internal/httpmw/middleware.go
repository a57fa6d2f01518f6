package httpmw

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain wraps h in mws, the first outermost.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// recorder remembers the status a handler wrote. Middleware share one: the
// outermost that needs it wraps the writer, the others find it.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// recorderOf returns w's recorder, wrapping w in one when it has none.
func recorderOf(w http.ResponseWriter) *recorder {
	if rec, ok := w.(*recorder); ok {
		return rec
	}
	return &recorder{ResponseWriter: w, status: http.StatusOK}
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Recover turns a panic in the handler into a 500 in the request's route
// family's shape (unless the answer had begun), logged at error level with
// the request id and the stack. http.ErrAbortHandler is passed on, as
// net/http expects.
func Recover(errs Errors) Middleware {
	log := errs.logger()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := recorderOf(w)
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic serving request", KeyMethod, r.Method, KeyPath, r.URL.Path,
					KeyRequestID, requestIDOf(w, r), KeyPanic, fmt.Sprint(p), KeyStack, string(debug.Stack()))
				if !rec.wrote {
					answer(rec, r, errs.Family(r), fmt.Errorf("panic: %v", p))
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// AccessLog logs every request at debug level when it ends: method, path,
// status, request id and duration.
func AccessLog(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !log.Enabled(r.Context(), slog.LevelDebug) {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			rec := recorderOf(w)
			defer func() {
				log.DebugContext(r.Context(), "request", KeyMethod, r.Method, KeyPath, r.URL.Path, KeyStatus, rec.status,
					KeyRequestID, requestIDOf(w, r), KeyDuration, time.Since(start))
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// LimitBody bounds request bodies to n bytes with http.MaxBytesReader;
// reading past it fails with an *http.MaxBytesError, which WriteError
// answers 413 ETOOLARGE. Put it outermost, so that net/http sees its own
// writer and closes the connection after an oversized body.
func LimitBody(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Timeout bounds the handler's work to d through the request's context;
// errors it causes (context.DeadlineExceeded) are answered 504 by
// WriteError.
func Timeout(d time.Duration) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Principal decides who a request acts for: the value of header, checked
// with auth.CheckPrincipal, goes into the request's context with
// auth.WithPrincipal; a request without it (or with only spaces) acts as
// auth.Anonymous. An invalid value is answered 400 EINVALID through errs.
func Principal(header string, errs Errors) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := r.Header.Get(header)
			if strings.TrimSpace(v) == "" {
				next.ServeHTTP(w, r)
				return
			}
			p, err := auth.CheckPrincipal(v)
			if err != nil {
				errs.Write(w, r, ferry.Errorf(ferry.EINVALID, "Invalid %s header: a principal is printable UTF-8 text of at most %d bytes.", header, auth.MaxPrincipalBytes))
				return
			}
			next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		})
	}
}
