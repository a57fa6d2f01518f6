package registry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/testbackend"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// clock advances a millisecond on every reading, so audit times and check
// times are distinct and ordered.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// env is a registry service over a real SQLite store and artifact directory.
type env struct {
	tb  testing.TB
	ctx context.Context
	b   *testbackend.Backend
	svc *registry.Service
}

func newEnv(tb testing.TB, synchronous string, policy *registry.Policy) *env {
	tb.Helper()
	c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	b := testbackend.OpenWith(tb, testbackend.Options{Synchronous: synchronous, Policy: policy, Now: c.Now})
	return &env{tb: tb, ctx: context.Background(), b: b, svc: b.Registry}
}

func mustPolicy(tb testing.TB, doc string) *registry.Policy {
	tb.Helper()
	p, err := registry.ParsePolicy([]byte(doc), "policy.yaml")
	if err != nil {
		tb.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

// pkg describes the model package a run logs.
type pkg struct {
	weights  string // varies the model file, and so the package digest
	commit   string
	dirty    bool
	datasets []model.DatasetRef
}

// runWithModel starts a run and logs a model package under its artifact
// path "model", as a training script would. It returns the run and the
// package as built.
func (e *env) runWithModel(p pkg) (tracking.Run, *model.Package) {
	e.tb.Helper()
	run, err := e.b.Tracking.CreateRun(e.ctx, tracking.RunCreate{UserID: "alice"})
	if err != nil {
		e.tb.Fatal(err)
	}
	dir := filepath.Join(e.tb.TempDir(), "model")
	built := buildPackage(e.tb, dir, run.Info.RunID, p)
	e.upload(run, dir)
	return run, built
}

func buildPackage(tb testing.TB, dir, runID string, p pkg) *model.Package {
	tb.Helper()
	ctx := context.Background()
	if p.weights == "" {
		p.weights = "[0.25,-1.5,3]"
	}
	b, err := model.NewBuilder(ctx, dir)
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.AddFile(ctx, "model.json", strings.NewReader(`{"trainer":"logistic","weights":`+p.weights+`,"intercept":-0.125}`+"\n")); err != nil {
		tb.Fatal(err)
	}
	if err := b.AddFile(ctx, "docs/README.txt", strings.NewReader("Logistic regression on the churn table.\n")); err != nil {
		tb.Fatal(err)
	}
	m := &model.Manifest{
		ArtifactPath:   "model",
		RunID:          runID,
		UTCTimeCreated: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC),
		Signature: &model.Signature{
			Inputs:  []model.Spec{{Name: "tenure", Type: model.TypeDouble, Required: true}, {Name: "spend", Type: model.TypeDouble, Required: true}},
			Outputs: []model.Spec{{Type: model.TypeLong, Required: true}},
		},
	}
	m.SetFlavor(model.FerryFlavor{Trainer: "logistic", Data: "model.json"})
	info := model.FerryInfo{
		Task:        model.TaskBinary,
		ClassLabels: []string{"stays", "churns"},
		Lineage: model.Lineage{
			RunID: runID, GitCommit: p.commit, GitDirty: p.dirty, Datasets: p.datasets,
			Trainer: "logistic", Params: map[string]string{"l2": "0.01"}, FerryVersion: "0.1.0-test",
		},
	}
	built, err := b.Finish(ctx, m, info)
	if err != nil {
		tb.Fatal(err)
	}
	return built
}

// artifactKey is the blob key of path under a run's artifact root
// (mlflow-artifacts:/0/<run>/artifacts → 0/<run>/artifacts/<path>).
func artifactKey(tb testing.TB, run tracking.Run, path string) string {
	tb.Helper()
	root, ok := strings.CutPrefix(run.Info.ArtifactURI, "mlflow-artifacts:/")
	if !ok {
		tb.Fatalf("artifact uri %q", run.Info.ArtifactURI)
	}
	return root + "/" + path
}

// upload copies every file under dir to the run's artifacts under "model/".
func (e *env) upload(run tracking.Run, dir string) {
	e.tb.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = e.b.Artifacts.Put(e.ctx, artifactKey(e.tb, run, "model/"+filepath.ToSlash(rel)), f)
		return err
	})
	if err != nil {
		e.tb.Fatal(err)
	}
}

func (e *env) register(principal, name string, run tracking.Run) registry.Version {
	e.tb.Helper()
	v, err := e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, principal), name, "runs:/"+run.Info.RunID+"/model", "", "", nil, true)
	if err != nil {
		e.tb.Fatalf("RegisterVersion(%s): %v", name, err)
	}
	return v
}

// versions lists the version numbers of name.
func (e *env) versions(name string) []int {
	e.tb.Helper()
	vs, _, err := e.b.Store.SearchVersions(e.ctx, registry.VersionQuery{Name: name})
	if err != nil && ferry.ErrorCode(err) != ferry.ENOTFOUND {
		e.tb.Fatal(err)
	}
	var out []int
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}

