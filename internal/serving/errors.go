package serving

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
)

// statusClientClosed is the status recorded for a request whose client went
// away before the answer (nginx's 499); the client never sees it.
const statusClientClosed = 499

// statusOf maps an error to its HTTP status: the one place where error codes
// become statuses in this package. A request a client can fix is never 5xx.
func statusOf(err error) int {
	var te *timeoutError
	var me *mediaTypeError
	switch {
	case errors.As(err, &te):
		return http.StatusGatewayTimeout
	case errors.As(err, &me):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, context.Canceled):
		return statusClientClosed
	}
	switch ferry.ErrorCode(err) {
	case ferry.EINVALID, ferry.ECONFLICT:
		return http.StatusBadRequest
	case ferry.ENOTFOUND:
		return http.StatusNotFound
	case ferry.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case ferry.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case ferry.ENOTIMPLEMENTED:
		return http.StatusNotImplemented
	case ferry.EUNAUTHORIZED:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// messageOf is what a client is told: the *ferry.Error message, or a generic
// one for faults of ours (which are logged with the request id).
func messageOf(err error, requestID string) string {
	var te *timeoutError
	if errors.As(err, &te) {
		return "The model did not answer within " + te.after.String() + "."
	}
	var me *mediaTypeError
	if errors.As(err, &me) {
		return me.msg
	}
	if errors.Is(err, context.Canceled) {
		return "The request was canceled."
	}
	var fe *ferry.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return "Internal error (request id " + requestID + "); the server log has the details."
}

// mlflowCode is the error_code MLflow's scoring server would give a status.
func mlflowCode(status int) string {
	switch status {
	case 400:
		return "BAD_REQUEST"
	case 404:
		return "RESOURCE_DOES_NOT_EXIST"
	case 413:
		return "REQUEST_LIMIT_EXCEEDED"
	case 415:
		return "BAD_REQUEST"
	case 501:
		return "NOT_IMPLEMENTED"
	case 503:
		return "TEMPORARILY_UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL_ERROR"
}

// writeError answers with err: {"error": "..."} for V2 and V1, MLflow's
// {"error_code": "...", "message": "..."} for the scoring routes. It
// returns the status written.
func writeError(w http.ResponseWriter, proto string, err error) int {
	status := statusOf(err)
	msg := messageOf(err, w.Header().Get(RequestIDHeader))
	b := make([]byte, 0, len(msg)+48)
	if proto == protoMLflow {
		b = append(b, `{"error_code":`...)
		b = appendString(b, mlflowCode(status))
		b = append(b, `,"message":`...)
	} else {
		b = append(b, `{"error":`...)
	}
	b = appendString(b, msg)
	b = append(b, "}\n"...)
	writeJSON(w, status, b)
	return status
}

// writeJSON writes a JSON body with its length.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may have gone; nothing to do about it
}

// protocolOf classifies a path for metrics and error shapes.
func protocolOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/v2"):
		return protoV2
	case strings.HasPrefix(path, "/v1/"):
		return protoV1
	case path == "/invocations" || path == "/ping" || path == "/health" || path == "/version":
		return protoMLflow
	}
	return protoOther
}

// invalidf is a client error.
func invalidf(format string, args ...any) error { return ferry.Errorf(ferry.EINVALID, format, args...) }
