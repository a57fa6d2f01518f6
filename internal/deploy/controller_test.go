package deploy_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/store/sqlstore"
)

// clock is a fake clock that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// fakeStats holds the requests tests say each deployment answered, with
// the time they were answered at.
type fakeStats struct{ obs map[string][]observation }

type observation struct {
	at      time.Time
	latency time.Duration
	failed  bool
}

func (f *fakeStats) Stats(endpoint, deployment string, since time.Time) deploy.Stats {
	var s deploy.Stats
	for _, o := range f.obs[endpoint+"/"+deployment] {
		if !o.at.Before(since) {
			s.Observe(o.latency, o.failed)
		}
	}
	return s
}

// fakeReady is ready for every deployment it does not name false.
type fakeReady map[string]bool

func (f fakeReady) Serves(d deploy.Deployment) bool {
	ready, ok := f[d.Name]
	return !ok || ready
}

// approvals needs an approval for the endpoints it names.
type approvals map[string]bool

func (a approvals) EndpointApproval(endpoint string) bool { return a[endpoint] }

type resolver struct{}

func (resolver) Resolve(_ context.Context, uri string) (registry.Version, error) {
	return registry.Version{Name: "churn", Version: 1}, nil
}

// env is an endpoint churn on a real SQLite file with deployments blue
// (taking all traffic) and green (rolled out by the given spec).
type env struct {
	t     *testing.T
	ctx   context.Context // as ana
	path  string
	db    *sqlstore.DB
	svc   *deploy.Service
	clock *clock
	stats *fakeStats
	ready fakeReady
	appr  approvals
	ctrl  *deploy.Controller
}

