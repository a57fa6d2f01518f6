// Package cron parses cron schedules — the five fields of Vixie cron
// (minute hour day-of-month month day-of-week) and the @hourly, @daily,
// @weekly, @monthly and @yearly macros — and computes when they fire next
// in a time zone. Monitors (their `schedule`) and pipelines (schedule
// triggers) use it.
//
// Semantics are Vixie cron's, as Debian's cron and Python's croniter apply
// them: `*`, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, month and
// weekday names (JAN, MON), 0 and 7 both Sunday; when both day-of-month and
// day-of-week are restricted, a day matches either. Times are wall-clock
// times in the schedule's location: a time skipped by a daylight-saving
// jump fires when the clock jumps past it (as Debian's cron runs such
// jobs; croniter answers a time that does not exist), and a time that
// occurs twice fires once, at its first occurrence.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
)

// Schedule is a parsed cron expression in a location. The zero value is
// not valid; use Parse.
type Schedule struct {
	expr   string
	loc    *time.Location
	minute uint64 // bit i: minute i
	hour   uint64
	dom    uint64 // bit 1..31
	month  uint64 // bit 1..12
	dow    uint64 // bit 0..6, Sunday 0
	// domStar and dowStar record a field written as * (unrestricted).
	domStar, dowStar bool
}

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

// Parse parses expr in loc (nil: UTC). Errors are EINVALID and name the
// field at fault.
func Parse(expr string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	s := Schedule{expr: expr, loc: loc}
	spec := strings.TrimSpace(expr)
	if m, ok := macros[strings.ToLower(spec)]; ok {
		spec = m
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return Schedule{}, ferry.Errorf(ferry.EINVALID, "schedule %q: want five fields (minute hour day-of-month month day-of-week) or a macro such as @daily", expr)
	}
	var err error
	parts := []struct {
		name     string
		min, max int
		names    map[string]int
		dst      *uint64
	}{
		{"minute", 0, 59, nil, &s.minute},
		{"hour", 0, 23, nil, &s.hour},
		{"day-of-month", 1, 31, nil, &s.dom},
		{"month", 1, 12, monthNames, &s.month},
		{"day-of-week", 0, 7, dayNames, &s.dow},
	}
	for i, p := range parts {
		if *p.dst, err = parseField(fields[i], p.min, p.max, p.names); err != nil {
			return Schedule{}, ferry.Errorf(ferry.EINVALID, "schedule %q: %s field %q: %v", expr, p.name, fields[i], err)
		}
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow = s.dow&^(1<<7) | 1
	}
	s.domStar = strings.HasPrefix(fields[2], "*")
	s.dowStar = strings.HasPrefix(fields[4], "*")
	return s, nil
}

// parseField parses one field into a bit set of the values it allows.
func parseField(f string, lo, hi int, names map[string]int) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(f, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("step %q: want a positive number", stepText)
			}
			step = n
		}
		var from, to int
		switch {
		case rng == "*":
			from, to = lo, hi
			if hi == 7 { // day-of-week: * is 0-6
				to = 6
			}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if from, err = value(a, lo, hi, names); err != nil {
				return 0, err
			}
			to = from
			if isRange {
				if to, err = value(b, lo, hi, names); err != nil {
					return 0, err
				}
				if to < from {
					return 0, fmt.Errorf("range %s-%s runs backwards", a, b)
				}
			} else if hasStep {
				to = hi // a/n: from a to the end
			}
		}
		for v := from; v <= to; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside %d-%d", v, lo, hi)
	}
	return v, nil
}

// String is the expression as written.
func (s Schedule) String() string { return s.expr }

// Location is the schedule's time zone.
func (s Schedule) Location() *time.Location { return s.loc }

// Next returns the first time strictly after t at which s fires, in s's
// location; the zero time when it never does (such as 0 0 30 2 *).
func (s Schedule) Next(t time.Time) time.Time {
	t = t.In(s.loc)
	// Start at the next whole minute of wall-clock time.
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC).Add(time.Minute)
	end := wall.AddDate(5, 0, 0) // every valid schedule fires within 4 years (Feb 29)
	for wall.Before(end) {
		if s.month&(1<<uint(wall.Month())) == 0 {
			wall = time.Date(wall.Year(), wall.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !s.dayMatches(wall) {
			wall = time.Date(wall.Year(), wall.Month(), wall.Day()+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if s.hour&(1<<uint(wall.Hour())) == 0 {
			wall = time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour()+1, 0, 0, 0, time.UTC)
			continue
		}
		if s.minute&(1<<uint(wall.Minute())) == 0 {
			wall = wall.Add(time.Minute)
			continue
		}
		// wall is a matching wall-clock time; map it into the location.
		at := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, s.loc)
		if at.Hour() != wall.Hour() || at.Minute() != wall.Minute() {
			// Skipped by a daylight-saving jump: fire when the clock jumps
			// past it, as Debian's cron runs such jobs.
			at = s.firstWallAtOrAfter(wall)
		}
		// A wall time that occurs twice (the clock set back) is its
		// first occurrence; time.Date may give either.
		for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
			if e := at.Add(-d); e.Hour() == at.Hour() && e.Minute() == at.Minute() && e.Day() == at.Day() {
				at = e
				break
			}
		}
		if !at.After(t) {
			// The first occurrence of a repeated wall time is before t:
			// this one was already due.
			wall = wall.Add(time.Minute)
			continue
		}
		return at
	}
	return time.Time{}
}

// firstWallAtOrAfter is the first instant whose wall-clock time in s's
// location is at or after wall (wall-clock time encoded in UTC), searched
// within a day of it: the end of the daylight-saving gap wall falls in.
func (s Schedule) firstWallAtOrAfter(wall time.Time) time.Time {
	lo, hi := wall.Add(-24*time.Hour).Unix(), wall.Add(24*time.Hour).Unix()
	for lo < hi {
		mid := lo + (hi-lo)/2
		w := time.Unix(mid, 0).In(s.loc)
		if time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC).Before(wall) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return time.Unix(lo, 0).In(s.loc)
}

func (s Schedule) dayMatches(wall time.Time) bool {
	dom := s.dom&(1<<uint(wall.Day())) != 0
	dow := s.dow&(1<<uint(wall.Weekday())) != 0
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}
