package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
)

// RunRegistry checks a registry.Store directly, without the registry.Service
// in front of it, so that every contract of the interface is exercised: the
// audit events passed with a write, the version numbering, the cascades, the
// aliases and their atomic moves. open must return a new, empty store for each
// call.
func RunRegistry(t *testing.T, open func(t *testing.T) registry.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *regFixture)
	}{
		{"CreateGetModel", testRegCreateGetModel},
		{"UpdateModel", testRegUpdateModel},
		{"RenameModel", testRegRenameModel},
		{"DeleteModelCascades", testRegDeleteModel},
		{"ModelTags", testRegModelTags},
		{"SearchModels", testRegSearchModels},
		{"SearchModelsPages", testRegSearchModelsPages},
		{"VersionNumbering", testRegVersionNumbering},
		{"VersionFields", testRegVersionFields},
		{"SamePackageTwice", testRegSamePackageTwice},
		{"DeleteVersion", testRegDeleteVersion},
		{"VersionTags", testRegVersionTags},
		{"SearchVersions", testRegSearchVersions},
		{"SearchVersionsPages", testRegSearchVersionsPages},
		{"SearchModelsManyPages", testRegSearchModelsManyPages},
		{"SearchVersionsManyPages", testRegSearchVersionsManyPages},
		{"LatestVersions", testRegLatestVersions},
		{"TransitionStage", testRegTransitionStage},
		{"Aliases", testRegAliases},
		{"Requests", testRegRequests},
		{"Checks", testRegChecks},
		{"Audit", testRegAudit},
		{"ConcurrentSetAlias", testRegConcurrentSetAlias},
		{"ConcurrentTransitionStage", testRegConcurrentArchive},
		{"ConcurrentCreateVersion", testRegConcurrentCreateVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, &regFixture{t: t, s: open(t), ctx: context.Background(), ms: 1_700_000_000_000})
		})
	}
}

// regFixture holds a store under test and a clock that advances a
// millisecond on every reading, so times are distinct and ordered.
type regFixture struct {
	t   *testing.T
	s   registry.Store
	ctx context.Context
	ms  int64 // read and advanced through atomic operations
	seq atomic.Int64
}

func (f *regFixture) now() int64 { return atomic.AddInt64(&f.ms, 1) }

func (f *regFixture) event(principal, action, model string, version int, from, to, reason string) registry.AuditEvent {
	return registry.AuditEvent{Time: f.now(), Principal: principal, Action: action, Model: model, Version: version, From: from, To: to, Reason: reason}
}

// model registers a model and fails the test on error.
func (f *regFixture) model(name string, tags ...registry.Tag) {
	f.t.Helper()
	now := f.now()
	m := registry.Model{Name: name, Description: "the " + name + " model", CreationTime: now, LastUpdatedTime: now, Tags: tags}
	if err := f.s.CreateModel(f.ctx, m, f.event("ada", registry.ActionCreateModel, name, 0, "", name, "")); err != nil {
		f.t.Fatalf("CreateModel(%q): %v", name, err)
	}
}

// newVersion returns a version of name as the registry service would store
// it, with a unique digest; edit changes it before it is stored.
func (f *regFixture) newVersion(name string, edit ...func(*registry.Version)) registry.Version {
	n := f.seq.Add(1)
	now := f.now()
	v := registry.Version{
		Name: name, CreationTime: now, LastUpdatedTime: now, Description: fmt.Sprintf("candidate %d", n),
		UserID: "ada", Stage: registry.StageNone, Source: fmt.Sprintf("runs:/run%02d/model", n), RunID: fmt.Sprintf("run%02d", n),
		Status: registry.StatusReady, StorageURI: fmt.Sprintf("registry/%s/%064d", name, n), ModelDigest: fmt.Sprintf("sha256:%064d", n),
		GitCommit: strings.Repeat("c", 40), DatasetDigests: []string{fmt.Sprintf("sha256:data%02d", n)},
	}
	for _, e := range edit {
		e(&v)
	}
	return v
}