// registryBlobs lists the objects under the registry's own storage.
func (e *env) registryBlobs(prefix string) []string {
	e.tb.Helper()
	var out []string
	var walk func(string)
	walk = func(p string) {
		entries, err := e.b.Artifacts.List(e.ctx, p)
		if err != nil {
			e.tb.Fatal(err)
		}
		for _, en := range entries {
			if en.IsDir {
				walk(en.Path)
			} else {
				out = append(out, en.Path)
			}
		}
	}
	walk(prefix)
	return out
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

// TestPromotionRoundTrip walks a run's model from registration to
// Production under a policy that wants a second principal's approval, and
// reads the whole story back from the audit trail.
func TestPromotionRoundTrip(t *testing.T) {
	e := newEnv(t, sqlite.SynchronousNormal, mustPolicy(t, `
default:
  stages:
    Production: {approval: true}
`))
	ctx, svc := e.ctx, e.svc
	run, built := e.runWithModel(pkg{commit: strings.Repeat("a", 40)})

	v := e.register("alice", "churn", run)
	if v.Version != 1 || v.Stage != registry.StageNone || v.RunID != run.Info.RunID || v.ModelDigest != built.Digest() || v.UserID != "alice" {
		t.Fatalf("registered %+v", v)
	}
	_, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "challenger", 1, "try it on shadow traffic")
	must(t, err)
	if got, err := svc.Resolve(ctx, "models:/churn@challenger"); err != nil || got.Version != 1 {
		t.Fatalf("Resolve(@challenger) = %+v, %v", got, err)
	}
	staged, err := svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "staging", "smoke tests pass", false)
	must(t, err)
	if staged.Stage != registry.StageStaging {
		t.Fatalf("stage after promote = %q", staged.Stage)
	}

	t.Run("refused without an approval", func(t *testing.T) {
		for attempt := range 2 {
			_, err := svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "Production", "auc +2%", true)
			wantCode(t, err, ferry.EFORBIDDEN)
			msg := ferry.ErrorMessage(err)
			for _, want := range []string{"other than the requester", "ferry models approve churn 1 --to production"} {
				if !strings.Contains(msg, want) {
					t.Fatalf("attempt %d: message %q does not say %q", attempt, msg, want)
				}
			}
			reqs, err := e.b.Store.FindRequests(ctx, "churn", 1, registry.StageProduction)
			must(t, err)
			if len(reqs) != 1 || reqs[0].Status != registry.RequestPending || reqs[0].RequestedBy != "alice" {
				t.Fatalf("attempt %d: requests = %+v, want one pending by alice", attempt, reqs)
			}
		}
	})
	t.Run("refused with a self-approval", func(t *testing.T) {
		_, err := svc.Decide(auth.WithPrincipal(ctx, "alice"), "churn", 1, "production", true, "looks fine to me")
		wantCode(t, err, ferry.EFORBIDDEN)
		if msg := ferry.ErrorMessage(err); !strings.Contains(msg, "alice") || !strings.Contains(msg, "another principal") {
			t.Fatalf("message = %q", msg)
		}
		_, err = svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "Production", "auc +2%", true)
		wantCode(t, err, ferry.EFORBIDDEN)
		if v, _ := svc.Resolve(ctx, "models:/churn/1"); v.Stage != registry.StageStaging {
			t.Fatalf("stage = %q after a refused promotion", v.Stage)
		}
	})
	t.Run("allowed after another principal approves", func(t *testing.T) {
		r, err := svc.Decide(auth.WithPrincipal(ctx, "bob"), "churn", 1, "production", true, "reviewed the validation report")
		must(t, err)
		if r.Status != registry.RequestApproved || r.DecidedBy != "bob" || r.RequestedBy != "alice" {
			t.Fatalf("decision = %+v", r)
		}
		_, err = svc.Decide(auth.WithPrincipal(ctx, "carol"), "churn", 1, "production", true, "")
		wantCode(t, err, ferry.ENOTFOUND) // nothing pending any more
		prod, err := svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "Production", "auc +2%", true)
		must(t, err)
		if prod.Stage != registry.StageProduction {
			t.Fatalf("stage = %q", prod.Stage)
		}
		if got, err := svc.Resolve(ctx, "models:/churn/Production"); err != nil || got.Version != 1 {
			t.Fatalf("Resolve(Production) = %+v, %v", got, err)
		}
	})
	t.Run("the audit trail tells the story", func(t *testing.T) {
		hist, err := svc.History(ctx, "churn")
		must(t, err)
		want := []struct {
			action, principal, from, to string
			version                     int
		}{
			{registry.ActionCreateModel, "alice", "", "churn", 0},
			{registry.ActionCreateVersion, "alice", "", built.Digest(), 1},
			{registry.ActionSetAlias, "alice", "", "@challenger", 1},
			{registry.ActionTransition, "alice", registry.StageNone, registry.StageStaging, 1},
			{registry.ActionRequest, "alice", registry.StageStaging, registry.StageProduction, 1},
			{registry.ActionPromoteBlocked, "alice", "", registry.StageProduction, 1},
			{registry.ActionApprove, "bob", "", registry.StageProduction, 1},
			{registry.ActionTransition, "alice", registry.StageStaging, registry.StageProduction, 1},
		}
		var got []string
		for _, h := range hist {
			got = append(got, h.Action+" by "+h.Principal)
		}
		if len(hist) != len(want) {
			t.Fatalf("history:\n%s", strings.Join(got, "\n"))
		}
		for i, w := range want {
			h := hist[i]
			if h.Action != w.action || h.Principal != w.principal || h.Model != "churn" || h.Version != w.version || h.From != w.from || h.To != w.to {
				t.Errorf("event %d = %+v, want %s by %s, v%d, %q → %q", i, h, w.action, w.principal, w.version, w.from, w.to)
			}
			if i > 0 && h.Time <= hist[i-1].Time {
				t.Errorf("event %d at %d, not after %d", i, h.Time, hist[i-1].Time)
			}
		}
		if last := hist[len(hist)-1]; !strings.Contains(last.Reason, "approved by bob") {
			t.Errorf("the promotion does not say who approved it: %q", last.Reason)
		}
	})
}

