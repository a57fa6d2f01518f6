package deploy

import (
	"testing"
	"time"
)

func TestStatsQuantileAndMerge(t *testing.T) {
	var a, b Stats
	for i := 1; i <= 990; i++ {
		a.Observe(time.Millisecond, false)
	}
	for i := 1; i <= 10; i++ {
		b.Observe(200*time.Millisecond, true)
	}
	a.Merge(b)
	if a.Requests != 1000 || a.Errors != 10 || a.ErrorRate() != 0.01 {
		t.Fatalf("merged counts = %d requests, %d errors, rate %v", a.Requests, a.Errors, a.ErrorRate())
	}
	for _, tc := range []struct {
		q        float64
		min, max time.Duration
	}{
		{0.5, time.Millisecond, 1250 * time.Microsecond},
		{0.99, time.Millisecond, 1250 * time.Microsecond},
		{0.995, 200 * time.Millisecond, 250 * time.Millisecond},
	} {
		if got := a.Quantile(tc.q); got < tc.min || got > tc.max {
			t.Errorf("Quantile(%v) = %v; want in [%v, %v]", tc.q, got, tc.min, tc.max)
		}
	}
	var empty Stats
	if empty.Quantile(0.99) != 0 || empty.ErrorRate() != 0 {
		t.Error("empty Stats should answer 0")
	}
	for _, d := range []time.Duration{0, statsBase, time.Hour} {
		var s Stats
		s.Observe(d, false)
		if q := s.Quantile(1); q < d && d < time.Minute {
			t.Errorf("Observe(%v): Quantile(1) = %v is below it", d, q)
		}
	}
}