// version stores a new version of name and fails the test on error.
func (f *regFixture) version(name string, edit ...func(*registry.Version)) registry.Version {
	f.t.Helper()
	v := f.newVersion(name, edit...)
	out, err := f.s.CreateVersion(f.ctx, v, f.event(v.UserID, registry.ActionCreateVersion, name, 0, "", v.ModelDigest, v.Source))
	if err != nil {
		f.t.Fatalf("CreateVersion(%q): %v", name, err)
	}
	return out
}

func (f *regFixture) getModel(name string) registry.Model {
	f.t.Helper()
	m, err := f.s.GetModel(f.ctx, name)
	if err != nil {
		f.t.Fatalf("GetModel(%q): %v", name, err)
	}
	return m
}

func (f *regFixture) getVersion(name string, version int) registry.Version {
	f.t.Helper()
	v, err := f.s.GetVersion(f.ctx, name, version)
	if err != nil {
		f.t.Fatalf("GetVersion(%q, %d): %v", name, version, err)
	}
	return v
}

func (f *regFixture) setAlias(name, alias string, version int) int {
	f.t.Helper()
	prev, err := f.s.SetAlias(f.ctx, name, alias, version, f.event("ada", registry.ActionSetAlias, name, version, "", "@"+alias, ""))
	if err != nil {
		f.t.Fatalf("SetAlias(%q, %q, %d): %v", name, alias, version, err)
	}
	return prev
}

func (f *regFixture) audit(name string) []registry.AuditEvent {
	f.t.Helper()
	evs, err := f.s.ListAudit(f.ctx, name)
	if err != nil {
		f.t.Fatalf("ListAudit(%q): %v", name, err)
	}
	return evs
}

// actions lists the actions of evs, in order.
func actions(evs []registry.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action
	}
	return out
}

// tagString renders tags sorted by key, for comparisons that do not depend on
// the order a backend returns them in.
func tagString(tags []registry.Tag) string {
	s := slices.Clone(tags)
	sort.Slice(s, func(i, j int) bool { return s[i].Key < s[j].Key })
	var parts []string
	for _, t := range s {
		parts = append(parts, t.Key+"="+t.Value)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func aliasString(aliases []string) string {
	s := slices.Clone(aliases)
	sort.Strings(s)
	return fmt.Sprint(s)
}

func modelNames(ms []registry.Model) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func versionRefs(vs []registry.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s/%d", v.Name, v.Version))
	}
	sort.Strings(out)
	return out
}

// sameVersion compares every field of two versions, tags, aliases and
// dataset digests regardless of order.
func sameVersion(a, b registry.Version) bool {
	norm := func(v registry.Version) string {
		tags, aliases, ds := tagString(v.Tags), aliasString(v.Aliases), slices.Clone(v.DatasetDigests)
		sort.Strings(ds)
		v.Tags, v.Aliases, v.DatasetDigests = nil, nil, nil
		return fmt.Sprintf("%+v %s %s %v", v, tags, aliases, ds)
	}
	return norm(a) == norm(b)
}

func testRegCreateGetModel(t *testing.T, f *regFixture) {
	f.model("churn", registry.Tag{Key: "team", Value: "growth"}, registry.Tag{Key: "domain", Value: "retention"})
	m := f.getModel("churn")
	if m.Name != "churn" || m.Description != "the churn model" || m.CreationTime == 0 || m.LastUpdatedTime != m.CreationTime {
		t.Fatalf("GetModel = %+v", m)
	}
	if got := tagString(m.Tags); got != "[domain=retention team=growth]" {
		t.Fatalf("tags = %s", got)
	}
	if len(m.Aliases) != 0 {
		t.Fatalf("a new model has aliases %v", m.Aliases)
	}

	before := len(f.audit("churn"))
	tests := []struct {
		name string
		err  func() error
		code string
	}{
		{"duplicate name", func() error {
			return f.s.CreateModel(f.ctx, registry.Model{Name: "churn", CreationTime: 1, LastUpdatedTime: 1}, f.event("bob", registry.ActionCreateModel, "churn", 0, "", "churn", ""))
		}, ferry.ECONFLICT},
		{"get unknown", func() error { _, err := f.s.GetModel(f.ctx, "nope"); return err }, ferry.ENOTFOUND},
		{"get by prefix", func() error { _, err := f.s.GetModel(f.ctx, "chu"); return err }, ferry.ENOTFOUND},
		{"get by other case", func() error { _, err := f.s.GetModel(f.ctx, "CHURN"); return err }, ferry.ENOTFOUND},
		{"update unknown", func() error { return f.s.UpdateModel(f.ctx, "nope", "x", f.now()) }, ferry.ENOTFOUND},
		{"delete unknown", func() error {
			return f.s.DeleteModel(f.ctx, "nope", f.event("ada", registry.ActionDeleteModel, "nope", 0, "", "", ""))
		}, ferry.ENOTFOUND},
		{"rename unknown", func() error {
			return f.s.RenameModel(f.ctx, "nope", "other", f.event("ada", registry.ActionRenameModel, "nope", 0, "nope", "other", ""))
		}, ferry.ENOTFOUND},
		{"tag unknown", func() error { return f.s.SetModelTag(f.ctx, "nope", registry.Tag{Key: "k", Value: "v"}) }, ferry.ENOTFOUND},
		{"untag unknown", func() error { return f.s.DeleteModelTag(f.ctx, "nope", "k") }, ferry.ENOTFOUND},
		{"version of unknown model", func() error {
			_, err := f.s.CreateVersion(f.ctx, f.newVersion("nope"), f.event("ada", registry.ActionCreateVersion, "nope", 0, "", "", ""))
			return err
		}, ferry.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.err(), tt.code)
		})
	}
	if m2 := f.getModel("churn"); m2.Description != "the churn model" || tagString(m2.Tags) != tagString(m.Tags) {
		t.Fatalf("a failed write changed the model: %+v", m2)
	}
	if got := f.audit("churn"); len(got) != before {
		t.Fatalf("failed writes left audit events: %v", actions(got[before:]))
	}
	if got := f.audit("nope"); len(got) != 0 {
		t.Fatalf("failed writes on an unknown model left audit events: %v", actions(got))
	}
}