func TestResolve(t *testing.T) {
	e := newEnv(t, sqlite.SynchronousNormal, nil)
	ctx, svc := e.ctx, e.svc
	for i := range 3 {
		run, _ := e.runWithModel(pkg{weights: fmt.Sprintf("[%d]", i)})
		e.register("alice", "churn", run)
	}
	_, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "challenger", 2, "")
	must(t, err)
	_, err = svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "Production", "", false)
	must(t, err)
	_, err = svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 2, "Staging", "", false)
	must(t, err)
	_, err = svc.CreateModel(auth.WithPrincipal(ctx, "alice"), "empty", "", nil)
	must(t, err)

	tests := []struct {
		uri     string
		version int
		code    string
	}{
		{"models:/churn/1", 1, ""},
		{"models:/churn/3", 3, ""},
		{"models:/churn@challenger", 2, ""},
		{"models:/churn@latest", 3, ""},
		{"models:/churn/Production", 1, ""},
		{"models:/churn/production", 1, ""},
		{"models:/churn/Staging", 2, ""},
		{"models:/churn/None", 3, ""},

		{"models:/nope/1", 0, ferry.ENOTFOUND},
		{"models:/churn/9", 0, ferry.ENOTFOUND},
		{"models:/churn/0", 0, ferry.ENOTFOUND},
		{"models:/churn@champion", 0, ferry.ENOTFOUND},
		{"models:/nope@champion", 0, ferry.ENOTFOUND},
		{"models:/nope@latest", 0, ferry.ENOTFOUND},
		{"models:/empty@latest", 0, ferry.ENOTFOUND},
		{"models:/churn/Archived", 0, ferry.ENOTFOUND},
		{"models:/nope/Production", 0, ferry.ENOTFOUND},

		{"runs:/abc/model", 0, ferry.EINVALID},
		{"models:/churn", 0, ferry.EINVALID},
		{"models:/", 0, ferry.EINVALID},
		{"models:/churn/Prod", 0, ferry.EINVALID},
		{"models:/churn@", 0, ferry.EINVALID},
		{"models:/churn@v1", 0, ferry.EINVALID},
		{"models:/churn@1abc", 0, ferry.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			v, err := svc.Resolve(ctx, tt.uri)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			must(t, err)
			if v.Name != "churn" || v.Version != tt.version {
				t.Fatalf("resolved %s/%d, want churn/%d", v.Name, v.Version, tt.version)
			}
			if want, _ := e.b.Store.GetVersion(ctx, "churn", tt.version); fmt.Sprint(v) != fmt.Sprint(want) {
				t.Fatalf("resolved\n %+v\nGetVersion\n %+v", v, want)
			}
		})
	}
}

func TestAliasNames(t *testing.T) {
	e := newEnv(t, sqlite.SynchronousNormal, nil)
	ctx, svc := e.ctx, e.svc
	run, _ := e.runWithModel(pkg{})
	e.register("alice", "churn", run)
	before, err := svc.History(ctx, "churn")
	must(t, err)

	invalid := []string{"latest", "Latest", "LATEST", "v1", "V12", "v007", "1abc", "9", "", "-x", "a b", "a/b", "a.b", "champion!", strings.Repeat("a", 257)}
	for _, alias := range invalid {
		t.Run(fmt.Sprintf("set %q", alias), func(t *testing.T) {
			_, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", alias, 1, "")
			wantCode(t, err, ferry.EINVALID)
		})
		t.Run(fmt.Sprintf("delete %q", alias), func(t *testing.T) {
			wantCode(t, svc.DeleteAlias(auth.WithPrincipal(ctx, "alice"), "churn", alias), ferry.EINVALID)
		})
	}
	if after, _ := svc.History(ctx, "churn"); len(after) != len(before) {
		t.Fatalf("invalid aliases left events: %+v", after[len(before):])
	}
	if m, _ := svc.GetModel(ctx, "churn"); len(m.Aliases) != 0 {
		t.Fatalf("aliases = %v", m.Aliases)
	}

	valid := []string{"champion", "v", "v1a", "version2", "_shadow", "blue-green", "A", strings.Repeat("a", 256)}
	for _, alias := range valid {
		t.Run(fmt.Sprintf("set %q", alias), func(t *testing.T) {
			v, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", alias, 1, "")
			must(t, err)
			if v.Version != 1 {
				t.Fatalf("SetAlias returned %+v", v)
			}
			if got, err := svc.Resolve(ctx, "models:/churn@"+alias); err != nil || got.Version != 1 {
				t.Fatalf("Resolve = %+v, %v", got, err)
			}
		})
	}
	t.Run("unknown targets", func(t *testing.T) {
		_, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "champion", 7, "")
		wantCode(t, err, ferry.ENOTFOUND)
		_, err = svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "nope", "champion", 1, "")
		wantCode(t, err, ferry.ENOTFOUND)
		wantCode(t, svc.DeleteAlias(auth.WithPrincipal(ctx, "alice"), "nope", "champion"), ferry.ENOTFOUND)
	})
	t.Run("delete", func(t *testing.T) {
		must(t, svc.DeleteAlias(auth.WithPrincipal(ctx, "bob"), "churn", "champion"))
		_, err := svc.Resolve(ctx, "models:/churn@champion")
		wantCode(t, err, ferry.ENOTFOUND)
		hist, err := svc.History(ctx, "churn")
		must(t, err)
		if last := hist[len(hist)-1]; last.Action != registry.ActionDeleteAlias || last.Principal != "bob" || !strings.Contains(last.From, "champion") {
			t.Fatalf("last event = %+v", last)
		}
	})
}

