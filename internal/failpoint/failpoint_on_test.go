//go:build failpoint

package failpoint

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
		at       int64
		err      bool
	}{
		{name: "unset", in: ""},
		{name: "with count", in: "logbatch-before-commit:3", want: "logbatch-before-commit", at: 3},
		{name: "without count", in: "register-after-commit", want: "register-after-commit", at: 1},
		{name: "zero count", in: "x:0", err: true},
		{name: "bad count", in: "x:two", err: true},
		{name: "no name", in: ":2", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parse(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("parse(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			switch {
			case tt.err:
			case tt.want == "" && p != nil:
				t.Errorf("parse(%q) = %+v, want nothing armed", tt.in, p)
			case tt.want != "" && (p == nil || p.name != tt.want || p.at != tt.at):
				t.Errorf("parse(%q) = %+v, want %s at %d", tt.in, p, tt.want, tt.at)
			}
		})
	}
}
