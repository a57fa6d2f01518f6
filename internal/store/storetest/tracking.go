// Package storetest is the conformance suite every Store backend passes. Each
// backend's tests call the Run functions with a constructor for a fresh, empty
// store.
package storetest

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// RunTracking checks a tracking.Store through the tracking.Service. open must
// return a new, empty store for each call.
func RunTracking(t *testing.T, open func(t *testing.T) tracking.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *tracking.Service)
	}{
		{"Experiments", testExperiments},
		{"ExperimentLifecycle", testExperimentLifecycle},
		{"SearchExperiments", testSearchExperiments},
		{"RunLifecycle", testRunLifecycle},
		{"LogBatch", testLogBatch},
		{"ParamsImmutable", testParamsImmutable},
		{"MetricValues", testMetricValues},
		{"LatestMetric", testLatestMetric},
		{"Tags", testTags},
		{"Inputs", testInputs},
		{"SearchRuns", testSearchRuns},
		{"SearchRunsOrderAndPages", testSearchRunsOrderAndPages},
		{"ConcurrentWrites", testConcurrentWrites},
		{"LoggedModels", testLoggedModels},
		{"LoggedModelTagsAndParams", testLoggedModelTagsAndParams},
		{"SearchLoggedModels", testSearchLoggedModels},
		{"LogOutputs", testLogOutputs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			s := tracking.NewService(open(t), tracking.Options{Now: clock.Now})
			if err := s.EnsureDefaultExperiment(context.Background()); err != nil {
				t.Fatalf("EnsureDefaultExperiment: %v", err)
			}
			tt.fn(t, s)
		})
	}
	t.Run("RunIDPrefixes", func(t *testing.T) { testRunIDPrefixes(t, open(t)) })
}

// testRunIDPrefixes: runs are found by a unique prefix of their ID of at
// least tracking.MinRunIDPrefix characters, as git finds commits; the store
// is given chosen IDs so that prefixes collide.
func testRunIDPrefixes(t *testing.T, store tracking.Store) {
	ctx := context.Background()
	s := tracking.NewService(store, tracking.Options{})
	if err := s.EnsureDefaultExperiment(ctx); err != nil {
		t.Fatal(err)
	}
	ids := []string{
		"0123456789abcdef0123456789abcdef",
		"0123456789abcdef0123456789abcd00", // shares 30 characters with the first
		"abcdef0123456789abcdef0123456789",
		"abcdef01ffffffffffffffffffffffff", // shares 8 with the one above
		"a_cdef01ffffffffffffffffffffffff", // LIKE's wildcard, stored literally
	}
	for _, id := range ids {
		run := tracking.Run{Info: tracking.RunInfo{RunID: id, ExperimentID: tracking.DefaultExperimentID, Status: tracking.StatusRunning,
			StartTime: 1, ArtifactURI: "mlflow-artifacts:/0/" + id + "/artifacts", LifecycleStage: tracking.StageActive, RunName: "r-" + id[:4]}}
		if err := store.CreateRun(ctx, run); err != nil {
			t.Fatalf("CreateRun(%s): %v", id, err)
		}
	}
	if err := s.DeleteRun(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref, want, code, msg string
	}{
		{name: "full id", ref: ids[0], want: ids[0]},
		{name: "unique prefix", ref: "0123456789abcdef0123456789abcde", want: ids[0]},
		{name: "deleted run", ref: "abcdef0123", want: ids[2]},
		{name: "eight characters", ref: "abcdef01f", want: ids[3]},
		{name: "ambiguous", ref: "0123456789abcdef", code: ferry.EINVALID, msg: "matches runs " + ids[1] + ", " + ids[0]},
		{name: "ambiguous at eight", ref: "abcdef01", code: ferry.EINVALID, msg: "ambiguous"},
		{name: "too short", ref: "0123456", code: ferry.EINVALID, msg: "at least 8 characters"},
		{name: "no match", ref: "ffffffff", code: ferry.ENOTFOUND},
		{name: "upper case: left to the lookup", ref: "0123456789ABCDEF", want: "0123456789ABCDEF"},
		{name: "wildcards are literal", ref: "a%cdef01", want: "a%cdef01"},
		{name: "not hex: left to the lookup", ref: "run-1", want: "run-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ResolveRunID(ctx, tt.ref)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				if !strings.Contains(ferry.ErrorMessage(err), tt.msg) {
					t.Fatalf("message %q lacks %q", ferry.ErrorMessage(err), tt.msg)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResolveRunID(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
			}
		})
	}
	// The store matches its prefix literally, wildcards included.
	got, err := store.RunIDsWithPrefix(ctx, "a_cdef01", 10)
	if err != nil || fmt.Sprint(got) != "["+ids[4]+"]" {
		t.Fatalf("RunIDsWithPrefix(a_cdef01) = %v, %v", got, err)
	}
	if got, err := store.RunIDsWithPrefix(ctx, "0123", 1); err != nil || len(got) != 1 {
		t.Fatalf("RunIDsWithPrefix with limit 1 = %v, %v", got, err)
	}
}