// TestPromoteTarget: stages in any case and @aliases are targets; a bare
// word such as "prod" is refused with both forms named, and nothing moves.
func TestPromoteTarget(t *testing.T) {
	e := newEnv(t, sqlite.SynchronousNormal, nil)
	ctx, svc := auth.WithPrincipal(e.ctx, "alice"), e.svc
	run, _ := e.runWithModel(pkg{})
	e.register("alice", "churn", run)
	tests := []struct {
		target, stage, alias string
		code                 string
	}{
		{target: "staging", stage: registry.StageStaging},
		{target: "PRODUCTION", stage: registry.StageProduction},
		{target: "Archived", stage: registry.StageArchived},
		{target: "none", stage: registry.StageNone},
		{target: "@champion", stage: registry.StageNone, alias: "champion"},
		{target: "prod", code: ferry.EINVALID},
		{target: "champion", code: ferry.EINVALID},
		{target: "@latest", code: ferry.EINVALID},
		{target: "", code: ferry.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			before, err := svc.History(ctx, "churn")
			must(t, err)
			v, err := svc.Promote(ctx, "churn", 1, tt.target, "", false)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				if msg := ferry.ErrorMessage(err); tt.target != "@latest" && (!strings.Contains(msg, "staging, production, archived") || !strings.Contains(msg, "@name")) {
					t.Fatalf("message %q does not list both forms", msg)
				}
				if _, err := svc.Decide(ctx, "churn", 1, tt.target, true, ""); ferry.ErrorCode(err) != ferry.EINVALID {
					t.Fatalf("Decide(%q) = %v, want EINVALID", tt.target, err)
				}
				if after, _ := svc.History(ctx, "churn"); len(after) != len(before) {
					t.Fatalf("a refused target left events: %+v", after[len(before):])
				}
				if m, _ := svc.GetModel(ctx, "churn"); m.Aliases["prod"] != 0 {
					t.Fatalf("aliases = %v", m.Aliases)
				}
				return
			}
			must(t, err)
			if v.Stage != tt.stage || (tt.alias != "" && !slices.Contains(v.Aliases, tt.alias)) {
				t.Fatalf("after %q: stage %q aliases %v", tt.target, v.Stage, v.Aliases)
			}
		})
	}
}

