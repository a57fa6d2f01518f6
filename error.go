package ferry

import (
	"errors"
	"fmt"
)

// Error codes shared by every stage. They are mapped to transport status codes in
// exactly one place: internal/httpmw.
const (
	ECONFLICT       = "ECONFLICT"       // the resource already exists or the change clashes with its state
	EINTERNAL       = "EINTERNAL"       // a fault of ours; details are logged, not shown
	EINVALID        = "EINVALID"        // the request is malformed or breaks a rule
	ENOTFOUND       = "ENOTFOUND"       // the named resource does not exist
	EUNAUTHORIZED   = "EUNAUTHORIZED"   // the caller is not authenticated (no or bad credentials)
	EFORBIDDEN      = "EFORBIDDEN"      // the principal is known but may not do this (a policy, a role)
	ETOOLARGE       = "ETOOLARGE"       // the request or a value exceeds a limit
	EUNAVAILABLE    = "EUNAVAILABLE"    // a dependency is down; retrying may help
	ENOTIMPLEMENTED = "ENOTIMPLEMENTED" // the operation is not supported by this build or backend
)

// Error is an error a user can act on: Code classifies it and Message says what
// happened and what to fix. Messages never carry internal details.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("ferry error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a generic
// message for any other non-nil error, so that internal details never reach users.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
