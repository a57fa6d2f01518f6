package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
)

func TestPrincipalInContext(t *testing.T) {
	ctx := context.Background()
	if got := auth.PrincipalFrom(ctx); got != auth.Anonymous {
		t.Errorf("empty context: got %q, want %q", got, auth.Anonymous)
	}
	if got := auth.PrincipalFrom(auth.WithPrincipal(ctx, "alice")); got != "alice" {
		t.Errorf("got %q, want alice", got)
	}
	if got := auth.PrincipalFrom(auth.WithPrincipal(ctx, "")); got != auth.Anonymous {
		t.Errorf("empty principal: got %q, want %q", got, auth.Anonymous)
	}
}

func TestCheckPrincipal(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "alice", "alice", true},
		{"trimmed", "  bob ", "bob", true},
		{"control", "a\x00b", "", false},
		{"invalid utf8", "a\xffb", "", false},
		{"too long", strings.Repeat("x", auth.MaxPrincipalBytes+1), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.CheckPrincipal(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("CheckPrincipal(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil && ferry.ErrorCode(err) != ferry.EINVALID {
				t.Errorf("code %s, want EINVALID", ferry.ErrorCode(err))
			}
		})
	}
}