func TestRegisterVersion(t *testing.T) {
	// As MLflow's register_model does, the same source registered again is a
	// new version (issue 10.1); the bytes are stored once.
	t.Run("the same package twice", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		run, _ := e.runWithModel(pkg{})
		v1 := e.register("alice", "churn", run)
		blobs := e.registryBlobs("registry")
		source := "runs:/" + run.Info.RunID + "/model"
		v2, err := e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, "bob"), "churn", source, "", "", nil, false)
		must(t, err)
		if v2.Version != 2 || v2.Source != source || v2.RunID != run.Info.RunID || v2.UserID != "bob" ||
			v2.ModelDigest != v1.ModelDigest || v2.StorageURI != v1.StorageURI {
			t.Fatalf("second registration = %+v, want version 2 of the same package and copy as %+v", v2, v1)
		}
		// The same bytes logged by another run are the same package too.
		run2, err := e.b.Tracking.CreateRun(e.ctx, tracking.RunCreate{})
		must(t, err)
		dir := filepath.Join(t.TempDir(), "model")
		buildPackage(t, dir, run.Info.RunID, pkg{})
		e.upload(run2, dir)
		v3, err := e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, "bob"), "churn", "runs:/"+run2.Info.RunID+"/model", "", "", nil, false)
		must(t, err)
		if v3.Version != 3 || v3.StorageURI != v1.StorageURI {
			t.Fatalf("third registration = %+v", v3)
		}
		if got := fmt.Sprint(e.versions("churn")); got != "[3 2 1]" {
			t.Fatalf("versions = %s", got)
		}
		if after := e.registryBlobs("registry"); fmt.Sprint(after) != fmt.Sprint(blobs) {
			t.Fatalf("registry storage %v after registering the package again, want %v (stored once)", after, blobs)
		}
		for _, n := range []int{1, 2, 3} {
			v, err := e.svc.GetVersion(e.ctx, "churn", n)
			must(t, err)
			if _, err := e.svc.FetchVersion(e.ctx, v, filepath.Join(t.TempDir(), "v")); err != nil {
				t.Fatalf("fetch version %d: %v", n, err)
			}
		}
		hist, err := e.svc.History(e.ctx, "churn")
		must(t, err)
		created := 0
		for _, h := range hist {
			if h.Action == registry.ActionCreateVersion {
				created++
			}
		}
		if created != 3 {
			t.Fatalf("%d create_version events, want 3", created)
		}
	})
	t.Run("the same package registered concurrently", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		run, _ := e.runWithModel(pkg{})
		_, err := e.svc.CreateModel(auth.WithPrincipal(e.ctx, "alice"), "churn", "", nil)
		must(t, err)
		const n = 4
		var wg sync.WaitGroup
		errs := make(chan error, n)
		release := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-release
				_, err := e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, fmt.Sprintf("user%d", i)), "churn", "runs:/"+run.Info.RunID+"/model", "", "", nil, false)
				errs <- err
			}()
		}
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		if got := fmt.Sprint(e.versions("churn")); got != "[4 3 2 1]" {
			t.Fatalf("versions = %s, want four versions of one package", got)
		}
	})
	// A runs:/ source may name its run by a unique prefix of 8+ characters,
	// as Ferry prints them (issue 10.3); the version records the full ID.
	t.Run("a run ID prefix", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		run, _ := e.runWithModel(pkg{})
		id := run.Info.RunID
		v, err := e.svc.RegisterVersion(e.ctx, "churn", "runs:/"+id[:8]+"/model", "", "", nil, true)
		must(t, err)
		if v.Source != "runs:/"+id+"/model" || v.RunID != id {
			t.Fatalf("registered from a prefix: source %q run %q", v.Source, v.RunID)
		}
		_, err = e.svc.RegisterVersion(e.ctx, "churn", "runs:/"+id[:7]+"/model", "", "", nil, true)
		wantCode(t, err, ferry.EINVALID)
	})
	t.Run("new bytes give a new version", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		for i := range 3 {
			run, _ := e.runWithModel(pkg{weights: fmt.Sprintf("[%d]", i)})
			if v := e.register("alice", "churn", run); v.Version != i+1 {
				t.Fatalf("version %d, want %d", v.Version, i+1)
			}
		}
	})

	nothing := []struct {
		name   string
		source func(e *env) string
		create bool
		code   []string
	}{
		{"a run without artifacts", func(e *env) string {
			run, err := e.b.Tracking.CreateRun(e.ctx, tracking.RunCreate{})
			if err != nil {
				t.Fatal(err)
			}
			return "runs:/" + run.Info.RunID + "/model"
		}, false, []string{ferry.ENOTFOUND}},
		{"a run whose model path holds no package", func(e *env) string {
			run, err := e.b.Tracking.CreateRun(e.ctx, tracking.RunCreate{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.b.Artifacts.Put(e.ctx, artifactKey(t, run, "model/notes.txt"), strings.NewReader("not a model")); err != nil {
				t.Fatal(err)
			}
			return "runs:/" + run.Info.RunID + "/model"
		}, false, []string{ferry.ENOTFOUND, ferry.EINVALID}},
		{"the wrong path of a run with a package", func(e *env) string {
			run, _ := e.runWithModel(pkg{})
			return "runs:/" + run.Info.RunID + "/other"
		}, false, []string{ferry.ENOTFOUND}},
		{"an unknown run", func(e *env) string { return "runs:/0123456789abcdef0123456789abcdef/model" }, false, []string{ferry.ENOTFOUND}},
		{"an unsupported source", func(e *env) string { return "s3://bucket/model" }, false, []string{ferry.EINVALID}},
		{"a path outside the store", func(e *env) string { return "mlflow-artifacts:/../../etc" }, false, []string{ferry.EINVALID, ferry.ENOTFOUND}},
		{"a run without artifacts, creating the model", func(e *env) string {
			run, err := e.b.Tracking.CreateRun(e.ctx, tracking.RunCreate{})
			if err != nil {
				t.Fatal(err)
			}
			return "runs:/" + run.Info.RunID + "/model"
		}, true, []string{ferry.ENOTFOUND}},
	}
	for _, tt := range nothing {
		t.Run("nothing registered from "+tt.name, func(t *testing.T) {
			e := newEnv(t, sqlite.SynchronousNormal, nil)
			name := "churn"
			if tt.create {
				name = "brand-new"
			} else {
				_, err := e.svc.CreateModel(auth.WithPrincipal(e.ctx, "alice"), name, "", nil)
				must(t, err)
			}
			_, err := e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, "alice"), name, tt.source(e), "", "", nil, tt.create)
			if code := ferry.ErrorCode(err); !contains(tt.code, code) {
				t.Fatalf("error code = %q (%v), want one of %v", code, err, tt.code)
			}
			if vs := e.versions(name); len(vs) != 0 {
				t.Fatalf("versions = %v", vs)
			}
			if blobs := e.registryBlobs("registry"); len(blobs) != 0 {
				t.Fatalf("registry storage holds %v", blobs)
			}
			if tt.create {
				// A failed registration leaves no empty model behind.
				if m, err := e.svc.GetModel(e.ctx, name); ferry.ErrorCode(err) != ferry.ENOTFOUND {
					t.Fatalf("the failed registration left model %+v behind (GetModel error %v)", m, err)
				}
				if evs, _ := e.b.Store.ListAudit(e.ctx, ""); len(evs) != 0 {
					t.Fatalf("audit = %+v", evs)
				}
			}
		})
	}

	t.Run("unknown model without create", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		run, _ := e.runWithModel(pkg{})
		_, err := e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, "alice"), "nope", "runs:/"+run.Info.RunID+"/model", "", "", nil, false)
		wantCode(t, err, ferry.ENOTFOUND)
	})
	t.Run("invalid model name", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		run, _ := e.runWithModel(pkg{})
		for _, name := range []string{"", " ", "a/b", "tab\there"} {
			_, err := e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, "alice"), name, "runs:/"+run.Info.RunID+"/model", "", "", nil, true)
			wantCode(t, err, ferry.EINVALID)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestTamperedPackage(t *testing.T) {
	tests := []struct {
		name string
		file string
	}{
		{"model file", "model.json"},
		{"file in a subdirectory", "docs/README.txt"},
		{"manifest", model.ManifestFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sqlite.SynchronousNormal, nil)
			run, _ := e.runWithModel(pkg{})
			key := artifactKey(t, run, "model/"+tt.file)
			rc, _, err := e.b.Artifacts.Get(e.ctx, key)
			must(t, err)
			data, err := io.ReadAll(rc)
			rc.Close()
			must(t, err)
			data[len(data)/2] ^= 0x01
			_, err = e.b.Artifacts.Put(e.ctx, key, bytes.NewReader(data))
			must(t, err)

			_, err = e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, "alice"), "churn", "runs:/"+run.Info.RunID+"/model", "", "", nil, true)
			wantCode(t, err, ferry.EINVALID)
			if msg := ferry.ErrorMessage(err); !strings.Contains(msg, `"`+tt.file+`"`) {
				t.Fatalf("message %q does not name %s", msg, tt.file)
			}
			if vs := e.versions("churn"); len(vs) != 0 {
				t.Fatalf("versions = %v", vs)
			}
			if blobs := e.registryBlobs("registry"); len(blobs) != 0 {
				t.Fatalf("registry storage holds %v", blobs)
			}
		})
	}
}