// fakeClock advances a millisecond on every reading, so times are distinct
// and ordered.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := ferry.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testExperiments(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	def, err := s.GetExperiment(ctx, tracking.DefaultExperimentID)
	must(t, err)
	if def.Name != "Default" || def.LifecycleStage != tracking.StageActive || def.ArtifactLocation != "mlflow-artifacts:/0" {
		t.Fatalf("default experiment = %+v", def)
	}
	must(t, s.EnsureDefaultExperiment(ctx)) // idempotent

	id, err := s.CreateExperiment(ctx, "churn", "", []tracking.Tag{{Key: "team", Value: "growth"}})
	must(t, err)
	if id == "" || id == "0" {
		t.Fatalf("new experiment id = %q", id)
	}
	_, err = s.CreateExperiment(ctx, "churn", "", nil)
	wantCode(t, err, ferry.ECONFLICT)
	_, err = s.CreateExperiment(ctx, "  ", "", nil)
	wantCode(t, err, ferry.EINVALID)

	got, err := s.GetExperimentByName(ctx, "churn")
	must(t, err)
	if got.ID != id || got.ArtifactLocation != "mlflow-artifacts:/"+id || len(got.Tags) != 1 || got.Tags[0].Value != "growth" {
		t.Fatalf("GetExperimentByName = %+v", got)
	}
	if got.CreationTime == 0 || got.LastUpdateTime < got.CreationTime {
		t.Fatalf("times = %d, %d", got.CreationTime, got.LastUpdateTime)
	}
	custom, err := s.CreateExperiment(ctx, "custom", "s3://bucket/custom", nil)
	must(t, err)
	if e, _ := s.GetExperiment(ctx, custom); e.ArtifactLocation != "s3://bucket/custom" {
		t.Fatalf("artifact location = %q", e.ArtifactLocation)
	}

	_, err = s.GetExperiment(ctx, "424242")
	wantCode(t, err, ferry.ENOTFOUND)
	_, err = s.GetExperiment(ctx, "not-a-number")
	wantCode(t, err, ferry.ENOTFOUND)
	_, err = s.GetExperimentByName(ctx, "nope")
	wantCode(t, err, ferry.ENOTFOUND)

	must(t, s.RenameExperiment(ctx, id, "churn-v2"))
	wantCode(t, s.RenameExperiment(ctx, id, "custom"), ferry.ECONFLICT)
	wantCode(t, s.RenameExperiment(ctx, "999", "x"), ferry.ENOTFOUND)
	if e, _ := s.GetExperiment(ctx, id); e.Name != "churn-v2" {
		t.Fatalf("renamed to %q", e.Name)
	}
	must(t, s.SetExperimentTag(ctx, id, tracking.Tag{Key: "team", Value: "core"}))
	if e, _ := s.GetExperiment(ctx, id); len(e.Tags) != 1 || e.Tags[0].Value != "core" {
		t.Fatalf("tags = %+v", e.Tags)
	}
}

