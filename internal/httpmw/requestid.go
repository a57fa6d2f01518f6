package httpmw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync/atomic"
)

// RequestIDHeader carries the request id, accepted from the client or
// generated, on every request and response.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDBytes bounds an incoming request id.
const MaxRequestIDBytes = 128

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDOf is r's request id, from its context or else from the
// response header.
func requestIDOf(w http.ResponseWriter, r *http.Request) string {
	if id := RequestIDFrom(r.Context()); id != "" {
		return id
	}
	return w.Header().Get(RequestIDHeader)
}

// saneRequestID reports whether an incoming id can be kept: 1 to
// MaxRequestIDBytes bytes of visible ASCII (no spaces or control
// characters), so that it is safe in logs and headers.
func saneRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// RequestIDs gives every request an id: the client's X-Request-Id when it is
// sane (see MaxRequestIDBytes; visible ASCII), else a new one, unique within
// the process (a random prefix chosen when RequestIDs is called and a
// sequence number). The id is in the request's context (RequestIDFrom) and
// in the response's X-Request-Id header.
func RequestIDs() Middleware {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := hex.EncodeToString(b[:]) + "-"
	var seq atomic.Uint64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !saneRequestID(id) {
				id = prefix + strconv.FormatUint(seq.Add(1), 10)
			}
			w.Header()[RequestIDHeader] = []string{id}
			next.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), id)))
		})
	}
}
