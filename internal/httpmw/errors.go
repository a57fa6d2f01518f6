// Package httpmw is the one HTTP middleware set of Ferry's servers, shared by
// the API server (internal/httpapi) and the inference server
// (internal/serving): error codes to statuses and error answers, request
// ids, panic recovery, access logs, per-route metrics, body limits, request
// timeouts and the principal a request acts for.
//
// Middleware compose with Chain, the first outermost. The order that keeps
// every piece working is: LimitBody, RequestIDs, (*Metrics).Middleware,
// AccessLog, Recover, then anything that may answer errors (Principal,
// Timeout) and the routes.
package httpmw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ferry-ml/ferry"
)

// StatusClientClosed is the status recorded for a request whose client went
// away before the answer (nginx's 499); the client never sees it.
const StatusClientClosed = 499

// Attribute keys of the log records this package writes.
const (
	KeyMethod    = "method"
	KeyPath      = "path"
	KeyStatus    = "status"
	KeyRequestID = "request_id"
	KeyDuration  = "duration"
	KeyErr       = "err"
	KeyPanic     = "panic"
	KeyStack     = "stack"
)

// StatusOf maps a ferry error code to its HTTP status. It is the only place
// where codes become statuses; a request a client can fix (EINVALID,
// ECONFLICT, ENOTFOUND, ETOOLARGE) is never a 5xx. ECONFLICT is 400 on every
// route family, as MLflow answers RESOURCE_ALREADY_EXISTS. Unknown codes and
// EINTERNAL are 500.
func StatusOf(code string) int {
	switch code {
	case ferry.EINVALID, ferry.ECONFLICT:
		return http.StatusBadRequest
	case ferry.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case ferry.EFORBIDDEN:
		return http.StatusForbidden
	case ferry.ENOTFOUND:
		return http.StatusNotFound
	case ferry.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case ferry.ENOTIMPLEMENTED:
		return http.StatusNotImplemented
	case ferry.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// StatusError is a condition that has no ferry code of its own but a
// definite HTTP status, such as an unsupported media type (415) or a model
// that did not answer in time (504). Status and Message are what the client
// gets; Code is the ferry code a route family that shows codes shows; Err,
// when set, is the cause, for the log.
type StatusError struct {
	Status  int
	Code    string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *StatusError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

// Unwrap returns the cause.
func (e *StatusError) Unwrap() error { return e.Err }

// An Encoder writes the error body of one route family (Ferry's
// {"error":{"code","message"}}, MLflow's {"error_code","message"}, the
// inference protocols' {"error": "..."}) with status.
type Encoder func(w http.ResponseWriter, status int, code, message string)

// classify returns the status, code and client message of err. Faults of
// ours get a generic message naming requestID; their details are logged,
// never shown.
func classify(err error, requestID string) (status int, code, msg string) {
	var se *StatusError
	var fe *ferry.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		return se.Status, se.Code, se.Message
	case errors.Is(err, context.Canceled):
		return StatusClientClosed, ferry.EUNAVAILABLE, "The request was canceled."
	case errors.As(err, &fe):
		return StatusOf(fe.Code), fe.Code, fe.Message
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, ferry.ETOOLARGE, fmt.Sprintf("The request body exceeds the limit of %d bytes.", mbe.Limit)
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, ferry.EUNAVAILABLE, "The request did not finish within its time limit; retry, or ask for less at once."
	}
	return http.StatusInternalServerError, ferry.EINTERNAL, "Internal error (request id " + requestID + "); the server log has the details."
}

// answer writes err with enc and returns the status written.
func answer(w http.ResponseWriter, r *http.Request, enc Encoder, err error) int {
	status, code, msg := classify(err, requestIDOf(w, r))
	enc(w, status, code, msg)
	return status
}

// WriteError answers err with the route family's encoder and returns the
// status written: the status comes from StatusOf for a *ferry.Error, from a
// *StatusError, 413 for an *http.MaxBytesError, 504 for a deadline,
// StatusClientClosed for a canceled request, and 500 for anything else.
// Faults of ours (500) are logged at error level with the request id and the
// error; the client sees only a generic message. Every other error is the
// client's to act on and is told in full, so it is not logged here (the
// access log has the status).
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, enc Encoder, err error) int {
	status := answer(w, r, enc, err)
	switch status {
	case http.StatusInternalServerError:
		log.ErrorContext(r.Context(), "request failed", KeyMethod, r.Method, KeyPath, r.URL.Path, KeyRequestID, requestIDOf(w, r), KeyErr, err)
	case StatusClientClosed:
		log.DebugContext(r.Context(), "client went away", KeyMethod, r.Method, KeyPath, r.URL.Path, KeyRequestID, requestIDOf(w, r))
	}
	return status
}

// Errors answers the errors of one server: Family picks the encoder of a
// request's route family. The zero Log discards.
type Errors struct {
	Log    *slog.Logger
	Family func(r *http.Request) Encoder
}

// Write answers err as WriteError does, with r's route family's encoder.
func (e Errors) Write(w http.ResponseWriter, r *http.Request, err error) int {
	return WriteError(w, r, e.logger(), e.Family(r), err)
}

func (e Errors) logger() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}