func testExperimentLifecycle(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	id, err := s.CreateExperiment(ctx, "life", "", nil)
	must(t, err)
	run, err := s.CreateRun(ctx, tracking.RunCreate{ExperimentID: id})
	must(t, err)
	// MLflow's SQL store deletes the Default experiment like any other, and
	// restores it.
	must(t, s.DeleteExperiment(ctx, tracking.DefaultExperimentID))
	if e, _ := s.GetExperiment(ctx, tracking.DefaultExperimentID); e.LifecycleStage != tracking.StageDeleted {
		t.Fatalf("default experiment stage after delete = %q", e.LifecycleStage)
	}
	must(t, s.RestoreExperiment(ctx, tracking.DefaultExperimentID))
	must(t, s.DeleteExperiment(ctx, id))
	e, err := s.GetExperiment(ctx, id)
	must(t, err)
	if e.LifecycleStage != tracking.StageDeleted {
		t.Fatalf("stage = %q", e.LifecycleStage)
	}
	r, err := s.GetRun(ctx, run.Info.RunID)
	must(t, err)
	if r.Info.LifecycleStage != tracking.StageDeleted {
		t.Fatalf("run stage after experiment delete = %q", r.Info.LifecycleStage)
	}
	_, err = s.CreateRun(ctx, tracking.RunCreate{ExperimentID: id})
	wantCode(t, err, ferry.EINVALID)
	wantCode(t, s.SetExperimentTag(ctx, id, tracking.Tag{Key: "a", Value: "b"}), ferry.EINVALID)
	must(t, s.RestoreExperiment(ctx, id))
	if r, _ := s.GetRun(ctx, run.Info.RunID); r.Info.LifecycleStage != tracking.StageActive {
		t.Fatalf("run stage after restore = %q", r.Info.LifecycleStage)
	}
	wantCode(t, s.DeleteExperiment(ctx, "777"), ferry.ENOTFOUND)
}

func testSearchExperiments(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	for i := range 5 {
		_, err := s.CreateExperiment(ctx, fmt.Sprintf("exp-%d", i), "", []tracking.Tag{{Key: "parity", Value: []string{"even", "odd"}[i%2]}})
		must(t, err)
	}
	gone, err := s.GetExperimentByName(ctx, "exp-4")
	must(t, err)
	must(t, s.DeleteExperiment(ctx, gone.ID))

	names := func(exps []tracking.Experiment) []string {
		var out []string
		for _, e := range exps {
			out = append(out, e.Name)
		}
		return out
	}
	tests := []struct {
		name string
		req  tracking.ExperimentSearch
		want []string
	}{
		{"all active by default, newest first", tracking.ExperimentSearch{}, []string{"exp-3", "exp-2", "exp-1", "exp-0", "Default"}},
		{"name like", tracking.ExperimentSearch{Filter: "name LIKE 'exp-%'", OrderBy: []string{"name ASC"}}, []string{"exp-0", "exp-1", "exp-2", "exp-3"}},
		{"tag", tracking.ExperimentSearch{Filter: "tags.parity = 'odd'", OrderBy: []string{"name"}}, []string{"exp-1", "exp-3"}},
		{"deleted only", tracking.ExperimentSearch{ViewType: "DELETED_ONLY"}, []string{"exp-4"}},
		{"all", tracking.ExperimentSearch{ViewType: "ALL", Filter: "name = 'exp-4'"}, []string{"exp-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := s.SearchExperiments(ctx, tt.req)
			must(t, err)
			if fmt.Sprint(names(got)) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", names(got), tt.want)
			}
		})
	}
	var all []string
	tok := ""
	for {
		page, next, err := s.SearchExperiments(ctx, tracking.ExperimentSearch{MaxResults: 2, PageToken: tok, OrderBy: []string{"name DESC"}})
		must(t, err)
		all = append(all, names(page)...)
		if next == "" {
			break
		}
		tok = next
	}
	if fmt.Sprint(all) != "[exp-3 exp-2 exp-1 exp-0 Default]" {
		t.Fatalf("pages = %v", all)
	}
	_, _, err = s.SearchExperiments(ctx, tracking.ExperimentSearch{PageToken: "!!"})
	wantCode(t, err, ferry.EINVALID)
	_, _, err = s.SearchExperiments(ctx, tracking.ExperimentSearch{Filter: "name ~ 'x'"})
	wantCode(t, err, ferry.EINVALID)
}