func TestLineage(t *testing.T) {
	e := newEnv(t, sqlite.SynchronousNormal, nil)
	ctx, svc := e.ctx, e.svc
	commit := "847e906c1d2b3a4f5e6d7c8b9a0f1e2d3c4b5a69"
	train := "sha256:3b5d5c3712955042212316173ccf37be800b8a6a1f3e6f5b5c6e0a1d2c3b4a59"
	valid := "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	run, built := e.runWithModel(pkg{commit: commit, dirty: true, datasets: []model.DatasetRef{
		{Name: "churn-train", Digest: train, URI: "file:///data/train.csv"},
		{Name: "churn-valid", Digest: valid},
	}})
	other, _ := e.runWithModel(pkg{weights: "[9]", datasets: []model.DatasetRef{{Name: "elsewhere", Digest: "sha256:00"}}})
	e.register("alice", "other", other)

	// Registered from the artifact URI without a run id: the run comes from
	// the package's own lineage.
	v, err := svc.RegisterVersion(auth.WithPrincipal(ctx, "alice"), "churn", "mlflow-artifacts:/"+artifactKey(t, run, "model"), "", "from lineage", nil, true)
	must(t, err)
	t.Run("the version carries the lineage", func(t *testing.T) {
		got, err := svc.Resolve(ctx, "models:/churn/1")
		must(t, err)
		for _, v := range []registry.Version{v, got} {
			if v.RunID != run.Info.RunID || v.GitCommit != commit || !v.GitDirty || fmt.Sprint(v.DatasetDigests) != fmt.Sprint([]string{train, valid}) ||
				v.ModelDigest != built.Digest() || v.Description != "from lineage" || v.Status != registry.StatusReady {
				t.Fatalf("version = %+v", v)
			}
		}
	})
	searches := []struct {
		name string
		q    registry.VersionQuery
		want string
	}{
		{"by training data", registry.VersionQuery{Dataset: train}, "[churn/1]"},
		{"by validation data", registry.VersionQuery{Dataset: valid}, "[churn/1]"},
		{"by run", registry.VersionQuery{RunID: run.Info.RunID}, "[churn/1]"},
		{"by other data", registry.VersionQuery{Dataset: "sha256:00"}, "[other/1]"},
		{"by unknown data", registry.VersionQuery{Dataset: "sha256:ff"}, "[]"},
	}
	for _, tt := range searches {
		t.Run("search "+tt.name, func(t *testing.T) {
			vs, _, err := e.b.Store.SearchVersions(ctx, tt.q)
			must(t, err)
			var got []string
			for _, v := range vs {
				got = append(got, fmt.Sprintf("%s/%d", v.Name, v.Version))
			}
			if fmt.Sprint(got) != tt.want {
				t.Fatalf("got %v, want %s", got, tt.want)
			}
		})
	}
	t.Run("the registry keeps its own verified copy", func(t *testing.T) {
		// Deleting the run's artifacts does not touch the version.
		must(t, e.b.Artifacts.Delete(ctx, artifactKey(t, run, "model")))
		p, err := svc.FetchVersion(ctx, v, filepath.Join(t.TempDir(), "copy"))
		must(t, err)
		if !p.Verified() || p.Digest() != v.ModelDigest || p.Info.Lineage.GitCommit != commit {
			t.Fatalf("fetched package: verified=%v digest=%s", p.Verified(), p.Digest())
		}
	})
}

func TestCheckPolicy(t *testing.T) {
	e := newEnv(t, sqlite.SynchronousNormal, mustPolicy(t, `
default:
  stages:
    Staging: {checks: [review]}
    Production: {checks: [review, bias]}
`))
	ctx, svc := e.ctx, e.svc
	run, _ := e.runWithModel(pkg{})
	e.register("alice", "churn", run)
	promote := func() error {
		_, err := svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "Staging", "", false)
		return err
	}
	steps := []struct {
		name    string
		record  string // verdict to record first, "" for none
		code    string
		mention []string
	}{
		{"blocked without a check", "", ferry.EFORBIDDEN, []string{`"review"`, "there is none"}},
		{"blocked by a failing check", "fail", ferry.EFORBIDDEN, []string{`"review"`, `"fail"`}},
		{"allowed by a passing check", "pass", "", nil},
		{"blocked again by a newer failing check", "fail", ferry.EFORBIDDEN, []string{`"review"`, `"fail"`}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.record != "" {
				c, err := svc.RecordCheck(auth.WithPrincipal(ctx, "ci"), "churn", 1, "review", st.record, `{"auc":0.9}`)
				must(t, err)
				if c.Verdict != st.record || c.CreatedBy != "ci" || c.ID == 0 {
					t.Fatalf("check = %+v", c)
				}
			}
			err := promote()
			if st.code == "" {
				must(t, err)
				return
			}
			wantCode(t, err, st.code)
			for _, m := range st.mention {
				if msg := ferry.ErrorMessage(err); !strings.Contains(msg, m) {
					t.Fatalf("message %q does not mention %s", msg, m)
				}
			}
		})
	}
	t.Run("every missing check is named", func(t *testing.T) {
		_, err := svc.RecordCheck(auth.WithPrincipal(ctx, "ci"), "churn", 1, "review", "pass", "")
		must(t, err)
		_, err = svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "Production", "", false)
		wantCode(t, err, ferry.EFORBIDDEN)
		if msg := ferry.ErrorMessage(err); !strings.Contains(msg, `"bias"`) {
			t.Fatalf("message %q does not name the bias check", msg)
		}
		_, err = svc.RecordCheck(auth.WithPrincipal(ctx, "ci"), "churn", 1, "bias", "pass", "")
		must(t, err)
		v, err := svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "Production", "", false)
		must(t, err)
		if v.Stage != registry.StageProduction {
			t.Fatalf("stage = %s", v.Stage)
		}
	})
	t.Run("bad checks", func(t *testing.T) {
		_, err := svc.RecordCheck(auth.WithPrincipal(ctx, "ci"), "churn", 1, "review", "maybe", "")
		wantCode(t, err, ferry.EINVALID)
		_, err = svc.RecordCheck(auth.WithPrincipal(ctx, "ci"), "churn", 1, "", "pass", "")
		wantCode(t, err, ferry.EINVALID)
		_, err = svc.RecordCheck(auth.WithPrincipal(ctx, "ci"), "churn", 9, "review", "pass", "")
		wantCode(t, err, ferry.ENOTFOUND)
	})
	t.Run("blocked attempts are audited", func(t *testing.T) {
		hist, err := svc.History(ctx, "churn")
		must(t, err)
		n := 0
		for _, h := range hist {
			if h.Action == registry.ActionPromoteBlocked {
				n++
				if h.Principal != "alice" || h.Version != 1 || h.Reason == "" {
					t.Fatalf("blocked event = %+v", h)
				}
			}
		}
		if n != 4 {
			t.Fatalf("%d promotion_blocked events, want 4", n)
		}
	})
}

