package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
)

// RunMonitor runs the conformance suite of monitor.Store, directly and
// through monitor.Service. open returns an empty store and a function that
// opens another handle on the same database, as a second replica of the
// server would.
func RunMonitor(t *testing.T, open func(t *testing.T) (monitor.Store, func() monitor.Store)) {
	t.Run("labels", func(t *testing.T) { s, _ := open(t); testLabels(t, s) })
	t.Run("late labels replace and join", func(t *testing.T) { s, _ := open(t); testLateLabels(t, s) })
	t.Run("label validation", func(t *testing.T) { s, _ := open(t); testLabelValidation(t, s) })
	t.Run("replicas' profiles merge", func(t *testing.T) { testProfileReplicas(t, open) })
	t.Run("profile ranges", func(t *testing.T) { s, _ := open(t); testProfileRanges(t, s) })
	t.Run("monitor resources", func(t *testing.T) { s, _ := open(t); testMonitorResources(t, s) })
}

// monitorClock is a clock tests set and move.
type monitorClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *monitorClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *monitorClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// knownEndpoints is a monitor.Endpoints of fixed names.
type knownEndpoints []string

func (k knownEndpoints) GetEndpoint(_ context.Context, name string) (deploy.Endpoint, error) {
	for _, n := range k {
		if n == name {
			return deploy.Endpoint{Name: name}, nil
		}
	}
	return deploy.Endpoint{}, ferry.Errorf(ferry.ENOTFOUND, "endpoint %s not found", name)
}

var monitorT0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func testLabels(t *testing.T, s monitor.Store) {
	ctx := context.Background()
	at := func(d time.Duration) time.Time { return monitorT0.Add(d) }
	l := func(endpoint, id, value string, tm, received time.Time) monitor.Label {
		return monitor.Label{Endpoint: endpoint, RequestID: id, Value: value, Time: tm, ReceivedAt: received, Principal: "ana"}
	}
	first := []monitor.Label{
		l("churn", "r1", "1", at(0), at(time.Hour)),
		l("churn", "r2", "0", time.Time{}, at(time.Hour)), // no time
		l("churn", "r3", "spam", at(time.Minute), at(time.Hour)),
		l("fraud", "r1", "0", at(0), at(time.Hour)), // same id, another endpoint
	}
	c, err := s.PutLabels(ctx, first)
	must(t, err)
	if c != (monitor.LabelCounts{Created: 4}) {
		t.Errorf("first put: %+v, want 4 created", c)
	}
	t.Run("replaying a batch changes nothing", func(t *testing.T) {
		again := append([]monitor.Label(nil), first...)
		for i := range again {
			again[i].ReceivedAt, again[i].Principal = at(48*time.Hour), "bob"
		}
		c, err := s.PutLabels(ctx, again)
		must(t, err)
		if c != (monitor.LabelCounts{Unchanged: 4}) {
			t.Errorf("replay: %+v, want 4 unchanged", c)
		}
		got, err := s.GetLabels(ctx, "churn", []string{"r1"})
		must(t, err)
		if len(got) != 1 || got[0].Principal != "ana" || !got[0].ReceivedAt.Equal(at(time.Hour)) {
			t.Errorf("a replay rewrote the label: %+v", got)
		}
	})
	t.Run("a later label replaces", func(t *testing.T) {
		c, err := s.PutLabels(ctx, []monitor.Label{
			l("churn", "r1", "0", at(0), at(72*time.Hour)),           // a corrected value
			l("churn", "r2", "0", at(time.Minute), at(72*time.Hour)), // now with a time
			l("churn", "r4", "1", time.Time{}, at(72*time.Hour)),
		})
		must(t, err)
		if c != (monitor.LabelCounts{Created: 1, Replaced: 2}) {
			t.Errorf("put: %+v, want 1 created, 2 replaced", c)
		}
		got, err := s.GetLabels(ctx, "churn", []string{"r1", "r2", "nope"})
		must(t, err)
		byID := map[string]monitor.Label{}
		for _, g := range got {
			byID[g.RequestID] = g
		}
		if len(got) != 2 || byID["r1"].Value != "0" || !byID["r1"].ReceivedAt.Equal(at(72*time.Hour)) || !byID["r2"].Time.Equal(at(time.Minute)) {
			t.Errorf("after replacing: %+v", got)
		}
	})
	t.Run("counts, lists and times round trip", func(t *testing.T) {
		n, err := s.CountLabels(ctx, "churn")
		must(t, err)
		if n != 4 {
			t.Errorf("churn has %d labels, want 4", n)
		}
		if n, err := s.CountLabels(ctx, "nope"); err != nil || n != 0 {
			t.Errorf("count of an unknown endpoint: %d, %v", n, err)
		}
		all, err := s.ListLabels(ctx, "churn", time.Time{}, time.Time{})
		must(t, err)
		var ids []string
		for _, g := range all {
			ids = append(ids, g.RequestID)
		}
		if got := strings.Join(ids, ","); got != "r3,r1,r2,r4" {
			t.Errorf("list by receipt: %s, want r3,r1,r2,r4", got)
		}
		late, err := s.ListLabels(ctx, "churn", at(2*time.Hour), at(100*time.Hour))
		must(t, err)
		if len(late) != 3 {
			t.Errorf("received in [2h, 100h): %d, want 3", len(late))
		}
		early, err := s.ListLabels(ctx, "churn", time.Time{}, at(2*time.Hour))
		must(t, err)
		if len(early) != 1 || early[0].RequestID != "r3" || early[0].Value != "spam" || !early[0].Time.Equal(at(time.Minute)) || early[0].Principal != "ana" {
			t.Errorf("received before 2h: %+v", early)
		}
		r4, err := s.GetLabels(ctx, "churn", []string{"r4"})
		must(t, err)
		if len(r4) != 1 || !r4[0].Time.IsZero() {
			t.Errorf("a label without a time: %+v", r4)
		}
	})
	t.Run("many request ids at once", func(t *testing.T) {
		var batch []monitor.Label
		var ids []string
		for i := range 1234 {
			id := fmt.Sprintf("bulk-%04d", i)
			batch = append(batch, l("bulk", id, fmt.Sprint(i%2), time.Time{}, at(0)))
			ids = append(ids, id)
		}
		c, err := s.PutLabels(ctx, batch)
		must(t, err)
		if c.Created != 1234 {
			t.Errorf("bulk put: %+v", c)
		}
		got, err := s.GetLabels(ctx, "bulk", ids)
		must(t, err)
		if len(got) != 1234 {
			t.Errorf("GetLabels of 1234 ids found %d", len(got))
		}
	})
}

