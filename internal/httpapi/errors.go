package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ferry-ml/ferry"
)

// statusOf maps an error code to its HTTP status. It is the only place where
// codes become statuses; a request a user can fix is never a 5xx.
func statusOf(code string) int {
	switch code {
	case ferry.EINVALID:
		return http.StatusBadRequest
	case ferry.ECONFLICT:
		return http.StatusBadRequest // MLflow answers RESOURCE_ALREADY_EXISTS with 400
	case ferry.ENOTFOUND:
		return http.StatusNotFound
	case ferry.EUNAUTHORIZED, ferry.EFORBIDDEN:
		return http.StatusForbidden
	case ferry.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case ferry.ENOTIMPLEMENTED:
		return http.StatusNotImplemented
	case ferry.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// mlflowCode maps an error code to MLflow's ErrorCode name.
func mlflowCode(code string) string {
	switch code {
	case ferry.EINVALID, ferry.ETOOLARGE:
		return "INVALID_PARAMETER_VALUE"
	case ferry.ECONFLICT:
		return "RESOURCE_ALREADY_EXISTS"
	case ferry.ENOTFOUND:
		return "RESOURCE_DOES_NOT_EXIST"
	case ferry.EUNAUTHORIZED, ferry.EFORBIDDEN:
		return "PERMISSION_DENIED"
	case ferry.ENOTIMPLEMENTED:
		return "NOT_IMPLEMENTED"
	case ferry.EUNAVAILABLE:
		return "TEMPORARILY_UNAVAILABLE"
	}
	return "INTERNAL_ERROR"
}

// errorStyle selects the error body shape of a route family.
type errorStyle int

const (
	styleFerry  errorStyle = iota // {"error": {"code": "ENOTFOUND", "message": "..."}}
	styleMLflow                   // {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}
)

// writeError answers with err in the route family's shape. Internal errors are
// logged with the request id and shown to the client only as a generic message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, style errorStyle, err error) {
	code, msg := ferry.ErrorCode(err), ferry.ErrorMessage(err)
	status := statusOf(code)
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "request_id", w.Header().Get(requestIDHeader), "err", err)
	}
	var body any
	switch style {
	case styleMLflow:
		body = map[string]string{"error_code": mlflowCode(code), "message": msg}
	default:
		body = map[string]any{"error": map[string]string{"code": code, "message": msg}}
	}
	writeJSON(w, status, body)
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

// decodeJSON reads one JSON value from r's body (bounded by limit bytes) into v.
// An empty body decodes as {}. Errors are EINVALID or ETOOLARGE and say what is
// wrong and where.
func decodeJSON(r *http.Request, limit int64, v any) error {
	body := io.LimitReader(r.Body, limit+1)
	raw, err := io.ReadAll(body)
	if err != nil {
		return ferry.Errorf(ferry.EINVALID, "Could not read the request body: %v.", err)
	}
	if int64(len(raw)) > limit {
		return ferry.Errorf(ferry.ETOOLARGE, "The request body exceeds the limit of %d bytes. Send less data per request (for metrics, split them across log-batch calls).", limit)
	}
	if strings.TrimSpace(string(raw)) == "" {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError turns a decoding error into a message naming the field at fault.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var fe *ferry.Error
	switch {
	case errors.As(err, &fe):
		return fe
	case errors.As(err, &syn):
		return ferry.Errorf(ferry.EINVALID, "Malformed JSON in request body at byte %d: %s.", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return ferry.Errorf(ferry.EINVALID, "The request body must be a JSON object, not %s.", typ.Value)
		}
		return ferry.Errorf(ferry.EINVALID, "Invalid value for field '%s': expected %s, got %s.", field, kindName(typ.Type.String()), typ.Value)
	}
	return ferry.Errorf(ferry.EINVALID, "Malformed JSON in request body: %s.", err.Error())
}

func kindName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "string" || goType == "wirejson.ID":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "float") || strings.HasPrefix(goType, "wirejson."):
		return "a number"
	}
	return fmt.Sprintf("a %s", strings.TrimPrefix(goType, "httpapi."))
}