func testRegUpdateModel(t *testing.T, f *regFixture) {
	f.model("churn")
	created := f.getModel("churn")
	now := f.now()
	must(t, f.s.UpdateModel(f.ctx, "churn", "gradient-boosted churn", now))
	m := f.getModel("churn")
	if m.Description != "gradient-boosted churn" || m.LastUpdatedTime != now || m.CreationTime != created.CreationTime {
		t.Fatalf("after UpdateModel: %+v (now %d)", m, now)
	}
	must(t, f.s.UpdateModel(f.ctx, "churn", "", f.now()))
	if m := f.getModel("churn"); m.Description != "" {
		t.Fatalf("description not cleared: %q", m.Description)
	}
}

func testRegRenameModel(t *testing.T, f *regFixture) {
	f.model("churn", registry.Tag{Key: "team", Value: "growth"})
	f.model("fraud")
	v1 := f.version("churn")
	f.version("churn")
	f.setAlias("churn", "champion", 1)
	must(t, f.s.SetVersionTag(f.ctx, "churn", 1, registry.Tag{Key: "validated", Value: "yes"}))
	_, err := f.s.AddCheck(f.ctx, registry.Check{Model: "churn", Version: 1, Kind: "validation", Verdict: "pass", Details: "{}", CreatedBy: "ci", CreatedAt: f.now()},
		f.event("ci", registry.ActionRecordCheck, "churn", 1, "", "validation:pass", ""))
	must(t, err)
	_, err = f.s.CreateRequest(f.ctx, registry.Request{Model: "churn", Version: 1, Target: registry.StageProduction, RequestedBy: "ada", RequestedAt: f.now(), Status: registry.RequestPending},
		f.event("ada", registry.ActionRequest, "churn", 1, registry.StageNone, registry.StageProduction, ""))
	must(t, err)

	t.Run("taken name", func(t *testing.T) {
		wantCode(t, f.s.RenameModel(f.ctx, "churn", "fraud", f.event("ada", registry.ActionRenameModel, "churn", 0, "churn", "fraud", "")), ferry.ECONFLICT)
		if m := f.getModel("fraud"); len(m.Aliases) != 0 || len(m.Tags) != 0 {
			t.Fatalf("the other model changed: %+v", m)
		}
	})
	must(t, f.s.RenameModel(f.ctx, "churn", "churn-gbdt", f.event("ada", registry.ActionRenameModel, "churn", 0, "churn", "churn-gbdt", "")))

	_, err = f.s.GetModel(f.ctx, "churn")
	wantCode(t, err, ferry.ENOTFOUND)
	_, err = f.s.GetVersion(f.ctx, "churn", 1)
	wantCode(t, err, ferry.ENOTFOUND)
	m := f.getModel("churn-gbdt")
	if m.Description != "the churn model" || tagString(m.Tags) != "[team=growth]" || fmt.Sprint(m.Aliases) != "map[champion:1]" {
		t.Fatalf("renamed model = %+v", m)
	}
	got := f.getVersion("churn-gbdt", 1)
	want := v1
	want.Name, want.Tags, want.Aliases = "churn-gbdt", []registry.Tag{{Key: "validated", Value: "yes"}}, []string{"champion"}
	got.LastUpdatedTime = want.LastUpdatedTime
	if !sameVersion(got, want) {
		t.Fatalf("version 1 after rename:\n got %+v\nwant %+v", got, want)
	}
	if n, err := f.s.GetAlias(f.ctx, "churn-gbdt", "champion"); err != nil || n != 1 {
		t.Fatalf("GetAlias after rename = %d, %v", n, err)
	}
	if vs, _, err := f.s.SearchVersions(f.ctx, registry.VersionQuery{Dataset: v1.DatasetDigests[0]}); err != nil || fmt.Sprint(versionRefs(vs)) != "[churn-gbdt/1]" {
		t.Fatalf("lineage after rename: %v, %v", versionRefs(vs), err)
	}
	checks, err := f.s.ListChecks(f.ctx, "churn-gbdt", 1)
	must(t, err)
	if len(checks) != 1 {
		t.Fatalf("checks of the renamed model: %+v (a rename must not lose them)", checks)
	}
	reqs, err := f.s.FindRequests(f.ctx, "churn-gbdt", 1, registry.StageProduction)
	must(t, err)
	if len(reqs) != 1 {
		t.Fatalf("requests of the renamed model: %+v (a rename must not lose them)", reqs)
	}
	if v := f.version("churn-gbdt"); v.Version != 3 {
		t.Fatalf("next version after rename = %d, want 3", v.Version)
	}
	all := f.audit("")
	if last := all[len(all)-1]; last.Action != registry.ActionCreateVersion || all[len(all)-2].Action != registry.ActionRenameModel {
		t.Fatalf("audit tail = %v", actions(all))
	}
}