func testRunLifecycle(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{UserID: "ada", Tags: []tracking.Tag{
		{Key: tracking.TagRunName, Value: "first"}, {Key: tracking.TagGitCommit, Value: "abc123"},
	}})
	must(t, err)
	in := run.Info
	if in.ExperimentID != "0" || in.Status != tracking.StatusRunning || in.RunName != "first" || in.UserID != "ada" ||
		in.LifecycleStage != tracking.StageActive || in.StartTime == 0 || in.EndTime != 0 || len(in.RunID) != 32 {
		t.Fatalf("created run info = %+v", in)
	}
	if in.ArtifactURI != "mlflow-artifacts:/0/"+in.RunID+"/artifacts" {
		t.Fatalf("artifact uri = %q", in.ArtifactURI)
	}
	if v, _ := run.Tag(tracking.TagRunName); v != "first" {
		t.Fatalf("runName tag = %q", v)
	}
	if v, _ := run.Tag(tracking.TagGitCommit); v != "abc123" {
		t.Fatalf("git tag = %q", v)
	}
	generated, err := s.CreateRun(ctx, tracking.RunCreate{})
	must(t, err)
	if generated.Info.RunName == "" {
		t.Fatal("no generated run name")
	}
	_, err = s.CreateRun(ctx, tracking.RunCreate{ExperimentID: "31337"})
	wantCode(t, err, ferry.ENOTFOUND)

	info, err := s.UpdateRun(ctx, in.RunID, tracking.RunUpdate{Status: tracking.StatusFinished, EndTime: in.StartTime + 5000, RunName: "renamed"})
	must(t, err)
	if info.Status != tracking.StatusFinished || info.EndTime != in.StartTime+5000 || info.RunName != "renamed" {
		t.Fatalf("updated info = %+v", info)
	}
	if r, _ := s.GetRun(ctx, in.RunID); func() string { v, _ := r.Tag(tracking.TagRunName); return v }() != "renamed" {
		t.Fatal("runName tag not updated")
	}
	_, err = s.UpdateRun(ctx, in.RunID, tracking.RunUpdate{Status: "DONE"})
	wantCode(t, err, ferry.EINVALID)
	_, err = s.UpdateRun(ctx, "0123456789abcdef0123456789abcdef", tracking.RunUpdate{Status: tracking.StatusFailed})
	wantCode(t, err, ferry.ENOTFOUND)

	must(t, s.DeleteRun(ctx, in.RunID))
	r, err := s.GetRun(ctx, in.RunID)
	must(t, err)
	if r.Info.LifecycleStage != tracking.StageDeleted {
		t.Fatalf("stage = %q", r.Info.LifecycleStage)
	}
	wantCode(t, s.LogMetric(ctx, in.RunID, tracking.Metric{Key: "m", Value: 1}), ferry.EINVALID)
	must(t, s.RestoreRun(ctx, in.RunID))
	must(t, s.LogMetric(ctx, in.RunID, tracking.Metric{Key: "m", Value: 1}))
	wantCode(t, s.DeleteRun(ctx, "missing"), ferry.ENOTFOUND)
	_, err = s.GetRun(ctx, "missing")
	wantCode(t, err, ferry.ENOTFOUND)
}