// testLateLabels: predictions logged on day 0, their labels arriving over
// the following days, some corrected, are joined by request id.
func testLateLabels(t *testing.T, s monitor.Store) {
	clock := &monitorClock{t: monitorT0}
	svc := monitor.NewService(s, monitor.Options{Now: clock.Now, Endpoints: knownEndpoints{"churn"}})
	ctx := auth.WithPrincipal(context.Background(), "labeller")
	requests := []string{"a", "b", "c", "d"}

	clock.Add(2 * 24 * time.Hour) // two days later, half the truth
	c, err := svc.PutLabels(ctx, "churn", []monitor.Label{{RequestID: "a", Value: "1"}, {RequestID: "b", Value: "0", Time: monitorT0.Add(time.Hour)}})
	must(t, err)
	if c != (monitor.LabelCounts{Endpoint: "churn", Received: 2, Created: 2, Total: 2}) {
		t.Errorf("day 2: %+v", c)
	}
	joined, err := svc.LabelsFor(ctx, "churn", requests)
	must(t, err)
	if len(joined) != 2 || joined["a"].Value != "1" || joined["b"].Value != "0" {
		t.Errorf("joined on day 2: %+v", joined)
	}
	if joined["a"].Principal != "labeller" || !joined["a"].ReceivedAt.Equal(clock.Now()) || !joined["b"].Time.Equal(monitorT0.Add(time.Hour)) {
		t.Errorf("who and when: %+v", joined)
	}

	clock.Add(3 * 24 * time.Hour) // five days later: the rest, a correction and a duplicate
	c, err = svc.PutLabels(ctx, "churn", []monitor.Label{
		{RequestID: "c", Value: " 1 "}, {RequestID: "a", Value: "0"}, {RequestID: "d", Value: "1"}, {RequestID: "d", Value: "0"}, {RequestID: "b", Value: "0", Time: monitorT0.Add(time.Hour)},
	})
	must(t, err)
	if c != (monitor.LabelCounts{Endpoint: "churn", Received: 5, Created: 2, Replaced: 1, Unchanged: 2, Total: 4}) {
		t.Errorf("day 5: %+v", c)
	}
	joined, err = svc.LabelsFor(ctx, "churn", requests)
	must(t, err)
	want := map[string]string{"a": "0", "b": "0", "c": "1", "d": "0"}
	for id, v := range want {
		if joined[id].Value != v {
			t.Errorf("request %s joined with %q, want %q", id, joined[id].Value, v)
		}
	}
	if !joined["b"].ReceivedAt.Equal(monitorT0.Add(2 * 24 * time.Hour)) {
		t.Errorf("an unchanged label was rewritten: %+v", joined["b"])
	}
	recent, err := svc.Labels(ctx, "churn", monitorT0.Add(4*24*time.Hour), time.Time{})
	must(t, err)
	if len(recent) != 3 {
		t.Errorf("labels received since day 4: %d, want 3 (a, c, d)", len(recent))
	}
}

