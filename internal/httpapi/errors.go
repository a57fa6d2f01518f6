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
	"github.com/ferry-ml/ferry/internal/httpmw"
)

// mlflowCode maps an error code to MLflow's ErrorCode name.
func mlflowCode(code string) string {
	switch code {
	case ferry.EINVALID, ferry.ETOOLARGE:
		return "INVALID_PARAMETER_VALUE"
	case ferry.ECONFLICT:
		return "RESOURCE_ALREADY_EXISTS"
	case ferry.ENOTFOUND:
		return "RESOURCE_DOES_NOT_EXIST"
	case ferry.EUNAUTHORIZED:
		return "UNAUTHENTICATED"
	case ferry.EFORBIDDEN:
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

// writeError answers with err in the route family's shape (see
// httpmw.WriteError for the status and what is logged).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, style errorStyle, err error) {
	httpmw.WriteError(w, r, log, style.encoder(), err)
}

// encoder returns the error body writer of the style.
func (style errorStyle) encoder() httpmw.Encoder {
	if style == styleMLflow {
		return writeMLflowError
	}
	return writeFerryError
}

// writeFerryError writes {"error": {"code": "ENOTFOUND", "message": "..."}}.
func writeFerryError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// writeMLflowError writes {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}.
func writeMLflowError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"error_code": mlflowCode(code), "message": message})
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
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ferry.Errorf(ferry.ETOOLARGE, "The request body exceeds the limit of %d bytes. Send less data per request (for metrics, split them across log-batch calls).", limit)
	}
	if err != nil {
		return ferry.Errorf(ferry.EINVALID, "Could not read the request body: %v.", err)
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