func newEnv(t *testing.T, spec *deploy.Rollout) *env {
	t.Helper()
	e := &env{
		t: t, ctx: auth.WithPrincipal(context.Background(), "ana"),
		path:  filepath.Join(t.TempDir(), "ferry.db"),
		clock: &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
		stats: &fakeStats{obs: map[string][]observation{}},
		ready: fakeReady{}, appr: approvals{},
	}
	e.open()
	if _, err := e.svc.PutEndpoint(e.ctx, deploy.Endpoint{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PutDeployment(e.ctx, deploy.Deployment{Name: "blue", EndpointName: "churn", Model: "models:/churn/1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PutDeployment(e.ctx, deploy.Deployment{Name: "green", EndpointName: "churn", Model: "models:/churn/2", Rollout: spec}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetTraffic(e.ctx, "churn", map[string]int{"blue": 100}, "test"); err != nil {
		t.Fatal(err)
	}
	return e
}

// open opens the store, the service and a controller over e.path.
func (e *env) open() {
	db, err := sqlite.Open(context.Background(), e.path, "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	e.db = db
	e.svc = deploy.NewService(db, resolver{}, e.clock.Now, deploy.WithApprovals(e.appr))
	e.ctrl = deploy.NewController(e.svc, e.stats, e.ready, db.Leader("deploy"), deploy.ControllerOptions{Now: e.clock.Now})
}

// serve records n requests answered now by deployment, failed of them
// failing, each taking latency.
func (e *env) serve(deployment string, n, failed int, latency time.Duration) {
	k := "churn/" + deployment
	for i := range n {
		e.stats.obs[k] = append(e.stats.obs[k], observation{at: e.clock.Now(), latency: latency, failed: i < failed})
	}
}

// healthy has both deployments answer 200 requests well.
func (e *env) healthy() {
	e.serve("blue", 200, 0, 10*time.Millisecond)
	e.serve("green", 200, 0, 10*time.Millisecond)
}

func (e *env) step() {
	e.t.Helper()
	if err := e.ctrl.Step(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) wantTraffic(want string) {
	e.t.Helper()
	ep, err := e.svc.GetEndpoint(e.ctx, "churn")
	if err != nil {
		e.t.Fatal(err)
	}
	var parts []string
	for _, n := range []string{"blue", "green"} {
		if v, ok := ep.Traffic[n]; ok {
			parts = append(parts, n+"="+strconv.Itoa(v))
		}
	}
	if got := strings.Join(parts, ","); got != want {
		e.t.Fatalf("traffic %s, want %s", got, want)
	}
}

func (e *env) rollout() deploy.RolloutStatus {
	e.t.Helper()
	r, err := e.svc.GetRollout(e.ctx, "churn")
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) wantState(state string, step int) deploy.RolloutStatus {
	e.t.Helper()
	r := e.rollout()
	if r.State != state || r.Step != step {
		e.t.Fatalf("rollout %s at step %d (%s), want %s at step %d", r.State, r.Step, r.Message, state, step)
	}
	return r
}

func (e *env) actions() string {
	e.t.Helper()
	evs, err := e.svc.Audit(e.ctx, "churn")
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "rollout_") {
			out = append(out, ev.Action)
		}
	}
	return strings.Join(out, " ")
}

func (e *env) start() deploy.RolloutStatus {
	e.t.Helper()
	r, err := e.svc.StartRollout(e.ctx, "churn", "green", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

var canary = &deploy.Rollout{Strategy: "canary", Steps: []int{10, 50, 100}, StepDuration: "5m"}

func TestCanaryPasses(t *testing.T) {
	e := newEnv(t, canary)
	e.start()
	e.step()
	e.wantTraffic("blue=90,green=10")
	e.healthy()
	e.step() // the step's duration has not passed
	e.wantState(deploy.RolloutProgressing, 0)
	for _, want := range []string{"blue=50,green=50", "green=100"} {
		e.clock.Advance(5 * time.Minute)
		e.healthy()
		e.step()
		e.wantTraffic(want)
	}
	e.clock.Advance(5 * time.Minute)
	e.serve("green", 200, 0, 10*time.Millisecond)
	e.step()
	r := e.wantState(deploy.RolloutSucceeded, 2)
	if r.Verdict == nil || !r.Verdict.Passed {
		t.Errorf("verdict %+v", r.Verdict)
	}
	if got, want := e.actions(), "rollout_start rollout_step rollout_pass rollout_step rollout_pass rollout_step rollout_succeed"; got != want {
		t.Errorf("audit %s, want %s", got, want)
	}
}

func TestCanaryRollsBack(t *testing.T) {
	tests := []struct {
		name    string
		failed  int
		latency time.Duration
		check   string
	}{
		{"5% errors", 10, 10 * time.Millisecond, deploy.CheckErrorRate},
		{"+100ms p99", 0, 110 * time.Millisecond, deploy.CheckP99Latency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, canary)
			e.start()
			e.step()
			e.clock.Advance(5 * time.Minute)
			e.serve("blue", 200, 0, 10*time.Millisecond)
			e.serve("green", 200, tt.failed, tt.latency)
			e.step()
			r := e.wantState(deploy.RolloutRolledBack, 0)
			e.wantTraffic("blue=100")
			if r.Verdict == nil || r.Verdict.Check != tt.check || !strings.Contains(r.Message, tt.check) {
				t.Errorf("verdict %+v, message %q: want the %s check", r.Verdict, r.Message, tt.check)
			}
			if _, err := e.svc.GetDeployment(e.ctx, "churn", "green"); err != nil {
				t.Errorf("the canary is not kept: %v", err)
			}
			evs, _ := e.svc.Audit(e.ctx, "churn")
			last := evs[len(evs)-1]
			if last.Action != "rollout_rollback" || !strings.Contains(last.Detail, tt.check) || last.Principal != deploy.ControllerPrincipal {
				t.Errorf("last audit %+v: want rollout_rollback naming %s", last, tt.check)
			}
		})
	}
}

func TestMinRequestsExtendsWindow(t *testing.T) {
	e := newEnv(t, canary)
	e.start()
	e.step()
	e.clock.Advance(5 * time.Minute)
	e.serve("blue", 200, 0, 10*time.Millisecond)
	e.serve("green", 40, 0, 10*time.Millisecond)
	e.step()
	r := e.wantState(deploy.RolloutProgressing, 0)
	if r.Verdict == nil || !r.Verdict.Pending || r.Verdict.Check != deploy.CheckMinRequests {
		t.Errorf("verdict %+v: want pending on min_requests", r.Verdict)
	}
	e.wantTraffic("blue=90,green=10")
	e.clock.Advance(time.Minute)
	e.serve("green", 60, 0, 10*time.Millisecond) // 100 since the step started
	e.step()
	e.wantTraffic("blue=50,green=50")
}

func TestBlueGreen(t *testing.T) {
	spec := &deploy.Rollout{Strategy: "blue_green", StepDuration: "1m"}
	t.Run("switch", func(t *testing.T) {
		e := newEnv(t, spec)
		e.ready["green"] = false
		e.start()
		e.step()
		e.wantTraffic("blue=100")
		if r := e.rollout(); !strings.Contains(r.Message, "ready") {
			t.Errorf("message %q: want waiting for readiness", r.Message)
		}
		e.serve("blue", 200, 0, 10*time.Millisecond)
		e.ready["green"] = true
		e.step()
		e.wantTraffic("green=100")
		e.clock.Advance(time.Minute)
		e.serve("green", 200, 0, 10*time.Millisecond)
		e.step()
		e.wantState(deploy.RolloutSucceeded, 0)
		e.wantTraffic("green=100")
	})
	t.Run("rollback", func(t *testing.T) {
		e := newEnv(t, spec)
		e.start()
		e.serve("blue", 200, 0, 10*time.Millisecond)
		e.step()
		e.wantTraffic("green=100")
		e.clock.Advance(time.Minute)
		e.serve("green", 200, 0, 200*time.Millisecond)
		e.step()
		r := e.wantState(deploy.RolloutRolledBack, 0)
		e.wantTraffic("blue=100")
		if r.Verdict.Check != deploy.CheckP99Latency {
			t.Errorf("verdict %+v", r.Verdict)
		}
	})
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t, canary)
	e.start()
	e.step()
	if _, err := e.svc.PauseRollout(e.ctx, "churn"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	e.healthy()
	e.step()
	e.wantState(deploy.RolloutPaused, 0)
	e.wantTraffic("blue=90,green=10")
	if _, err := e.svc.ResumeRollout(e.ctx, "churn"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResumeRollout(e.ctx, "churn"); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("resume a progressing rollout: %v", err)
	}
	e.step() // the step's window restarted at resume
	e.wantState(deploy.RolloutProgressing, 0)
	e.clock.Advance(5 * time.Minute)
	e.healthy()
	e.step()
	e.wantTraffic("blue=50,green=50")
	if _, err := e.svc.RollbackRollout(e.ctx, "churn"); err != nil {
		t.Fatal(err)
	}
	e.wantTraffic("blue=100")
	e.wantState(deploy.RolloutRolledBack, 1)
	if _, err := e.svc.PauseRollout(e.ctx, "churn"); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("pause without a rollout in progress: %v", err)
	}
	if got, want := e.actions(), "rollout_start rollout_step rollout_pause rollout_resume rollout_pass rollout_step rollout_rollback"; got != want {
		t.Errorf("audit %s, want %s", got, want)
	}
}

func TestApprovalFourEyes(t *testing.T) {
	e := newEnv(t, &deploy.Rollout{Strategy: "canary", Steps: []int{50, 100}, StepDuration: "5m"})
	e.appr["churn"] = true
	e.start()
	e.step()
	e.clock.Advance(5 * time.Minute)
	e.healthy()
	e.step()
	e.wantState(deploy.RolloutAwaitingApproval, 1)
	e.wantTraffic("blue=50,green=50")
	e.clock.Advance(time.Hour)
	e.step()
	e.wantState(deploy.RolloutAwaitingApproval, 1)
	if _, err := e.svc.PromoteRollout(e.ctx, "churn"); ferry.ErrorCode(err) != ferry.EFORBIDDEN {
		t.Fatalf("promote by the principal who started it: %v, want EFORBIDDEN", err)
	}
	r, err := e.svc.PromoteRollout(auth.WithPrincipal(context.Background(), "bob"), "churn")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != deploy.RolloutSucceeded || r.ApprovedBy != "bob" {
		t.Errorf("after promote %+v", r)
	}
	e.wantTraffic("green=100")
	if got := e.actions(); !strings.HasSuffix(got, "rollout_await_approval rollout_promote") {
		t.Errorf("audit %s", got)
	}
}

func TestRestartResumes(t *testing.T) {
	e := newEnv(t, canary)
	e.start()
	e.step()
	e.wantTraffic("blue=90,green=10")
	e.db.Close() // the server dies mid-step
	e.open()
	e.clock.Advance(5 * time.Minute)
	e.healthy()
	e.step()
	e.wantTraffic("blue=50,green=50")
	e.wantState(deploy.RolloutProgressing, 1)
}

func TestTrafficChangedOutsideAborts(t *testing.T) {
	e := newEnv(t, canary)
	e.start()
	e.step()
	if _, err := e.svc.SetTraffic(e.ctx, "churn", map[string]int{"blue": 100}, "by hand"); err != nil {
		t.Fatal(err)
	}
	e.step()
	r := e.wantState(deploy.RolloutAborted, 0)
	if !strings.Contains(r.Message, "outside the rollout") {
		t.Errorf("message %q", r.Message)
	}
	e.wantTraffic("blue=100")
}

func TestApplyStartsRollout(t *testing.T) {
	e := newEnv(t, canary)
	desired := deploy.State{
		Endpoints: []deploy.Endpoint{{Name: "churn", Traffic: map[string]int{"green": 100}}},
		Deployments: []deploy.Deployment{
			{Name: "blue", EndpointName: "churn", Model: "models:/churn/1"},
			{Name: "green", EndpointName: "churn", Model: "models:/churn/2", Rollout: canary},
		},
	}
	p, err := e.svc.Apply(e.ctx, desired, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.String(), "(by rollout: canary 10→50→100 of green)") {
		t.Errorf("plan does not say the traffic moves by rollout:\n%s", p)
	}
	e.wantTraffic("blue=100")
	r := e.wantState(deploy.RolloutProgressing, 0)
	if r.Goal["green"] != 100 || r.Stable["blue"] != 100 || r.StartedBy != "ana" {
		t.Errorf("rollout %+v", r)
	}
	if _, err := e.svc.Apply(e.ctx, desired, false); err != nil {
		t.Fatalf("apply again during the rollout: %v", err)
	}
	if rs, _ := e.svc.ListRollouts(e.ctx, "churn"); len(rs) != 1 {
		t.Errorf("%d rollouts after applying twice, want 1", len(rs))
	}
	// The rollout's own events on green are not drift of green's fields.
	if _, err := e.svc.PauseRollout(e.ctx, "churn"); err != nil {
		t.Fatal(err)
	}
	changed := desired
	changed.Deployments = []deploy.Deployment{desired.Deployments[0], desired.Deployments[1]}
	changed.Deployments[1].InstanceCount = 3
	p, err = e.svc.Plan(e.ctx, changed, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		if c.Drift != nil && strings.HasPrefix(c.Drift.Action, "rollout_") {
			t.Errorf("%s %s: drift %+v; a rollout's own events are not drift", c.Action, c.Address, *c.Drift)
		}
	}
	other := desired
	other.Endpoints = []deploy.Endpoint{{Name: "churn", Traffic: map[string]int{"blue": 50, "green": 50}}}
	if _, err := e.svc.Apply(e.ctx, other, false); ferry.ErrorCode(err) != ferry.ECONFLICT {
		t.Errorf("apply another goal during the rollout: %v, want ECONFLICT", err)
	}
}

func TestTrafficAt(t *testing.T) {
	r := deploy.RolloutStatus{Stable: map[string]int{"a": 50, "b": 50}, Goal: map[string]int{"c": 100}, Steps: []int{33, 100}}
	got := r.TrafficAt(0)
	if got["a"]+got["b"]+got["c"] != 100 || got["c"] != 33 {
		t.Errorf("traffic at 33%%: %v", got)
	}
	if got := r.TrafficAt(1); len(got) != 1 || got["c"] != 100 {
		t.Errorf("traffic at 100%%: %v", got)
	}
	if got := r.TrafficAt(-1); got["a"] != 50 {
		t.Errorf("traffic before: %v", got)
	}
}

func TestRolloutSpecValidate(t *testing.T) {
	d := deploy.Deployment{Name: "green", EndpointName: "churn", Model: "models:/churn/2"}
	tests := []struct {
		name string
		r    deploy.Rollout
		want string
	}{
		{"defaults", deploy.Rollout{Strategy: "canary"}, ""},
		{"analysis", deploy.Rollout{Strategy: "canary", Analysis: map[string]any{"min_requests": 500, "max_error_rate_increase": 0.02, "max_p99_latency_increase": "20ms", "max_p99_latency_ratio": 1.5}}, ""},
		{"unknown key", deploy.Rollout{Strategy: "canary", Analysis: map[string]any{"max_errors": 1}}, "unknown field"},
		{"bad latency", deploy.Rollout{Strategy: "canary", Analysis: map[string]any{"max_p99_latency_increase": 50}}, "duration"},
		{"bad duration", deploy.Rollout{Strategy: "canary", StepDuration: "soon"}, "step_duration"},
		{"blue_green steps", deploy.Rollout{Strategy: "blue_green", Steps: []int{50}}, "remove steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.Rollout = &tt.r
			err := d.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