func TestAliasPolicy(t *testing.T) {
	e := newEnv(t, sqlite.SynchronousNormal, mustPolicy(t, `
default:
  aliases:
    "*": {approval: true}
    shadow: {}
`))
	ctx, svc := e.ctx, e.svc
	run, _ := e.runWithModel(pkg{})
	e.register("alice", "churn", run)
	_, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "shadow", 1, "")
	must(t, err)
	_, err = svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "champion", 1, "")
	wantCode(t, err, ferry.EFORBIDDEN)
	if msg := ferry.ErrorMessage(err); !strings.Contains(msg, "ferry models approve churn 1 --to @champion") {
		t.Fatalf("message = %q", msg)
	}
	_, err = svc.Decide(auth.WithPrincipal(ctx, "bob"), "churn", 1, "@champion", true, "")
	must(t, err)
	v, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "champion", 1, "")
	must(t, err)
	if fmt.Sprint(v.Aliases) != "[champion shadow]" {
		t.Fatalf("aliases = %v", v.Aliases)
	}
	t.Run("a rejected request does not count", func(t *testing.T) {
		_, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "canary", 1, "")
		wantCode(t, err, ferry.EFORBIDDEN)
		_, err = svc.Decide(auth.WithPrincipal(ctx, "bob"), "churn", 1, "@canary", false, "not this week")
		must(t, err)
		_, err = svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "canary", 1, "")
		wantCode(t, err, ferry.EFORBIDDEN)
		reqs, err := e.b.Store.FindRequests(ctx, "churn", 1, "@canary")
		must(t, err)
		if len(reqs) != 2 || reqs[0].Status != registry.RequestRejected || reqs[1].Status != registry.RequestPending {
			t.Fatalf("requests = %+v", reqs)
		}
	})
}