func testLogBatch(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{})
	must(t, err)
	id := run.Info.RunID
	var metrics []tracking.Metric
	for i := range 1000 {
		metrics = append(metrics, tracking.Metric{Key: "loss", Value: 1 / float64(i+1), Timestamp: int64(1000 + i), Step: int64(i)})
	}
	must(t, s.LogBatch(ctx, id, metrics, nil, nil))
	must(t, s.LogBatch(ctx, id, nil, make100Params(), []tracking.Tag{{Key: "stage", Value: "dev"}}))
	wantCode(t, s.LogBatch(ctx, id, metrics, []tracking.Param{{Key: "lr", Value: "0.1"}}, nil), ferry.EINVALID) // 1,001 entities
	hist, _, err := s.MetricHistory(ctx, id, "loss", "", 0)
	must(t, err)
	if len(hist) != 1000 || hist[0].Step != 0 || hist[999].Step != 999 || hist[999].Value != 1.0/1000 {
		t.Fatalf("history: %d points, first %+v", len(hist), hist[0])
	}
	// A retried batch stores no duplicate points.
	must(t, s.LogBatch(ctx, id, metrics[:10], nil, nil))
	hist, _, _ = s.MetricHistory(ctx, id, "loss", "", 0)
	if len(hist) != 1000 {
		t.Fatalf("after retry: %d points", len(hist))
	}
	page, next, err := s.MetricHistory(ctx, id, "loss", "", 300)
	must(t, err)
	if len(page) != 300 || next == "" {
		t.Fatalf("page of %d, next %q", len(page), next)
	}
	page, _, err = s.MetricHistory(ctx, id, "loss", next, 300)
	must(t, err)
	if page[0].Step != 300 {
		t.Fatalf("second page starts at step %d", page[0].Step)
	}
	empty, _, err := s.MetricHistory(ctx, id, "nope", "", 0)
	must(t, err)
	if len(empty) != 0 {
		t.Fatalf("unknown key gave %d points", len(empty))
	}
	_, _, err = s.MetricHistory(ctx, "missing", "loss", "", 0)
	wantCode(t, err, ferry.ENOTFOUND)

	tests := []struct {
		name    string
		metrics []tracking.Metric
		params  []tracking.Param
		tags    []tracking.Tag
	}{
		{"too many metrics", make([]tracking.Metric, 1001), nil, nil},
		{"too many params", nil, make([]tracking.Param, 101), nil},
		{"too many tags", nil, nil, make([]tracking.Tag, 101)},
		{"bad metric key", []tracking.Metric{{Key: "a\x00b"}}, nil, nil},
		{"traversing key", []tracking.Metric{{Key: "../x"}}, nil, nil},
		{"empty param key", nil, []tracking.Param{{Key: ""}}, nil},
		{"long param value", nil, []tracking.Param{{Key: "p", Value: string(make([]byte, 6001))}}, nil},
		{"long tag value", nil, nil, []tracking.Tag{{Key: "t", Value: string(make([]byte, 8001))}}},
		{"long key", []tracking.Metric{{Key: string(make([]byte, 251))}}, nil, nil},
		{"conflicting params in one batch", nil, []tracking.Param{{Key: "p", Value: "1"}, {Key: "p", Value: "2"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.metrics {
				if tt.metrics[i].Key == "" {
					tt.metrics[i].Key = "ok"
				}
			}
			for i := range tt.params {
				if tt.params[i].Key == "" && tt.name != "empty param key" {
					tt.params[i].Key = fmt.Sprintf("p%d", i)
				}
			}
			for i := range tt.tags {
				if tt.tags[i].Key == "" {
					tt.tags[i].Key = fmt.Sprintf("t%d", i)
				}
			}
			wantCode(t, s.LogBatch(ctx, id, tt.metrics, tt.params, tt.tags), ferry.EINVALID)
		})
	}
	wantCode(t, s.LogBatch(ctx, "missing", metrics[:1], nil, nil), ferry.ENOTFOUND)
	r, err := s.GetRun(ctx, id)
	must(t, err)
	if _, ok := r.Metric("ok"); ok {
		t.Fatal("a rejected batch left a metric behind")
	}
}

func make100Params() []tracking.Param {
	ps := make([]tracking.Param, 100)
	for i := range ps {
		ps[i] = tracking.Param{Key: fmt.Sprintf("p%03d", i), Value: fmt.Sprint(i)}
	}
	return ps
}

func testParamsImmutable(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{})
	must(t, err)
	id := run.Info.RunID
	must(t, s.LogParam(ctx, id, tracking.Param{Key: "lr", Value: "0.1"}))
	must(t, s.LogParam(ctx, id, tracking.Param{Key: "lr", Value: "0.1"})) // same value again is fine
	err = s.LogBatch(ctx, id,
		[]tracking.Metric{{Key: "half", Value: 1, Timestamp: 1}},
		[]tracking.Param{{Key: "depth", Value: "3"}, {Key: "lr", Value: "0.2"}},
		[]tracking.Tag{{Key: "half", Value: "written"}})
	wantCode(t, err, ferry.EINVALID)
	r, err := s.GetRun(ctx, id)
	must(t, err)
	if _, ok := r.Param("depth"); ok {
		t.Fatal("param of a rejected batch was stored")
	}
	if _, ok := r.Tag("half"); ok {
		t.Fatal("tag of a rejected batch was stored")
	}
	if _, ok := r.Metric("half"); ok {
		t.Fatal("metric of a rejected batch was stored")
	}
	if v, _ := r.Param("lr"); v != "0.1" {
		t.Fatalf("lr = %q", v)
	}
}