func testRegDeleteModel(t *testing.T, f *regFixture) {
	f.model("churn", registry.Tag{Key: "team", Value: "growth"})
	f.model("fraud")
	v := f.version("churn")
	f.version("churn")
	other := f.version("fraud")
	f.setAlias("churn", "champion", 2)
	f.setAlias("fraud", "champion", other.Version)
	must(t, f.s.SetVersionTag(f.ctx, "churn", 1, registry.Tag{Key: "k", Value: "v"}))
	_, err := f.s.AddCheck(f.ctx, registry.Check{Model: "churn", Version: 1, Kind: "validation", Verdict: "pass", Details: "{}", CreatedBy: "ci", CreatedAt: f.now()},
		f.event("ci", registry.ActionRecordCheck, "churn", 1, "", "validation:pass", ""))
	must(t, err)
	r, err := f.s.CreateRequest(f.ctx, registry.Request{Model: "churn", Version: 1, Target: registry.StageProduction, RequestedBy: "ada", RequestedAt: f.now(), Status: registry.RequestPending},
		f.event("ada", registry.ActionRequest, "churn", 1, registry.StageNone, registry.StageProduction, ""))
	must(t, err)
	_, err = f.s.DecideRequest(f.ctx, r.ID, registry.RequestApproved, "bob", "ok", f.now(), f.event("bob", registry.ActionApprove, "churn", 1, "", registry.StageProduction, "ok"))
	must(t, err)
	before := f.audit("churn")

	must(t, f.s.DeleteModel(f.ctx, "churn", f.event("ada", registry.ActionDeleteModel, "churn", 0, "churn", "", "retired")))

	tests := []struct {
		name string
		err  func() error
	}{
		{"model", func() error { _, err := f.s.GetModel(f.ctx, "churn"); return err }},
		{"version 1", func() error { _, err := f.s.GetVersion(f.ctx, "churn", 1); return err }},
		{"version 2", func() error { _, err := f.s.GetVersion(f.ctx, "churn", 2); return err }},
		{"alias", func() error { _, err := f.s.GetAlias(f.ctx, "churn", "champion"); return err }},
		{"deleting it again", func() error {
			return f.s.DeleteModel(f.ctx, "churn", f.event("ada", registry.ActionDeleteModel, "churn", 0, "", "", ""))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is gone", func(t *testing.T) { wantCode(t, tt.err(), ferry.ENOTFOUND) })
	}
	t.Run("versions are gone from searches", func(t *testing.T) {
		for _, q := range []registry.VersionQuery{{Name: "churn"}, {RunID: v.RunID}, {Dataset: v.DatasetDigests[0]}} {
			vs, _, err := f.s.SearchVersions(f.ctx, q)
			if err != nil && ferry.ErrorCode(err) != ferry.ENOTFOUND {
				t.Fatalf("SearchVersions(%+v): %v", q, err)
			}
			if len(vs) != 0 {
				t.Fatalf("SearchVersions(%+v) after delete = %v", q, versionRefs(vs))
			}
		}
		ms, _, err := f.s.SearchModels(f.ctx, registry.ModelQuery{})
		must(t, err)
		if fmt.Sprint(modelNames(ms)) != "[fraud]" {
			t.Fatalf("models = %v", modelNames(ms))
		}
	})
	t.Run("audit is kept", func(t *testing.T) {
		after := f.audit("churn")
		if len(after) != len(before)+1 {
			t.Fatalf("audit after delete: %v, before %v", actions(after), actions(before))
		}
		for i := range before {
			if after[i] != before[i] {
				t.Fatalf("audit event %d changed: %+v → %+v", i, before[i], after[i])
			}
		}
		if last := after[len(after)-1]; last.Action != registry.ActionDeleteModel || last.Principal != "ada" || last.Reason != "retired" {
			t.Fatalf("delete event = %+v", last)
		}
	})
	t.Run("other model untouched", func(t *testing.T) {
		if m := f.getModel("fraud"); fmt.Sprint(m.Aliases) != fmt.Sprintf("map[champion:%d]", other.Version) {
			t.Fatalf("fraud = %+v", m)
		}
		f.getVersion("fraud", other.Version)
	})
	t.Run("a new model of the same name starts clean", func(t *testing.T) {
		f.model("churn")
		m := f.getModel("churn")
		if len(m.Tags) != 0 || len(m.Aliases) != 0 {
			t.Fatalf("re-created model inherited %+v", m)
		}
		nv := f.version("churn")
		if len(nv.Tags) != 0 || len(nv.Aliases) != 0 {
			t.Fatalf("new version inherited %+v", nv)
		}
		// Checks and approvals of the deleted model must not count for the
		// new one: that would let it skip the promotion policy.
		checks, err := f.s.ListChecks(f.ctx, "churn", nv.Version)
		must(t, err)
		if len(checks) != 0 {
			t.Fatalf("version %d of the re-created model inherits checks %+v", nv.Version, checks)
		}
		reqs, err := f.s.FindRequests(f.ctx, "churn", nv.Version, registry.StageProduction)
		must(t, err)
		if len(reqs) != 0 {
			t.Fatalf("version %d of the re-created model inherits requests %+v", nv.Version, reqs)
		}
	})
}

func testRegModelTags(t *testing.T, f *regFixture) {
	f.model("churn", registry.Tag{Key: "team", Value: "growth"})
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"add", func() error { return f.s.SetModelTag(f.ctx, "churn", registry.Tag{Key: "owner", Value: "ada"}) }, "[owner=ada team=growth]"},
		{"replace", func() error { return f.s.SetModelTag(f.ctx, "churn", registry.Tag{Key: "team", Value: "core"}) }, "[owner=ada team=core]"},
		{"empty value", func() error { return f.s.SetModelTag(f.ctx, "churn", registry.Tag{Key: "note", Value: ""}) }, "[note= owner=ada team=core]"},
		{"delete", func() error { return f.s.DeleteModelTag(f.ctx, "churn", "owner") }, "[note= team=core]"},
		{"key is case-sensitive", func() error { return f.s.SetModelTag(f.ctx, "churn", registry.Tag{Key: "Team", Value: "x"}) }, "[Team=x note= team=core]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, tt.do())
			if got := tagString(f.getModel("churn").Tags); got != tt.want {
				t.Fatalf("tags = %s, want %s", got, tt.want)
			}
		})
	}
}

