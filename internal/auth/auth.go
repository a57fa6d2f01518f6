// Package auth carries who is acting through a call. The edge (an HTTP
// middleware, a CLI command) decides the principal once and puts it in the
// request's context with WithPrincipal; services read it with PrincipalFrom
// and record it in their audit trails. Services never take a principal as a
// parameter, so a later authentication layer replaces only the edge.
package auth

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
)

// Anonymous is the principal of a call that names none.
const Anonymous = "anonymous"

// MaxPrincipalBytes bounds a principal's name.
const MaxPrincipalBytes = 256

type principalKey struct{}

// WithPrincipal returns ctx carrying principal. An empty principal is
// Anonymous.
func WithPrincipal(ctx context.Context, principal string) context.Context {
	if principal == "" {
		principal = Anonymous
	}
	return context.WithValue(ctx, principalKey{}, principal)
}

// PrincipalFrom returns the principal ctx carries, or Anonymous.
func PrincipalFrom(ctx context.Context) string {
	if p, ok := ctx.Value(principalKey{}).(string); ok && p != "" {
		return p
	}
	return Anonymous
}

// CheckPrincipal reports whether name is a usable principal: printable UTF-8
// text of at most MaxPrincipalBytes bytes, after trimming spaces. It returns
// the trimmed name, or an EINVALID error that says what to fix.
func CheckPrincipal(name string) (string, error) {
	p := strings.TrimSpace(name)
	if len(p) > MaxPrincipalBytes || !utf8.ValidString(p) || strings.ContainsFunc(p, unicode.IsControl) {
		return "", ferry.Errorf(ferry.EINVALID, "Invalid principal: a principal is printable UTF-8 text of at most %d bytes.", MaxPrincipalBytes)
	}
	return p, nil
}
