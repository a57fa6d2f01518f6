package blob_test

import (
	"fmt"
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/blob"
)

func TestCleanKey(t *testing.T) {
	tests := []struct {
		name, key, want string
		rule            string // a fragment of the error message; "" when valid
	}{
		{name: "simple", key: "a", want: "a"},
		{name: "nested", key: "runs/1/artifacts/model.bin", want: "runs/1/artifacts/model.bin"},
		{name: "root", key: "", want: ""},
		{name: "dot is root", key: ".", want: ""},
		{name: "slashes are root", key: "./", want: ""},
		{name: "double slash", key: "a//b", want: "a/b"},
		{name: "trailing slash", key: "a/b/", want: "a/b"},
		{name: "dot segment", key: "a/./b", want: "a/b"},
		{name: "leading dot", key: "./a", want: "a"},
		{name: "dots inside a name", key: "v1..v2/a..b", want: "v1..v2/a..b"},
		{name: "three dots", key: "a/...", want: "a/..."},
		{name: "hidden file", key: ".hidden/.x", want: ".hidden/.x"},
		{name: "spaces", key: "my dir/my file.txt", want: "my dir/my file.txt"},
		{name: "unicode", key: "données/日本語/🚀", want: "données/日本語/🚀"},
		{name: "tab is a control", key: "a\tb", rule: "control"},
		{name: "at length limit", key: strings.Repeat("a", blob.MaxKeyLen), want: strings.Repeat("a", blob.MaxKeyLen)},

		{name: "parent", key: "..", rule: `".." segments`},
		{name: "parent prefix", key: "../x", rule: `".." segments`},
		{name: "parent escape", key: "a/../../b", rule: `".." segments`},
		{name: "parent inside", key: "a/../b", rule: `".." segments`},
		{name: "parent last", key: "a/..", rule: `".." segments`},
		{name: "absolute", key: "/etc/passwd", rule: "relative"},
		{name: "slash only", key: "/", rule: "relative"},
		{name: "backslash", key: `a\b`, rule: "backslash"},
		{name: "backslash parent", key: `..\x`, rule: "backslash"},
		{name: "NUL", key: "a\x00b", rule: "control"},
		{name: "newline", key: "a\nb", rule: "control"},
		{name: "DEL", key: "a\x7f", rule: "control"},
		{name: "C1 control", key: "a\u0085b", rule: "control"},
		{name: "invalid UTF-8", key: "a\xffb", rule: "UTF-8"},
		{name: "too long", key: strings.Repeat("a", blob.MaxKeyLen+1), rule: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := blob.CleanKey(tt.key)
			if tt.rule == "" {
				if err != nil || got != tt.want {
					t.Errorf("CleanKey(%q) = %q, %v; want %q, nil", tt.key, got, err, tt.want)
				}
				return
			}
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Fatalf("CleanKey(%q) = %q, %v; want an EINVALID error", tt.key, got, err)
			}
			msg := ferry.ErrorMessage(err)
			if !strings.Contains(msg, tt.rule) {
				t.Errorf("message %q does not name the rule %q", msg, tt.rule)
			}
			if len(tt.key) <= 64 && !strings.Contains(msg, fmt.Sprintf("%q", tt.key)) {
				t.Errorf("message %q does not name the key %q", msg, tt.key)
			}
		})
	}
}

func TestCleanObjectKey(t *testing.T) {
	for _, key := range []string{"", ".", "/", "./"} {
		t.Run(key, func(t *testing.T) {
			if _, err := blob.CleanObjectKey(key); ferry.ErrorCode(err) != ferry.EINVALID {
				t.Errorf("CleanObjectKey(%q) error %v, want EINVALID", key, err)
			}
		})
	}
	if got, err := blob.CleanObjectKey("a//b"); err != nil || got != "a/b" {
		t.Errorf("CleanObjectKey(%q) = %q, %v; want %q, nil", "a//b", got, err, "a/b")
	}
}

func TestJoin(t *testing.T) {
	tests := []struct{ dir, name, want string }{
		{"", "", ""},
		{"", "a", "a"},
		{"a", "", "a"},
		{"a/b", "c", "a/b/c"},
	}
	for _, tt := range tests {
		t.Run(tt.dir+"+"+tt.name, func(t *testing.T) {
			if got := blob.Join(tt.dir, tt.name); got != tt.want {
				t.Errorf("Join(%q, %q) = %q, want %q", tt.dir, tt.name, got, tt.want)
			}
		})
	}
}

// FuzzCleanKey checks the properties every accepted key has: it cannot climb out
// of the store or be read as absolute, and cleaning is idempotent.
func FuzzCleanKey(f *testing.F) {
	for _, seed := range []string{
		"", ".", "a", "a/b", "../x", "a/../../b", "/etc/passwd", `a\b`, "a\x00b",
		"a//b/./c/", "..", "...", "a..b", "./..", "/..", "日本/語", "\xff", "a/\u0085",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got, err := blob.CleanKey(key)
		if err != nil {
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Fatalf("CleanKey(%q) error %v, want EINVALID", key, err)
			}
			return
		}
		for seg := range strings.SplitSeq(got, "/") {
			if seg == ".." {
				t.Fatalf("CleanKey(%q) = %q contains a \"..\" segment", key, got)
			}
			if got != "" && (seg == "" || seg == ".") {
				t.Fatalf("CleanKey(%q) = %q contains an empty or \".\" segment", key, got)
			}
		}
		if strings.HasPrefix(got, "/") {
			t.Fatalf("CleanKey(%q) = %q is absolute", key, got)
		}
		if strings.ContainsRune(got, '\\') || strings.ContainsFunc(got, unicode.IsControl) {
			t.Fatalf("CleanKey(%q) = %q contains a backslash or control character", key, got)
		}
		if !utf8.ValidString(got) || len(got) > blob.MaxKeyLen {
			t.Fatalf("CleanKey(%q) = %q is invalid UTF-8 or too long", key, got)
		}
		if got != "" && path.Clean(got) != got {
			t.Fatalf("CleanKey(%q) = %q, but path.Clean gives %q", key, got, path.Clean(got))
		}
		if again, err := blob.CleanKey(got); err != nil || again != got {
			t.Fatalf("CleanKey is not idempotent: %q → %q → %q, %v", key, got, again, err)
		}
	})
}