func testLabelValidation(t *testing.T, s monitor.Store) {
	svc := monitor.NewService(s, monitor.Options{Endpoints: knownEndpoints{"churn"}})
	ctx := context.Background()
	long := strings.Repeat("x", monitor.MaxRequestIDBytes+1)
	tests := []struct {
		name     string
		endpoint string
		labels   []monitor.Label
		code     string
		want     string
	}{
		{"no endpoint", "", []monitor.Label{{RequestID: "a", Value: "1"}}, ferry.EINVALID, "name the endpoint"},
		{"unknown endpoint", "nope", []monitor.Label{{RequestID: "a", Value: "1"}}, ferry.ENOTFOUND, "nope"},
		{"empty batch", "churn", nil, ferry.EINVALID, "empty"},
		{"no request id", "churn", []monitor.Label{{RequestID: "a", Value: "1"}, {RequestID: " ", Value: "1"}}, ferry.EINVALID, "labels[1]: request_id is required"},
		{"no label", "churn", []monitor.Label{{RequestID: "r-9", Value: ""}}, ferry.EINVALID, `labels[0] (request_id "r-9"): label is required`},
		{"request id too long", "churn", []monitor.Label{{RequestID: long, Value: "1"}}, ferry.EINVALID, "at most 256"},
		{"label too long", "churn", []monitor.Label{{RequestID: "a", Value: strings.Repeat("y", monitor.MaxLabelBytes+1)}}, ferry.EINVALID, "label is 1025 bytes"},
		{"control characters", "churn", []monitor.Label{{RequestID: "a\nb", Value: "1"}}, ferry.EINVALID, "control characters"},
		{"too many", "churn", make([]monitor.Label, monitor.MaxLabels+1), ferry.ETOOLARGE, "at most 100000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.PutLabels(ctx, tt.endpoint, tt.labels)
			wantCode(t, err, tt.code)
			if !strings.Contains(ferry.ErrorMessage(err), tt.want) {
				t.Errorf("message %q does not say %q", ferry.ErrorMessage(err), tt.want)
			}
		})
	}
	if n, err := svc.CountLabels(ctx, "churn"); err != nil || n != 0 {
		t.Errorf("a refused batch stored %d labels (%v)", n, err)
	}
}

// windowFrame is rows [from, to) of a deterministic frame: a numeric
// column with missing values and values outside any baseline's range, a
// categorical one and a timestamp.
func windowFrame(t *testing.T, from, to int) *dataset.Frame {
	t.Helper()
	var x []float64
	var c []string
	var ts []time.Time
	cats := []string{"a", "b", "c", "d"}
	for i := from; i < to; i++ {
		v := math.Sin(float64(i)*0.7)*10 + float64(i%13)
		switch {
		case i%17 == 0:
			v = math.NaN()
		case i%29 == 0 && i < 5000: // outside the baseline's range
			v = 1e6
		}
		x = append(x, v)
		cat := cats[(i*7+i/5)%len(cats)]
		if i%23 == 0 {
			cat = ""
		}
		c = append(c, cat)
		ts = append(ts, monitorT0.Add(time.Duration(i)*time.Second))
	}
	f, err := dataset.NewFrame(dataset.NewNumeric("x", x), dataset.NewCategorical("c", c), dataset.NewTimestamp("ts", ts))
	must(t, err)
	return f
}