func testMetricValues(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{})
	must(t, err)
	id := run.Info.RunID
	vals := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.5, 1e308, 5e-324}
	for i, v := range vals {
		must(t, s.LogMetric(ctx, id, tracking.Metric{Key: "weird", Value: v, Timestamp: 10, Step: int64(i)}))
	}
	hist, _, err := s.MetricHistory(ctx, id, "weird", "", 0)
	must(t, err)
	if len(hist) != len(vals) {
		t.Fatalf("%d points", len(hist))
	}
	for i, v := range vals {
		got := hist[i].Value
		if !(got == v || math.IsNaN(got) && math.IsNaN(v)) {
			t.Errorf("point %d = %v, want %v", i, got, v)
		}
	}
	must(t, s.LogMetric(ctx, id, tracking.Metric{Key: "nan", Value: math.NaN(), Timestamp: 1}))
	r, _ := s.GetRun(ctx, id)
	if m, ok := r.Metric("nan"); !ok || !math.IsNaN(m.Value) {
		t.Fatalf("latest NaN = %+v", m)
	}
	// A point without a timestamp gets the service clock's.
	must(t, s.LogMetric(ctx, id, tracking.Metric{Key: "now", Value: 1}))
	r, _ = s.GetRun(ctx, id)
	if m, _ := r.Metric("now"); m.Timestamp == 0 {
		t.Fatal("timestamp not defaulted")
	}
}

func testLatestMetric(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{})
	must(t, err)
	id := run.Info.RunID
	steps := []tracking.Metric{
		{Key: "acc", Value: 0.5, Step: 5, Timestamp: 100},
		{Key: "acc", Value: 0.9, Step: 3, Timestamp: 900}, // older step, later time: not latest
		{Key: "acc", Value: 0.7, Step: 5, Timestamp: 200}, // same step, later time: latest
	}
	for _, m := range steps {
		must(t, s.LogMetric(ctx, id, m))
	}
	r, err := s.GetRun(ctx, id)
	must(t, err)
	if m, _ := r.Metric("acc"); m.Value != 0.7 || m.Step != 5 || m.Timestamp != 200 {
		t.Fatalf("latest = %+v", m)
	}
}

func testTags(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{})
	must(t, err)
	id := run.Info.RunID
	must(t, s.SetTag(ctx, id, tracking.Tag{Key: "note", Value: "a"}))
	must(t, s.SetTag(ctx, id, tracking.Tag{Key: "note", Value: "b"}))
	r, _ := s.GetRun(ctx, id)
	if v, _ := r.Tag("note"); v != "b" {
		t.Fatalf("note = %q", v)
	}
	must(t, s.SetTag(ctx, id, tracking.Tag{Key: tracking.TagRunName, Value: "via-tag"}))
	r, _ = s.GetRun(ctx, id)
	if r.Info.RunName != "via-tag" {
		t.Fatalf("run name = %q", r.Info.RunName)
	}
	must(t, s.DeleteTag(ctx, id, "note"))
	wantCode(t, s.DeleteTag(ctx, id, "note"), ferry.ENOTFOUND)
	wantCode(t, s.DeleteTag(ctx, "missing", "note"), ferry.ENOTFOUND)
}

func testInputs(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	run, err := s.CreateRun(ctx, tracking.RunCreate{})
	must(t, err)
	id := run.Info.RunID
	in := tracking.DatasetInput{
		Tags:    []tracking.Tag{{Key: "mlflow.data.context", Value: "training"}},
		Dataset: tracking.Dataset{Name: "flights", Digest: "d41d8cd9", SourceType: "local", Source: `{"uri":"data.parquet"}`, Schema: "{}", Profile: "{}"},
	}
	must(t, s.LogInputs(ctx, id, []tracking.DatasetInput{in}))
	must(t, s.LogInputs(ctx, id, []tracking.DatasetInput{in})) // idempotent
	r, _ := s.GetRun(ctx, id)
	if len(r.Inputs) != 1 || r.Inputs[0].Dataset != in.Dataset || len(r.Inputs[0].Tags) != 1 {
		t.Fatalf("inputs = %+v", r.Inputs)
	}
	wantCode(t, s.LogInputs(ctx, id, []tracking.DatasetInput{{Dataset: tracking.Dataset{Name: "x"}}}), ferry.EINVALID)
	wantCode(t, s.LogInputs(ctx, "missing", []tracking.DatasetInput{in}), ferry.ENOTFOUND)
}