// TestRegisterDir registers versions from local package directories, as
// `ferry models register NAME --from ./dir` does.
func TestRegisterDir(t *testing.T) {
	t.Run("a Ferry package", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		dir := filepath.Join(t.TempDir(), "model")
		built := buildPackage(t, dir, "0123456789abcdef0123456789abcdef", pkg{commit: strings.Repeat("b", 40), datasets: []model.DatasetRef{{Name: "train", Digest: "sha256:aa"}}})
		ctx := auth.WithPrincipal(e.ctx, "carol")
		v, err := e.svc.RegisterDir(ctx, "churn", dir, "", "from my laptop", []registry.Tag{{Key: "team", Value: "growth"}})
		must(t, err)
		if v.Version != 1 || v.UserID != "carol" || v.ModelDigest != built.Digest() || v.Source != dir || v.Description != "from my laptop" ||
			v.RunID != "0123456789abcdef0123456789abcdef" || v.GitCommit != strings.Repeat("b", 40) || fmt.Sprint(v.DatasetDigests) != "[sha256:aa]" ||
			fmt.Sprint(v.Tags) != "[{team growth}]" {
			t.Fatalf("registered %+v", v)
		}
		// The registry holds its own verified copy: the directory may go.
		must(t, os.RemoveAll(dir))
		fetched, err := e.svc.FetchVersion(e.ctx, v, filepath.Join(t.TempDir(), "copy"))
		must(t, err)
		if fetched.Digest() != built.Digest() {
			t.Fatalf("fetched digest %s, want %s", fetched.Digest(), built.Digest())
		}
		hist, err := e.svc.History(e.ctx, "churn")
		must(t, err)
		var got []string
		for _, h := range hist {
			got = append(got, h.Action+" by "+h.Principal)
		}
		if want := "[create_model by carol create_version by carol]"; fmt.Sprint(got) != want {
			t.Fatalf("history = %v, want %s", got, want)
		}
	})
	t.Run("the same package twice", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		dir := filepath.Join(t.TempDir(), "model")
		buildPackage(t, dir, "", pkg{})
		v1, err := e.svc.RegisterDir(e.ctx, "churn", dir, "", "", nil)
		must(t, err)
		v2, err := e.svc.RegisterDir(e.ctx, "churn", dir, "", "", nil)
		must(t, err)
		if v2.Version != 2 || v2.StorageURI != v1.StorageURI || v2.ModelDigest != v1.ModelDigest {
			t.Fatalf("registered again: %+v, first %+v", v2, v1)
		}
	})
	t.Run("an MLflow package", func(t *testing.T) {
		e := newEnv(t, sqlite.SynchronousNormal, nil)
		dir := t.TempDir()
		mlmodel := "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n    python_version: 3.11.7\n" +
			"  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n    sklearn_version: 1.4.0\nmlflow_version: 2.11.1\n" +
			"model_uuid: 5b4a2c0e8f9d4b6a9c1e2f3a4b5c6d7e\nrun_id: fedcba9876543210fedcba9876543210\nutc_time_created: '2024-03-01 10:00:00.000000'\n"
		must(t, os.WriteFile(filepath.Join(dir, model.ManifestFile), []byte(mlmodel), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "model.pkl"), []byte("not really a pickle"), 0o644))
		v, err := e.svc.RegisterDir(auth.WithPrincipal(e.ctx, "dave"), "iris", dir, "", "", nil)
		must(t, err)
		if !strings.HasPrefix(v.ModelDigest, "sha256:") || v.UserID != "dave" || v.Version != 1 {
			t.Fatalf("registered %+v", v)
		}
		if blobs := e.registryBlobs("registry"); len(blobs) != 2 {
			t.Fatalf("registry storage holds %v, want MLmodel and model.pkl", blobs)
		}
	})
	nothing := []struct {
		name string
		dir  func(t *testing.T) string
		code string
	}{
		{"an empty directory", func(t *testing.T) string { return t.TempDir() }, ferry.ENOTFOUND},
		{"a missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, ferry.ENOTFOUND},
		{"a tampered package", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "model")
			buildPackage(t, dir, "", pkg{})
			must(t, os.WriteFile(filepath.Join(dir, "model.json"), []byte(`{"trainer":"logistic","weights":[9]}`), 0o644))
			return dir
		}, ferry.EINVALID},
	}
	for _, tt := range nothing {
		t.Run("nothing registered from "+tt.name, func(t *testing.T) {
			e := newEnv(t, sqlite.SynchronousNormal, nil)
			_, err := e.svc.RegisterDir(e.ctx, "churn", tt.dir(t), "", "", nil)
			wantCode(t, err, tt.code)
			if _, err := e.svc.GetModel(e.ctx, "churn"); ferry.ErrorCode(err) != ferry.ENOTFOUND {
				t.Fatalf("the failed registration left a model behind (GetModel error %v)", err)
			}
			if blobs := e.registryBlobs("registry"); len(blobs) != 0 {
				t.Fatalf("registry storage holds %v", blobs)
			}
		})
	}
}

// TestModelLifecycle renames, describes, searches and deletes through the
// service: changes are audited with the principal of the context, and reads
// carry the latest version per stage.
func TestModelLifecycle(t *testing.T) {
	e := newEnv(t, sqlite.SynchronousNormal, nil)
	ctx, svc := e.ctx, e.svc
	run, _ := e.runWithModel(pkg{})
	e.register("alice", "churn", run)
	run2, _ := e.runWithModel(pkg{weights: "[1,2,3]"})
	e.register("alice", "churn", run2)
	_, err := svc.Promote(auth.WithPrincipal(ctx, "alice"), "churn", 1, "production", "", false)
	must(t, err)

	m, err := svc.RenameModel(auth.WithPrincipal(ctx, "bob"), "churn", "churn-v2")
	must(t, err)
	latest := func(vs []registry.Version) string {
		var out []string
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%d:%s", v.Version, v.Stage))
		}
		return fmt.Sprint(out)
	}
	if m.Name != "churn-v2" || latest(m.Latest) != "[2:None 1:Production]" {
		t.Fatalf("renamed model %+v, latest %s", m, latest(m.Latest))
	}
	m, err = svc.SetModelDescription(ctx, "churn-v2", "predicts churn")
	must(t, err)
	if m.Description != "predicts churn" {
		t.Fatalf("description %q", m.Description)
	}
	v, err := svc.SetVersionDescription(ctx, "churn-v2", 2, "second")
	must(t, err)
	if v.Description != "second" {
		t.Fatalf("version description %q", v.Description)
	}
	vs, err := svc.LatestVersions(ctx, "churn-v2", []string{"production", "None", "Production"})
	must(t, err)
	if got := latest(vs); got != "[1:Production 2:None]" {
		t.Fatalf("LatestVersions = %s", got)
	}
	ms, next, err := svc.SearchModels(ctx, registry.Search{Filter: "name ILIKE 'CHURN%'"})
	must(t, err)
	if len(ms) != 1 || next != "" || latest(ms[0].Latest) != "[2:None 1:Production]" {
		t.Fatalf("SearchModels = %+v, %q", ms, next)
	}
	found, next, err := svc.SearchVersions(ctx, registry.Search{Filter: "name = 'churn-v2'", OrderBy: []string{"version_number ASC"}, MaxResults: 1})
	must(t, err)
	if len(found) != 1 || found[0].Version != 1 || next == "" {
		t.Fatalf("SearchVersions = %+v, %q", found, next)
	}
	must(t, svc.DeleteVersion(auth.WithPrincipal(ctx, "carol"), "churn-v2", 2))
	must(t, svc.DeleteModel(ctx, "churn-v2"))

	evs, err := e.b.Store.ListAudit(ctx, "")
	must(t, err)
	var got []string
	for _, ev := range evs[len(evs)-3:] {
		got = append(got, ev.Action+" "+ev.Model+" by "+ev.Principal)
	}
	if want := "[rename_model churn by bob delete_version churn-v2 by carol delete_model churn-v2 by anonymous]"; fmt.Sprint(got) != want {
		t.Fatalf("audit = %v, want %s", got, want)
	}
}
