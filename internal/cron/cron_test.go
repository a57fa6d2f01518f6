package cron

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
)

// TestMatchesCroniter compares the next six fire times of every case with
// those Python's croniter computed (testdata/record.py wrote
// testdata/croniter.json). Where croniter answers a wall time that does not
// exist (02:30 on the day Berlin skips from 02:00 to 03:00, and then 03:30
// the same day), the expected times are Debian cron's rule instead: the
// skipped 02:30 fires at 03:00 CEST, once.
func TestMatchesCroniter(t *testing.T) {
	raw, err := os.ReadFile("testdata/croniter.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Expr, TZ, Start string
			Next            []string
		}
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 10 {
		t.Fatalf("only %d cases", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		t.Run(c.Expr+" "+c.TZ, func(t *testing.T) {
			loc, err := time.LoadLocation(c.TZ)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(c.Expr, loc)
			if err != nil {
				t.Fatal(err)
			}
			at, err := time.Parse(time.RFC3339, c.Start)
			if err != nil {
				t.Fatal(err)
			}
			next := c.Next
			if c.Expr == "30 2 * * *" && c.TZ == "Europe/Berlin" && strings.HasPrefix(c.Start, "2026-03") {
				next = []string{"2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00",
					"2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00", "2026-04-01T02:30:00+02:00"}
			}
			for i, want := range next {
				at = s.Next(at)
				if got := at.Format("2006-01-02T15:04:05-07:00"); got != want {
					t.Fatalf("fire %d: %s, croniter %s", i+1, got, want)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"* * * *", "five fields"},
		{"60 * * * *", "minute field"},
		{"* 24 * * *", "hour field"},
		{"* * 0 * *", "day-of-month field"},
		{"* * * 13 *", "month field"},
		{"* * * * 8", "day-of-week field"},
		{"*/0 * * * *", "positive"},
		{"5-1 * * * *", "backwards"},
		{"* * * FOO *", "not a number"},
		{"@sometimes", "five fields"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Parse(tc.expr, nil)
			if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v; want EINVALID mentioning %q", tc.expr, err, tc.want)
			}
		})
	}
}

func TestNeverFires(t *testing.T) {
	s, err := Parse("0 0 30 2 *", nil)
	if err != nil {
		t.Fatal(err)
	}
	if next := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !next.IsZero() {
		t.Errorf("30 February fires at %v", next)
	}
}

func TestRepeatedHourFiresOnce(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("30 2 * * *", loc)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Next(time.Date(2026, 10, 25, 0, 0, 0, 0, loc))
	if second := s.Next(first); second.Sub(first) < 24*time.Hour {
		t.Errorf("fired at %v and again at %v: the repeated 02:30 fires once", first, second)
	}
}

// FuzzParse: any expression parses or is EINVALID, never a panic, and a
// parsed schedule's Next is after its argument (or zero).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"*/15 * * * *", "@daily", "5-10/2 8-18/5 * JAN,JUL SUN", "0 0 29 2 *", "1-/2 * * * *", "* * * * 7-0"} {
		f.Add(s)
	}
	start := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr, time.UTC)
		if err != nil {
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Fatalf("Parse(%q): %v is not EINVALID", expr, err)
			}
			return
		}
		if next := s.Next(start); !next.IsZero() && !next.After(start) {
			t.Fatalf("%q: Next(%v) = %v", expr, start, next)
		}
	})
}