func profileOf(t *testing.T, f *dataset.Frame, edges dataset.Edges) dataset.Profile {
	t.Helper()
	p, err := dataset.ProfileWithEdges(f, edges)
	must(t, err)
	return p
}

// sameProfile fails unless got is want: equal JSON once the floating-point
// moments, which a merge reproduces only up to rounding, are compared
// within 1e-12.
func sameProfile(t *testing.T, got, want dataset.Profile) {
	t.Helper()
	type moments struct{ mean, std float64 }
	strip := func(p dataset.Profile) (string, map[string]moments) {
		p.Columns = append([]dataset.ColumnProfile(nil), p.Columns...)
		m := map[string]moments{}
		for i, c := range p.Columns {
			if c.Numeric != nil {
				n := *c.Numeric
				m[c.Name] = moments{n.Mean, n.Std}
				n.Mean, n.Std, n.Sum, n.SumErr, n.M2 = 0, 0, 0, 0, 0
				p.Columns[i].Numeric = &n
			}
		}
		b, err := json.Marshal(p)
		must(t, err)
		return string(b), m
	}
	g, gm := strip(got)
	w, wm := strip(want)
	if g != w {
		t.Fatalf("merged profile differs from the profile of all rows:\n got %s\nwant %s", g, w)
	}
	for name, wv := range wm {
		gv := gm[name]
		if math.Abs(gv.mean-wv.mean) > 1e-12*math.Max(1, math.Abs(wv.mean)) || math.Abs(gv.std-wv.std) > 1e-12*math.Max(1, wv.std) {
			t.Errorf("column %s: mean/std %v/%v, want %v/%v", name, gv.mean, gv.std, wv.mean, wv.std)
		}
	}
}