func testRegVersionNumbering(t *testing.T, f *regFixture) {
	f.model("churn")
	f.model("fraud")
	steps := []struct {
		model string
		want  int
	}{
		{"churn", 1}, {"churn", 2}, {"fraud", 1}, {"churn", 3}, {"fraud", 2},
	}
	for _, st := range steps {
		t.Run(fmt.Sprintf("%s v%d", st.model, st.want), func(t *testing.T) {
			if v := f.version(st.model); v.Version != st.want {
				t.Fatalf("version = %d, want %d", v.Version, st.want)
			}
		})
	}
	t.Run("audit events carry the number given", func(t *testing.T) {
		var got []string
		for _, e := range f.audit("") {
			if e.Action == registry.ActionCreateVersion {
				got = append(got, fmt.Sprintf("%s/%d", e.Model, e.Version))
			}
		}
		if fmt.Sprint(got) != "[churn/1 churn/2 fraud/1 churn/3 fraud/2]" {
			t.Fatalf("create_version events = %v", got)
		}
	})
	t.Run("numbers are not reused after the newest version is deleted", func(t *testing.T) {
		// models:/churn/3 names one package for ever: a number given out
		// once is never given to other bytes, as in MLflow.
		must(t, f.s.DeleteVersion(f.ctx, "churn", 3, f.event("ada", registry.ActionDeleteVersion, "churn", 3, "", "", "")))
		if v := f.version("churn"); v.Version != 4 {
			t.Fatalf("version after deleting v3 = %d, want 4", v.Version)
		}
	})
}

