package serving

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/httpmw"
)

// mlflowCode is the error_code MLflow's scoring server would give a status.
func mlflowCode(status int) string {
	switch status {
	case 400:
		return "BAD_REQUEST"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
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

// encoderOf is the error body writer of a protocol: {"error": "..."} for V2
// and V1, MLflow's {"error_code": "...", "message": "..."} for the scoring
// routes.
func encoderOf(proto string) httpmw.Encoder {
	if proto == protoMLflow {
		return writeMLflowError
	}
	return writeV2Error
}

// ErrorEncoder is the error body writer of the inference protocol path
// speaks (MLflow's shape on /invocations, {"error": "..."} elsewhere), for
// handlers that answer on the server's behalf, such as an endpoint router.
func ErrorEncoder(path string) httpmw.Encoder { return encoderOf(protocolOf(path)) }

// writeV2Error writes {"error": "..."}.
func writeV2Error(w http.ResponseWriter, status int, _, msg string) {
	b := make([]byte, 0, len(msg)+16)
	b = append(b, `{"error":`...)
	b = appendString(b, msg)
	writeJSON(w, status, append(b, "}\n"...))
}

// schemaCode is the error_code MLflow's scoring server gives data that does
// not fit the model's signature (its schema enforcement failed); other bad
// requests are BAD_REQUEST.
const schemaCode = "INVALID_PARAMETER_VALUE"

// schemaf is a client error of data that does not fit the signature: EINVALID
// (400), answered on /invocations with schemaCode.
func schemaf(format string, args ...any) error {
	err := invalidf(format, args...)
	return &httpmw.StatusError{Status: http.StatusBadRequest, Code: schemaCode, Message: err.(*ferry.Error).Message, Err: err}
}

// writeMLflowError writes {"error_code": "...", "message": "..."}, the code
// being the one MLflow's scoring server gives the status (schemaCode for
// schemaf's errors). A 415 is plain text, as MLflow's server sends it.
func writeMLflowError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusUnsupportedMediaType {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["Content-Length"] = []string{strconv.Itoa(len(msg))}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(msg))
		return
	}
	if code != schemaCode {
		code = mlflowCode(status)
	}
	b := make([]byte, 0, len(msg)+64)
	b = append(b, `{"error_code":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	writeJSON(w, status, append(b, "}\n"...))
}

// fail answers err in proto's shape and returns the status written (see
// httpmw.WriteError for the status and what is logged).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, proto string, err error) int {
	return httpmw.WriteError(w, r, s.log, encoderOf(proto), err)
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