// testProfileReplicas: two replicas (two handles on one database, as two
// servers) each store their own profile of the same window, concurrently
// and repeatedly as rows arrive (each call adding the rows since the last);
// a reader anywhere gets the profile of all their rows.
func testProfileReplicas(t *testing.T, open func(t *testing.T) (monitor.Store, func() monitor.Store)) {
	ctx := context.Background()
	s1, another := open(t)
	s2 := another()
	clock := &monitorClock{t: monitorT0.Add(90 * time.Minute)}
	r1 := monitor.NewService(s1, monitor.Options{Source: "replica-1", Now: clock.Now})
	r2 := monitor.NewService(s2, monitor.Options{Source: "replica-2", Now: clock.Now})
	baseline := windowFrame(t, 5000, 6000).Profile() // the training profile's edges
	edges := baseline.Edges()
	window := r1.WindowStart(clock.Now())
	if !window.Equal(monitorT0.Add(time.Hour)) {
		t.Fatalf("window start %v", window)
	}
	// Replica 1 sees rows [0, 700), replica 2 rows [700, 1000); each
	// sends the rows it saw since its last call, three times, as its
	// collector does.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, part := range []struct {
		svc      *monitor.Service
		from, to int
	}{{r1, 0, 700}, {r2, 700, 1000}} {
		wg.Go(func() {
			for step := 1; step <= 3; step++ {
				from := part.from + (part.to-part.from)*(step-1)/3
				to := part.from + (part.to-part.from)*step/3
				if err := part.svc.PutProfile(ctx, "churn", "blue", window, profileOf(t, windowFrame(t, from, to), edges)); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	must(t, errs[0])
	must(t, errs[1])
	// Another deployment's window is not mixed in.
	must(t, r1.PutProfile(ctx, "churn", "green", window, profileOf(t, windowFrame(t, 0, 10), edges)))

	want := profileOf(t, windowFrame(t, 0, 1000), edges)
	for i, r := range []*monitor.Service{r1, r2} {
		t.Run(fmt.Sprintf("read by replica %d", i+1), func(t *testing.T) {
			ws, err := r.Profiles(ctx, "churn", "blue", time.Time{}, time.Time{})
			must(t, err)
			if len(ws) != 1 {
				t.Fatalf("%d windows, want 1", len(ws))
			}
			w := ws[0]
			if w.Rows != 1000 || w.Profile.Rows != 1000 || strings.Join(w.Sources, ",") != "replica-1,replica-2" || !w.Start.Equal(window) || w.Seconds != 3600 || !w.UpdatedAt.Equal(clock.Now()) {
				t.Errorf("window %+v", struct {
					Rows    int64
					Sources []string
					Start   time.Time
					Seconds int64
				}{w.Rows, w.Sources, w.Start, w.Seconds})
			}
			sameProfile(t, w.Profile, want)
		})
	}
	t.Run("every deployment", func(t *testing.T) {
		ws, err := r1.Profiles(ctx, "churn", "", time.Time{}, time.Time{})
		must(t, err)
		if len(ws) != 2 || ws[0].Deployment != "blue" || ws[1].Deployment != "green" || ws[1].Rows != 10 {
			t.Errorf("windows of every deployment: %d", len(ws))
		}
	})
	t.Run("profiles that do not merge", func(t *testing.T) {
		other := profileOf(t, windowFrame(t, 0, 100), nil) // its own edges
		must(t, r2.PutProfile(ctx, "churn", "green", window, other))
		_, err := r1.Profiles(ctx, "churn", "green", time.Time{}, time.Time{})
		wantCode(t, err, ferry.EINVALID)
		if !strings.Contains(ferry.ErrorMessage(err), "churn/green") {
			t.Errorf("the error does not name the window: %v", err)
		}
	})
}

// testProfileRanges: windows over several hours, merged for any range,
// equal the profile of the range's rows.
func testProfileRanges(t *testing.T, s monitor.Store) {
	ctx := context.Background()
	svc := monitor.NewService(s, monitor.Options{Source: "only", Now: func() time.Time { return monitorT0 }})
	edges := windowFrame(t, 5000, 6000).Profile().Edges()
	for h := range 5 {
		start := monitorT0.Add(time.Duration(h) * time.Hour)
		must(t, svc.PutProfile(ctx, "churn", "blue", start, profileOf(t, windowFrame(t, h*200, (h+1)*200), edges)))
	}
	tests := []struct {
		name     string
		from, to time.Time
		windows  int
		rows     [2]int
	}{
		{"all", time.Time{}, time.Time{}, 5, [2]int{0, 1000}},
		{"hours 1 to 3", monitorT0.Add(time.Hour), monitorT0.Add(4 * time.Hour), 3, [2]int{200, 800}},
		{"from hour 4", monitorT0.Add(4 * time.Hour), time.Time{}, 1, [2]int{800, 1000}},
		{"a range inside one window starts none", monitorT0.Add(time.Minute), monitorT0.Add(time.Hour), 0, [2]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, err := svc.Profiles(ctx, "churn", "blue", tt.from, tt.to)
			must(t, err)
			if len(ws) != tt.windows {
				t.Fatalf("%d windows, want %d", len(ws), tt.windows)
			}
			for i := 1; i < len(ws); i++ {
				if !ws[i-1].Start.Before(ws[i].Start) {
					t.Errorf("windows out of order: %v, %v", ws[i-1].Start, ws[i].Start)
				}
			}
			p, err := svc.ProfileRange(ctx, "churn", "blue", tt.from, tt.to)
			must(t, err)
			if tt.windows == 0 {
				if p.Rows != 0 || len(p.Columns) != 0 {
					t.Errorf("an empty range: %+v", p)
				}
				return
			}
			sameProfile(t, p, profileOf(t, windowFrame(t, tt.rows[0], tt.rows[1]), edges))
		})
	}
	t.Run("invalid", func(t *testing.T) {
		wantCode(t, svc.PutProfile(ctx, "churn", "", monitorT0, dataset.Profile{}), ferry.EINVALID)
		wantCode(t, svc.PutProfile(ctx, "churn", "blue", time.Time{}, dataset.Profile{}), ferry.EINVALID)
		_, err := svc.Profiles(ctx, "", "", time.Time{}, time.Time{})
		wantCode(t, err, ferry.EINVALID)
	})
}