func testRegVersionFields(t *testing.T, f *regFixture) {
	f.model("churn")
	in := f.newVersion("churn", func(v *registry.Version) {
		v.Tags = []registry.Tag{{Key: "framework", Value: "gbdt"}, {Key: "owner", Value: "ada"}}
		v.GitDirty = true
		v.DatasetDigests = []string{"sha256:train", "sha256:valid"}
		v.StatusMessage = "registered from a run"
	})
	out, err := f.s.CreateVersion(f.ctx, in, f.event("ada", registry.ActionCreateVersion, "churn", 0, "", in.ModelDigest, in.Source))
	must(t, err)
	want := in
	want.Version = 1
	if !sameVersion(out, want) {
		t.Fatalf("CreateVersion returned\n %+v\nwant\n %+v", out, want)
	}
	if got := f.getVersion("churn", 1); !sameVersion(got, want) {
		t.Fatalf("GetVersion =\n %+v\nwant\n %+v", got, want)
	}

	now := f.now()
	must(t, f.s.UpdateVersion(f.ctx, "churn", 1, "the better one", now))
	want.Description, want.LastUpdatedTime = "the better one", now
	if got := f.getVersion("churn", 1); !sameVersion(got, want) {
		t.Fatalf("after UpdateVersion =\n %+v\nwant\n %+v", got, want)
	}

	tests := []struct {
		name string
		err  func() error
	}{
		{"get unknown version", func() error { _, err := f.s.GetVersion(f.ctx, "churn", 2); return err }},
		{"get version 0", func() error { _, err := f.s.GetVersion(f.ctx, "churn", 0); return err }},
		{"get negative version", func() error { _, err := f.s.GetVersion(f.ctx, "churn", -1); return err }},
		{"get unknown model", func() error { _, err := f.s.GetVersion(f.ctx, "nope", 1); return err }},
		{"update unknown version", func() error { return f.s.UpdateVersion(f.ctx, "churn", 2, "x", f.now()) }},
		{"update unknown model", func() error { return f.s.UpdateVersion(f.ctx, "nope", 1, "x", f.now()) }},
		{"delete unknown version", func() error {
			return f.s.DeleteVersion(f.ctx, "churn", 2, f.event("ada", registry.ActionDeleteVersion, "churn", 2, "", "", ""))
		}},
		{"tag unknown version", func() error { return f.s.SetVersionTag(f.ctx, "churn", 2, registry.Tag{Key: "k", Value: "v"}) }},
		{"untag unknown version", func() error { return f.s.DeleteVersionTag(f.ctx, "churn", 2, "k") }},
		{"transition unknown version", func() error {
			_, err := f.s.TransitionStage(f.ctx, "churn", 2, registry.StageStaging, false, f.event("ada", registry.ActionTransition, "churn", 2, "", registry.StageStaging, ""))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.err(), ferry.ENOTFOUND) })
	}
	if evs := f.audit("churn"); fmt.Sprint(actions(evs)) != "[create_model create_version]" {
		t.Fatalf("failed writes left audit events: %v", actions(evs))
	}
}