// seedRuns creates n runs in a new experiment with params lr, metrics acc and
// tags family, and returns the experiment ID and run IDs in creation order.
func seedRuns(t *testing.T, s *tracking.Service, name string, n int) (string, []string) {
	ctx := context.Background()
	exp, err := s.CreateExperiment(ctx, name, "", nil)
	must(t, err)
	var ids []string
	for i := range n {
		run, err := s.CreateRun(ctx, tracking.RunCreate{ExperimentID: exp, RunName: fmt.Sprintf("run-%02d", i)})
		must(t, err)
		id := run.Info.RunID
		ids = append(ids, id)
		family := []string{"Alpha", "alpha", "beta"}[i%3]
		must(t, s.LogBatch(ctx, id,
			[]tracking.Metric{{Key: "acc", Value: float64(i) / float64(n), Timestamp: 1}},
			[]tracking.Param{{Key: "lr", Value: fmt.Sprint([]float64{0.1, 0.01}[i%2])}},
			[]tracking.Tag{{Key: "family", Value: family}}))
		if i%2 == 0 {
			_, err := s.UpdateRun(ctx, id, tracking.RunUpdate{Status: tracking.StatusFinished, EndTime: 99})
			must(t, err)
		}
	}
	return exp, ids
}

func testSearchRuns(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	exp, ids := seedRuns(t, s, "search", 10)
	must(t, s.LogInputs(ctx, ids[3], []tracking.DatasetInput{{Dataset: tracking.Dataset{Name: "flights", Digest: "abc"}}}))
	must(t, s.DeleteRun(ctx, ids[9]))

	tests := []struct {
		name, filter, view string
		want               []int // indexes into ids, in default order (newest first)
	}{
		{"everything active", "", "", []int{8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"metric", "metrics.acc > 0.5", "", []int{8, 7, 6}},
		{"metric equal", "metrics.acc = 0.2", "", []int{2}},
		{"param", "params.lr = '0.1'", "", []int{8, 6, 4, 2, 0}},
		{"tag like is case sensitive", "tags.family LIKE 'al%'", "", []int{7, 4, 1}},
		{"tag ilike", "tags.family ILIKE 'AL%'", "", []int{7, 6, 4, 3, 1, 0}},
		{"tag not equal", "tags.family != 'beta'", "", []int{7, 6, 4, 3, 1, 0}},
		{"status", "attributes.status = 'FINISHED'", "", []int{8, 6, 4, 2, 0}},
		{"run name", "attributes.run_name = 'run-05'", "", []int{5}},
		{"run id in", fmt.Sprintf("attributes.run_id IN ('%s', '%s')", ids[1], ids[2]), "", []int{2, 1}},
		{"combined", "metrics.acc > 0.1 and params.lr = '0.1' and tags.family LIKE 'A%' and attributes.status = 'FINISHED'", "", []int{6}},
		{"dataset", "dataset.name = 'flights'", "", []int{3}},
		{"param missing", "params.nope IS NULL", "", []int{8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"deleted only", "", "DELETED_ONLY", []int{9}},
		{"all", "metrics.acc >= 0.8", "ALL", []int{9, 8}},
		{"no match", "metrics.acc > 5", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, next, err := s.SearchRuns(ctx, tracking.RunSearch{ExperimentIDs: []string{exp}, Filter: tt.filter, ViewType: tt.view})
			must(t, err)
			if next != "" {
				t.Fatalf("unexpected next page token %q", next)
			}
			var got []int
			for _, r := range runs {
				for i, id := range ids {
					if r.Info.RunID == id {
						got = append(got, i)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got runs %v, want %v", got, tt.want)
			}
		})
	}
	runs, _, err := s.SearchRuns(ctx, tracking.RunSearch{ExperimentIDs: []string{exp}, Filter: "attributes.run_name = 'run-01'"})
	must(t, err)
	if len(runs) != 1 || len(runs[0].Data.Params) != 1 || len(runs[0].Data.Metrics) != 1 || len(runs[0].Data.Tags) != 2 {
		t.Fatalf("search result lacks its data: %+v", runs)
	}
	for _, bad := range []string{"metrics.acc >", "params.lr = 0.1", "attributes.color = 'red'", "tags.x = 'a' OR tags.y = 'b'"} {
		_, _, err := s.SearchRuns(ctx, tracking.RunSearch{ExperimentIDs: []string{exp}, Filter: bad})
		wantCode(t, err, ferry.EINVALID)
	}
	_, _, err = s.SearchRuns(ctx, tracking.RunSearch{})
	wantCode(t, err, ferry.EINVALID)
}

func testSearchRunsOrderAndPages(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	exp, ids := seedRuns(t, s, "order", 7)
	extra, err := s.CreateRun(ctx, tracking.RunCreate{ExperimentID: exp}) // no acc: sorts last
	must(t, err)

	var got []string
	tok := ""
	for pages := 0; ; pages++ {
		runs, next, err := s.SearchRuns(ctx, tracking.RunSearch{ExperimentIDs: []string{exp}, OrderBy: []string{"metrics.acc DESC"}, MaxResults: 3, PageToken: tok})
		must(t, err)
		for _, r := range runs {
			got = append(got, r.Info.RunID)
		}
		if next == "" {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
		tok = next
	}
	want := []string{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0], extra.Info.RunID}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order by acc desc:\n got %v\nwant %v", got, want)
	}
	// Filtered on the metric it is ordered by: the store may walk the
	// metric's index; the pages must still be complete and in order.
	got = nil
	tok = ""
	for {
		runs, next, err := s.SearchRuns(ctx, tracking.RunSearch{ExperimentIDs: []string{exp}, Filter: "metrics.acc >= 0.1", OrderBy: []string{"metrics.acc DESC"}, MaxResults: 2, PageToken: tok})
		must(t, err)
		for _, r := range runs {
			got = append(got, r.Info.RunID)
		}
		if next == "" {
			break
		}
		tok = next
	}
	if want := []string{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("filtered order by acc desc:\n got %v\nwant %v", got, want)
	}
	runs, _, err := s.SearchRuns(ctx, tracking.RunSearch{ExperimentIDs: []string{exp}, OrderBy: []string{"params.lr ASC", "attributes.start_time ASC"}})
	must(t, err)
	var lrs []string
	for _, r := range runs {
		v, _ := r.Param("lr")
		lrs = append(lrs, v)
	}
	if fmt.Sprint(lrs) != "[0.01 0.01 0.01 0.1 0.1 0.1 0.1 ]" {
		t.Fatalf("order by lr: %v", lrs)
	}
	if runs[0].Info.RunID != ids[1] {
		t.Fatalf("tie broken by start_time asc: first %s want %s", runs[0].Info.RunID, ids[1])
	}
	_, _, err = s.SearchRuns(ctx, tracking.RunSearch{ExperimentIDs: []string{exp}, OrderBy: []string{"attributes.colour"}})
	wantCode(t, err, ferry.EINVALID)
	_, _, err = s.SearchRuns(ctx, tracking.RunSearch{ExperimentIDs: []string{exp}, MaxResults: 50001})
	wantCode(t, err, ferry.EINVALID)
}

func testConcurrentWrites(t *testing.T, s *tracking.Service) {
	ctx := context.Background()
	const writers, batches = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	ids := make([]string, writers)
	for w := range writers {
		run, err := s.CreateRun(ctx, tracking.RunCreate{})
		must(t, err)
		ids[w] = run.Info.RunID
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				ms := make([]tracking.Metric, 50)
				for i := range ms {
					ms[i] = tracking.Metric{Key: "m", Value: float64(i), Step: int64(b*50 + i), Timestamp: 1}
				}
				if err := s.LogBatch(ctx, ids[w], ms, nil, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, id := range ids {
		hist, _, err := s.MetricHistory(ctx, id, "m", "", 0)
		must(t, err)
		if len(hist) != batches*50 {
			t.Fatalf("run %s has %d points", id, len(hist))
		}
		if !sort.SliceIsSorted(hist, func(i, j int) bool { return hist[i].Step < hist[j].Step }) {
			t.Fatal("history not ordered by step")
		}
	}
}