func testRegDeleteVersion(t *testing.T, f *regFixture) {
	f.model("churn")
	for range 3 {
		f.version("churn")
	}
	f.setAlias("churn", "champion", 2)
	f.setAlias("churn", "shadow", 2)
	f.setAlias("churn", "challenger", 3)
	must(t, f.s.SetVersionTag(f.ctx, "churn", 2, registry.Tag{Key: "k", Value: "v"}))

	must(t, f.s.DeleteVersion(f.ctx, "churn", 2, f.event("bob", registry.ActionDeleteVersion, "churn", 2, "", "", "bad model")))

	_, err := f.s.GetVersion(f.ctx, "churn", 2)
	wantCode(t, err, ferry.ENOTFOUND)
	for _, alias := range []string{"champion", "shadow"} {
		_, err := f.s.GetAlias(f.ctx, "churn", alias)
		wantCode(t, err, ferry.ENOTFOUND)
	}
	if m := f.getModel("churn"); fmt.Sprint(m.Aliases) != "map[challenger:3]" {
		t.Fatalf("aliases after deleting v2 = %v", m.Aliases)
	}
	vs, _, err := f.s.SearchVersions(f.ctx, registry.VersionQuery{Name: "churn"})
	must(t, err)
	if fmt.Sprint(versionRefs(vs)) != "[churn/1 churn/3]" {
		t.Fatalf("versions = %v", versionRefs(vs))
	}
	// A tag left behind would reappear on a later version 2 if numbers were reused.
	must(t, f.s.SetVersionTag(f.ctx, "churn", 3, registry.Tag{Key: "k", Value: "three"}))
	if v := f.getVersion("churn", 3); tagString(v.Tags) != "[k=three]" {
		t.Fatalf("v3 tags = %s", tagString(v.Tags))
	}
	evs := f.audit("churn")
	last := evs[len(evs)-1]
	if last.Action != registry.ActionDeleteVersion || last.Version != 2 || last.Principal != "bob" || last.Reason != "bad model" {
		t.Fatalf("delete event = %+v", last)
	}
	wantCode(t, f.s.DeleteVersion(f.ctx, "churn", 2, f.event("bob", registry.ActionDeleteVersion, "churn", 2, "", "", "")), ferry.ENOTFOUND)

	t.Run("a later version inherits nothing of a deleted newest one", func(t *testing.T) {
		// The promotion policy reads checks and approved requests by
		// (model, version); what was recorded for a deleted version must
		// never count for the bytes registered after it.
		f.model("fresh")
		for range 3 {
			f.version("fresh")
		}
		_, err := f.s.AddCheck(f.ctx, registry.Check{Model: "fresh", Version: 3, Kind: "validation", Verdict: "pass", Details: "{}", CreatedBy: "ci", CreatedAt: f.now()},
			f.event("ci", registry.ActionRecordCheck, "fresh", 3, "", "validation:pass", ""))
		must(t, err)
		r, err := f.s.CreateRequest(f.ctx, registry.Request{Model: "fresh", Version: 3, Target: registry.StageProduction, RequestedBy: "ada", RequestedAt: f.now(), Status: registry.RequestPending},
			f.event("ada", registry.ActionRequest, "fresh", 3, registry.StageNone, registry.StageProduction, ""))
		must(t, err)
		_, err = f.s.DecideRequest(f.ctx, r.ID, registry.RequestApproved, "bob", "", f.now(), f.event("bob", registry.ActionApprove, "fresh", 3, "", registry.StageProduction, ""))
		must(t, err)
		must(t, f.s.DeleteVersion(f.ctx, "fresh", 3, f.event("bob", registry.ActionDeleteVersion, "fresh", 3, "", "", "")))
		nv := f.version("fresh")
		checks, err := f.s.ListChecks(f.ctx, "fresh", nv.Version)
		must(t, err)
		reqs, err := f.s.FindRequests(f.ctx, "fresh", nv.Version, registry.StageProduction)
		must(t, err)
		if len(checks) != 0 || len(reqs) != 0 || len(nv.Tags) != 0 || len(nv.Aliases) != 0 {
			t.Fatalf("new version %d inherits checks %+v, requests %+v, tags %v, aliases %v", nv.Version, checks, reqs, nv.Tags, nv.Aliases)
		}
	})
}

func testRegVersionTags(t *testing.T, f *regFixture) {
	f.model("churn")
	f.version("churn", func(v *registry.Version) { v.Tags = []registry.Tag{{Key: "framework", Value: "gbdt"}} })
	f.version("churn")
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"add", func() error { return f.s.SetVersionTag(f.ctx, "churn", 1, registry.Tag{Key: "validated", Value: "no"}) }, "[framework=gbdt validated=no]"},
		{"replace", func() error {
			return f.s.SetVersionTag(f.ctx, "churn", 1, registry.Tag{Key: "validated", Value: "yes"})
		}, "[framework=gbdt validated=yes]"},
		{"delete", func() error { return f.s.DeleteVersionTag(f.ctx, "churn", 1, "framework") }, "[validated=yes]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, tt.do())
			if got := tagString(f.getVersion("churn", 1).Tags); got != tt.want {
				t.Fatalf("tags = %s, want %s", got, tt.want)
			}
			if got := f.getVersion("churn", 2).Tags; len(got) != 0 {
				t.Fatalf("version 2 got tags %v", got)
			}
			if got := f.getModel("churn").Tags; len(got) != 0 {
				t.Fatalf("the model got tags %v", got)
			}
		})
	}
}

// testRegSamePackageTwice: versions of a model may share a package digest and
// its stored copy — registering the same package again is a new version, as
// in MLflow — and a search by digest finds them all.
func testRegSamePackageTwice(t *testing.T, f *regFixture) {
	f.model("churn")
	v1 := f.version("churn")
	same := func(v *registry.Version) {
		v.ModelDigest, v.StorageURI, v.Source = v1.ModelDigest, v1.StorageURI, v1.Source
	}
	v2 := f.version("churn", same)
	v3 := f.version("churn", same)
	if v2.Version != 2 || v3.Version != 3 || v2.ModelDigest != v1.ModelDigest || v3.StorageURI != v1.StorageURI {
		t.Fatalf("versions of one package = %+v, %+v", v2, v3)
	}
	vs, _, err := f.s.SearchVersions(f.ctx, registry.VersionQuery{Name: "churn", Digest: v1.ModelDigest})
	must(t, err)
	if got := fmt.Sprint(versionRefs(vs)); got != "[churn/1 churn/2 churn/3]" {
		t.Fatalf("search by digest = %s", got)
	}
	// Another model may hold the same package too.
	f.model("fraud")
	if v := f.version("fraud", same); v.Version != 1 {
		t.Fatalf("fraud version %d", v.Version)
	}
}
