package storetest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
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

func testRegTransitionStage(t *testing.T, f *regFixture) {
	f.model("churn")
	f.model("fraud")
	for range 4 {
		f.version("churn")
	}
	f.version("fraud")
	move := func(t *testing.T, version int, stage string, archive bool) registry.Version {
		t.Helper()
		from := f.getVersion("churn", version).Stage
		v, err := f.s.TransitionStage(f.ctx, "churn", version, stage, archive, f.event("ada", registry.ActionTransition, "churn", version, from, stage, "because"))
		if err != nil {
			t.Fatalf("TransitionStage(v%d → %s): %v", version, stage, err)
		}
		return v
	}
	stages := func() string {
		var out []string
		for v := 1; v <= 4; v++ {
			out = append(out, f.getVersion("churn", v).Stage)
		}
		return strings.Join(out, " ")
	}
	var events []registry.AuditEvent
	eventsSince := func() []registry.AuditEvent {
		all := f.audit("churn")
		out := all[len(events):]
		events = all
		return out
	}
	eventsSince()

	type wantEvent struct {
		version  int
		from, to string
	}
	tests := []struct {
		name    string
		version int
		stage   string
		archive bool
		stages  string
		events  []wantEvent
	}{
		{"v1 to Production", 1, registry.StageProduction, false, "Production None None None", []wantEvent{{1, "None", "Production"}}},
		{"v2 to Production, keeping v1", 2, registry.StageProduction, false, "Production Production None None", []wantEvent{{2, "None", "Production"}}},
		{"v3 to Staging", 3, registry.StageStaging, false, "Production Production Staging None", []wantEvent{{3, "None", "Staging"}}},
		{"v4 to Production, archiving the others there", 4, registry.StageProduction, true, "Archived Archived Staging Production",
			[]wantEvent{{1, "Production", "Archived"}, {2, "Production", "Archived"}, {4, "None", "Production"}}},
		{"v3 to Production, archiving v4 only", 3, registry.StageProduction, true, "Archived Archived Production Archived",
			[]wantEvent{{4, "Production", "Archived"}, {3, "Staging", "Production"}}},
		{"v1 back to None", 1, registry.StageNone, false, "None Archived Production Archived", []wantEvent{{1, "Archived", "None"}}},
		{"archive with nothing to archive", 2, registry.StageStaging, true, "None Staging Production Archived", []wantEvent{{2, "Archived", "Staging"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := move(t, tt.version, tt.stage, tt.archive)
			if v.Version != tt.version || v.Stage != tt.stage || v.Name != "churn" {
				t.Fatalf("TransitionStage returned %+v", v)
			}
			if got := stages(); got != tt.stages {
				t.Fatalf("stages = %s, want %s", got, tt.stages)
			}
			evs := eventsSince()
			if len(evs) != len(tt.events) {
				t.Fatalf("events = %+v, want %d", evs, len(tt.events))
			}
			// The archiving events may come before or after the move's own.
			sort.SliceStable(evs, func(i, j int) bool { return evs[i].To == registry.StageArchived && evs[j].To != registry.StageArchived })
			sort.SliceStable(tt.events, func(i, j int) bool {
				return tt.events[i].to == registry.StageArchived && tt.events[j].to != registry.StageArchived
			})
			for i, e := range evs {
				w := tt.events[i]
				if e.Action != registry.ActionTransition || e.Principal != "ada" || e.Model != "churn" || e.Version != w.version || e.From != w.from || e.To != w.to {
					t.Fatalf("event %d = %+v, want version %d %s → %s by ada", i, e, w.version, w.from, w.to)
				}
			}
		})
	}
	if v := f.getVersion("fraud", 1); v.Stage != registry.StageNone {
		t.Fatalf("another model's version moved to %s", v.Stage)
	}
}

// aliasFrom reads the previous version out of a set_alias event's From, which
// the store fills in: 0 when the alias pointed nowhere.
var trailingNumber = regexp.MustCompile(`(\d+)$`)

func aliasFrom(e registry.AuditEvent) int {
	m := trailingNumber.FindStringSubmatch(e.From)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func testRegAliases(t *testing.T, f *regFixture) {
	f.model("churn")
	f.model("fraud")
	for range 3 {
		f.version("churn")
	}
	f.version("fraud")

	steps := []struct {
		name     string
		alias    string
		version  int
		prev     int
		aliases  string
		byVerson map[int]string
	}{
		{"new alias", "champion", 1, 0, "map[champion:1]", map[int]string{1: "[champion]", 2: "[]", 3: "[]"}},
		{"second alias on the same version", "shadow", 1, 0, "map[champion:1 shadow:1]", map[int]string{1: "[champion shadow]"}},
		{"move", "champion", 2, 1, "map[champion:2 shadow:1]", map[int]string{1: "[shadow]", 2: "[champion]"}},
		{"set to where it is", "champion", 2, 2, "map[champion:2 shadow:1]", map[int]string{2: "[champion]"}},
		{"aliases are case-sensitive", "Champion", 3, 0, "map[Champion:3 champion:2 shadow:1]", map[int]string{3: "[Champion]"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if prev := f.setAlias("churn", st.alias, st.version); prev != st.prev {
				t.Fatalf("SetAlias returned previous %d, want %d", prev, st.prev)
			}
			evs := f.audit("churn")
			e := evs[len(evs)-1]
			if e.Action != registry.ActionSetAlias || e.Version != st.version || e.To != "@"+st.alias || aliasFrom(e) != st.prev {
				t.Fatalf("event = %+v, want version %d from %d", e, st.version, st.prev)
			}
			if n, err := f.s.GetAlias(f.ctx, "churn", st.alias); err != nil || n != st.version {
				t.Fatalf("GetAlias = %d, %v", n, err)
			}
			if got := fmt.Sprint(f.getModel("churn").Aliases); got != st.aliases {
				t.Fatalf("Model.Aliases = %s, want %s", got, st.aliases)
			}
			for v, want := range st.byVerson {
				if got := aliasString(f.getVersion("churn", v).Aliases); got != want {
					t.Fatalf("version %d aliases = %s, want %s", v, got, want)
				}
			}
		})
	}
	t.Run("same alias on another model", func(t *testing.T) {
		if prev := f.setAlias("fraud", "champion", 1); prev != 0 {
			t.Fatalf("previous = %d", prev)
		}
		if n, _ := f.s.GetAlias(f.ctx, "churn", "champion"); n != 2 {
			t.Fatalf("churn@champion moved to %d", n)
		}
	})

	before := len(f.audit(""))
	errs := []struct {
		name string
		err  func() error
	}{
		{"set to unknown version", func() error {
			_, err := f.s.SetAlias(f.ctx, "churn", "champion", 9, f.event("ada", registry.ActionSetAlias, "churn", 9, "", "@champion", ""))
			return err
		}},
		{"set on unknown model", func() error {
			_, err := f.s.SetAlias(f.ctx, "nope", "champion", 1, f.event("ada", registry.ActionSetAlias, "nope", 1, "", "@champion", ""))
			return err
		}},
		{"get unknown alias", func() error { _, err := f.s.GetAlias(f.ctx, "churn", "nope"); return err }},
		{"get alias of unknown model", func() error { _, err := f.s.GetAlias(f.ctx, "nope", "champion"); return err }},
		{"get alias by other case", func() error { _, err := f.s.GetAlias(f.ctx, "churn", "SHADOW"); return err }},
		{"delete alias of unknown model", func() error {
			return f.s.DeleteAlias(f.ctx, "nope", "champion", f.event("ada", registry.ActionDeleteAlias, "nope", 0, "@champion", "", ""))
		}},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.err(), ferry.ENOTFOUND) })
	}
	if n, _ := f.s.GetAlias(f.ctx, "churn", "champion"); n != 2 {
		t.Fatalf("a failed SetAlias moved the alias to %d", n)
	}
	if after := f.audit(""); len(after) != before {
		t.Fatalf("failed alias writes left events %v", actions(after[before:]))
	}

	t.Run("delete", func(t *testing.T) {
		must(t, f.s.DeleteAlias(f.ctx, "churn", "shadow", f.event("bob", registry.ActionDeleteAlias, "churn", 0, "@shadow", "", "")))
		_, err := f.s.GetAlias(f.ctx, "churn", "shadow")
		wantCode(t, err, ferry.ENOTFOUND)
		if got := fmt.Sprint(f.getModel("churn").Aliases); got != "map[Champion:3 champion:2]" {
			t.Fatalf("aliases = %s", got)
		}
		if got := aliasString(f.getVersion("churn", 1).Aliases); got != "[]" {
			t.Fatalf("v1 aliases = %s", got)
		}
		evs := f.audit("churn")
		if e := evs[len(evs)-1]; e.Action != registry.ActionDeleteAlias || e.Principal != "bob" {
			t.Fatalf("event = %+v", e)
		}
		// Deleting it again is either a no-op or ENOTFOUND; it never
		// resurrects or records a deletion that did not happen twice.
		err = f.s.DeleteAlias(f.ctx, "churn", "shadow", f.event("bob", registry.ActionDeleteAlias, "churn", 0, "@shadow", "", ""))
		if err != nil {
			wantCode(t, err, ferry.ENOTFOUND)
			if n := len(f.audit("churn")); n != len(evs) {
				t.Fatal("a failed DeleteAlias left an event")
			}
		}
	})
}

func testRegRequests(t *testing.T, f *regFixture) {
	f.model("churn")
	f.version("churn")
	f.version("churn")
	req := func(version int, target, by string) registry.Request {
		t.Helper()
		r, err := f.s.CreateRequest(f.ctx, registry.Request{Model: "churn", Version: version, Target: target, RequestedBy: by, RequestedAt: f.now(), Reason: "better auc", Status: registry.RequestPending},
			f.event(by, registry.ActionRequest, "churn", version, registry.StageNone, target, "better auc"))
		must(t, err)
		return r
	}
	r1 := req(1, registry.StageProduction, "ada")
	if r1.ID == 0 || r1.Status != registry.RequestPending || r1.RequestedBy != "ada" || r1.Reason != "better auc" || r1.Target != registry.StageProduction {
		t.Fatalf("CreateRequest = %+v", r1)
	}
	r2 := req(1, "@champion", "ada")
	r3 := req(2, registry.StageProduction, "ada")
	if r2.ID == r1.ID || r3.ID == r2.ID {
		t.Fatalf("ids %d %d %d", r1.ID, r2.ID, r3.ID)
	}

	find := func(t *testing.T, version int, target string) []registry.Request {
		t.Helper()
		rs, err := f.s.FindRequests(f.ctx, "churn", version, target)
		must(t, err)
		return rs
	}
	t.Run("find by version and target", func(t *testing.T) {
		if rs := find(t, 1, registry.StageProduction); len(rs) != 1 || rs[0].ID != r1.ID || rs[0] != r1 {
			t.Fatalf("FindRequests(1, Production) = %+v, want %+v", rs, r1)
		}
		if rs := find(t, 1, "@champion"); len(rs) != 1 || rs[0].ID != r2.ID {
			t.Fatalf("FindRequests(1, @champion) = %+v", rs)
		}
		if rs := find(t, 2, registry.StageStaging); len(rs) != 0 {
			t.Fatalf("FindRequests(2, Staging) = %+v", rs)
		}
	})

	now := f.now()
	d, err := f.s.DecideRequest(f.ctx, r1.ID, registry.RequestRejected, "bob", "not yet", now, f.event("bob", registry.ActionReject, "churn", 1, "", registry.StageProduction, "not yet"))
	must(t, err)
	if d.ID != r1.ID || d.Status != registry.RequestRejected || d.DecidedBy != "bob" || d.DecidedAt != now || d.Comment != "not yet" || d.RequestedBy != "ada" {
		t.Fatalf("DecideRequest = %+v", d)
	}
	r4 := req(1, registry.StageProduction, "ada")
	t.Run("oldest first", func(t *testing.T) {
		rs := find(t, 1, registry.StageProduction)
		if len(rs) != 2 || rs[0].ID != r1.ID || rs[1].ID != r4.ID || rs[0] != d || rs[1].Status != registry.RequestPending {
			t.Fatalf("FindRequests = %+v", rs)
		}
	})
	_, err = f.s.DecideRequest(f.ctx, r4.ID, registry.RequestApproved, "carol", "", f.now(), f.event("carol", registry.ActionApprove, "churn", 1, "", registry.StageProduction, ""))
	must(t, err)

	before := f.audit("churn")
	errs := []struct {
		name string
		err  func() error
		code string
	}{
		{"decide twice", func() error {
			_, err := f.s.DecideRequest(f.ctx, r4.ID, registry.RequestRejected, "dave", "", f.now(), f.event("dave", registry.ActionReject, "churn", 1, "", registry.StageProduction, ""))
			return err
		}, ferry.ECONFLICT},
		{"decide a rejected one", func() error {
			_, err := f.s.DecideRequest(f.ctx, r1.ID, registry.RequestApproved, "dave", "", f.now(), f.event("dave", registry.ActionApprove, "churn", 1, "", registry.StageProduction, ""))
			return err
		}, ferry.ECONFLICT},
		{"decide unknown", func() error {
			_, err := f.s.DecideRequest(f.ctx, 999999, registry.RequestApproved, "dave", "", f.now(), f.event("dave", registry.ActionApprove, "churn", 1, "", registry.StageProduction, ""))
			return err
		}, ferry.ENOTFOUND},
		{"request for unknown version", func() error {
			_, err := f.s.CreateRequest(f.ctx, registry.Request{Model: "churn", Version: 9, Target: registry.StageProduction, RequestedBy: "ada", RequestedAt: f.now(), Status: registry.RequestPending},
				f.event("ada", registry.ActionRequest, "churn", 9, "", registry.StageProduction, ""))
			return err
		}, ferry.ENOTFOUND},
		{"request for unknown model", func() error {
			_, err := f.s.CreateRequest(f.ctx, registry.Request{Model: "nope", Version: 1, Target: registry.StageProduction, RequestedBy: "ada", RequestedAt: f.now(), Status: registry.RequestPending},
				f.event("ada", registry.ActionRequest, "nope", 1, "", registry.StageProduction, ""))
			return err
		}, ferry.ENOTFOUND},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.err(), tt.code) })
	}
	if rs := find(t, 1, registry.StageProduction); rs[1].Status != registry.RequestApproved || rs[1].DecidedBy != "carol" || rs[0].Status != registry.RequestRejected {
		t.Fatalf("a failed decision changed requests: %+v", rs)
	}
	if after := f.audit("churn"); len(after) != len(before) {
		t.Fatalf("failed writes left events %v", actions(after[len(before):]))
	}
	if got := fmt.Sprint(actions(before)); got != "[create_model create_version create_version request_promotion request_promotion request_promotion reject request_promotion approve]" {
		t.Fatalf("audit = %s", got)
	}
}

func testRegChecks(t *testing.T, f *regFixture) {
	f.model("churn")
	f.version("churn")
	f.version("churn")
	add := func(version int, kind, verdict string) registry.Check {
		t.Helper()
		c, err := f.s.AddCheck(f.ctx, registry.Check{Model: "churn", Version: version, Kind: kind, Verdict: verdict, Details: `{"auc":0.91}`, CreatedBy: "ci", CreatedAt: f.now()},
			f.event("ci", registry.ActionRecordCheck, "churn", version, "", kind+":"+verdict, ""))
		must(t, err)
		return c
	}
	c1 := add(1, "validation", "fail")
	c2 := add(1, "validation", "pass")
	c3 := add(1, "bias", "pass")
	add(2, "validation", "pass")
	if c1.ID == 0 || c1.ID == c2.ID || c1.Kind != "validation" || c1.Verdict != "fail" || c1.Details != `{"auc":0.91}` || c1.CreatedBy != "ci" || c1.CreatedAt == 0 {
		t.Fatalf("AddCheck = %+v", c1)
	}
	cs, err := f.s.ListChecks(f.ctx, "churn", 1)
	must(t, err)
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	if len(cs) != 3 || cs[0] != c1 || cs[1] != c2 || cs[2] != c3 {
		t.Fatalf("ListChecks(1) = %+v", cs)
	}
	if cs, err := f.s.ListChecks(f.ctx, "churn", 2); err != nil || len(cs) != 1 {
		t.Fatalf("ListChecks(2) = %+v, %v", cs, err)
	}
	errs := []struct {
		name    string
		model   string
		version int
	}{
		{"unknown version", "churn", 9},
		{"unknown model", "nope", 1},
	}
	for _, tt := range errs {
		t.Run("add for "+tt.name, func(t *testing.T) {
			_, err := f.s.AddCheck(f.ctx, registry.Check{Model: tt.model, Version: tt.version, Kind: "validation", Verdict: "pass", CreatedBy: "ci", CreatedAt: f.now()},
				f.event("ci", registry.ActionRecordCheck, tt.model, tt.version, "", "validation:pass", ""))
			wantCode(t, err, ferry.ENOTFOUND)
		})
	}
	t.Run("list for unknown version", func(t *testing.T) {
		cs, err := f.s.ListChecks(f.ctx, "churn", 9)
		if err != nil {
			wantCode(t, err, ferry.ENOTFOUND)
		}
		if len(cs) != 0 {
			t.Fatalf("checks = %+v", cs)
		}
	})
	if got := fmt.Sprint(actions(f.audit("churn"))); got != "[create_model create_version create_version record_check record_check record_check record_check]" {
		t.Fatalf("audit = %s", got)
	}
}

func testRegAudit(t *testing.T, f *regFixture) {
	var want []registry.AuditEvent
	expect := func(ev registry.AuditEvent) registry.AuditEvent { want = append(want, ev); return ev }
	ctx, s := f.ctx, f.s
	now := f.now()
	must(t, s.CreateModel(ctx, registry.Model{Name: "churn", CreationTime: now, LastUpdatedTime: now}, expect(f.event("ada", registry.ActionCreateModel, "churn", 0, "", "churn", "new model"))))
	now = f.now()
	must(t, s.CreateModel(ctx, registry.Model{Name: "other", CreationTime: now, LastUpdatedTime: now}, f.event("zed", registry.ActionCreateModel, "other", 0, "", "other", "")))
	for range 2 {
		v := f.newVersion("churn")
		ev := f.event("ada", registry.ActionCreateVersion, "churn", 0, "", v.ModelDigest, v.Source)
		out, err := s.CreateVersion(ctx, v, ev)
		must(t, err)
		ev.Version = out.Version
		expect(ev)
	}
	ev := f.event("ada", registry.ActionTransition, "churn", 1, registry.StageNone, registry.StageStaging, "smoke tests pass")
	_, err := s.TransitionStage(ctx, "churn", 1, registry.StageStaging, false, expect(ev))
	must(t, err)
	ev = f.event("ada", registry.ActionSetAlias, "churn", 1, "", "@challenger", "try it")
	_, err = s.SetAlias(ctx, "churn", "challenger", 1, expect(ev))
	must(t, err)
	ev = f.event("ada", registry.ActionSetAlias, "churn", 2, "", "@challenger", "newer")
	_, err = s.SetAlias(ctx, "churn", "challenger", 2, ev)
	must(t, err)
	ev.From = "@challenger on version 1" // filled by the store; checked by number below
	expect(ev)
	r, err := s.CreateRequest(ctx, registry.Request{Model: "churn", Version: 2, Target: registry.StageProduction, RequestedBy: "ada", RequestedAt: f.now(), Status: registry.RequestPending},
		expect(f.event("ada", registry.ActionRequest, "churn", 2, registry.StageNone, registry.StageProduction, "ship it")))
	must(t, err)
	_, err = s.DecideRequest(ctx, r.ID, registry.RequestApproved, "bob", "lgtm", f.now(), expect(f.event("bob", registry.ActionApprove, "churn", 2, "", registry.StageProduction, "lgtm")))
	must(t, err)
	_, err = s.AddCheck(ctx, registry.Check{Model: "churn", Version: 2, Kind: "validation", Verdict: "pass", CreatedBy: "ci", CreatedAt: f.now()},
		expect(f.event("ci", registry.ActionRecordCheck, "churn", 2, "", "validation:pass", "")))
	must(t, err)
	must(t, s.AppendAudit(ctx, expect(f.event("bob", registry.ActionPromoteBlocked, "churn", 2, registry.StageNone, registry.StageProduction, "self-approval refused"))))
	must(t, s.DeleteAlias(ctx, "churn", "challenger", expect(f.event("ada", registry.ActionDeleteAlias, "churn", 0, "@challenger", "", ""))))
	must(t, s.DeleteVersion(ctx, "churn", 1, expect(f.event("ada", registry.ActionDeleteVersion, "churn", 1, "", "", "superseded"))))
	must(t, s.UpdateModel(ctx, "churn", "no event", f.now()))
	must(t, s.SetModelTag(ctx, "churn", registry.Tag{Key: "no", Value: "event"}))

	got := f.audit("churn")
	if len(got) != len(want) {
		t.Fatalf("audit has %d events, want %d:\n got %v\nwant %v", len(got), len(want), actions(got), actions(want))
	}
	for i := range want {
		t.Run(fmt.Sprintf("%02d %s", i, want[i].Action), func(t *testing.T) {
			g, w := got[i], want[i]
			if i > 0 && g.ID <= got[i-1].ID {
				t.Fatalf("ids not increasing: %d after %d", g.ID, got[i-1].ID)
			}
			if w.Action == registry.ActionSetAlias {
				if aliasFrom(g) != aliasFrom(w) {
					t.Fatalf("From = %q, want the previous version %d", g.From, aliasFrom(w))
				}
				g.From, w.From = "", ""
			}
			if w.Action == registry.ActionDeleteAlias {
				g.Version = 0 // the store may fill in the version the alias pointed at
			}
			g.ID = 0
			if g != w {
				t.Fatalf("event\n got %+v\nwant %+v", g, w)
			}
		})
	}
	all := f.audit("")
	if len(all) != len(want)+1 || all[1].Model != "other" || all[1].Principal != "zed" {
		t.Fatalf("ListAudit(\"\") = %v", actions(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("ListAudit(\"\") not oldest first at %d", i)
		}
	}
	if evs := f.audit("nope"); len(evs) != 0 {
		t.Fatalf("audit of an unknown model = %v", actions(evs))
	}
}

func testRegConcurrentSetAlias(t *testing.T, f *regFixture) {
	const n = 16
	f.model("churn")
	for range n {
		f.version("churn")
	}
	f.setAlias("churn", "other", 1)
	start := len(f.audit("churn"))

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok      int
		prevs   = map[int]int{} // version → previous version returned
		release = make(chan struct{})
	)
	for i := range n {
		version := i + 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			prev, err := f.s.SetAlias(f.ctx, "churn", "champion", version, f.event(fmt.Sprintf("user%02d", version), registry.ActionSetAlias, "churn", version, "", "@champion", ""))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if ferry.ErrorCode(err) == ferry.EINTERNAL {
					t.Errorf("SetAlias(v%d) failed with an unclassified error: %v", version, err)
				} else {
					t.Logf("SetAlias(v%d): %v", version, err)
				}
				return
			}
			ok++
			prevs[version] = prev
		}()
	}
	close(release)
	wg.Wait()
	if ok == 0 {
		t.Fatal("every SetAlias failed")
	}

	var events []registry.AuditEvent
	for _, e := range f.audit("churn")[start:] {
		if e.Action == registry.ActionSetAlias && e.To == "@champion" {
			events = append(events, e)
		} else {
			t.Fatalf("unexpected event %+v", e)
		}
	}
	if len(events) != ok {
		t.Fatalf("%d set_alias events for %d successful calls", len(events), ok)
	}
	final, err := f.s.GetAlias(f.ctx, "churn", "champion")
	must(t, err)
	if last := events[len(events)-1]; last.Version != final {
		t.Fatalf("the alias points at %d, but the last event moved it to %d", final, last.Version)
	}
	// Each move saw the one before it: the events form one chain starting
	// nowhere, and each call returned what its event recorded.
	seen := map[int]bool{}
	for i, e := range events {
		want := 0
		if i > 0 {
			want = events[i-1].Version
		}
		if got := aliasFrom(e); got != want {
			t.Fatalf("event %d moved the alias from %d (%q), but the event before left it on %d: lost update", i, got, e.From, want)
		}
		if prevs[e.Version] != want {
			t.Fatalf("SetAlias(v%d) returned previous %d, its event says %d", e.Version, prevs[e.Version], want)
		}
		if e.Principal != fmt.Sprintf("user%02d", e.Version) {
			t.Fatalf("event %d by %s moved the alias to v%d", i, e.Principal, e.Version)
		}
		if seen[e.Version] {
			t.Fatalf("two events for v%d", e.Version)
		}
		seen[e.Version] = true
	}
	m := f.getModel("churn")
	if len(m.Aliases) != 2 || m.Aliases["champion"] != final || m.Aliases["other"] != 1 {
		t.Fatalf("Model.Aliases = %v", m.Aliases)
	}
	holders := 0
	for v := 1; v <= n; v++ {
		if slices.Contains(f.getVersion("churn", v).Aliases, "champion") {
			holders++
			if v != final {
				t.Fatalf("version %d holds @champion; the alias points at %d", v, final)
			}
		}
	}
	if holders != 1 {
		t.Fatalf("%d versions hold @champion", holders)
	}
}

// testRegConcurrentArchive moves 8 versions to Production at once, each
// archiving the others: at the end exactly one is in Production, the one
// the last move put there, and every event's From is the stage its version
// really left.
func testRegConcurrentArchive(t *testing.T, f *regFixture) {
	const n = 8
	f.model("churn")
	for range n {
		f.version("churn")
	}
	start := len(f.audit("churn"))
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range n {
		version := i + 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			ev := f.event(fmt.Sprintf("user%d", version), registry.ActionTransition, "churn", version, registry.StageNone, registry.StageProduction, "")
			if _, err := f.s.TransitionStage(f.ctx, "churn", version, registry.StageProduction, true, ev); err != nil {
				t.Errorf("TransitionStage(v%d): %v", version, err)
			}
		}()
	}
	close(release)
	wg.Wait()
	if t.Failed() {
		return
	}
	var inProd []int
	for v := 1; v <= n; v++ {
		if f.getVersion("churn", v).Stage == registry.StageProduction {
			inProd = append(inProd, v)
		}
	}
	// Replay the events: each must start from the stage the replay is in.
	stage := map[int]string{}
	last := 0
	for _, e := range f.audit("churn")[start:] {
		from := stage[e.Version]
		if from == "" {
			from = registry.StageNone
		}
		if e.From != from {
			t.Fatalf("event %+v moves v%d from %s, but it was in %s", e, e.Version, e.From, from)
		}
		stage[e.Version] = e.To
		if e.To == registry.StageProduction {
			last = e.Version
		}
	}
	if len(inProd) != 1 || inProd[0] != last {
		t.Fatalf("versions in Production: %v; the last move put v%d there", inProd, last)
	}
	for v := 1; v <= n; v++ {
		if want := f.getVersion("churn", v).Stage; stage[v] != want {
			t.Fatalf("the events leave v%d in %s, the store says %s", v, stage[v], want)
		}
	}
}

func testRegConcurrentCreateVersion(t *testing.T, f *regFixture) {
	const n = 8
	f.model("churn")
	f.model("fraud")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		got     []int
		release = make(chan struct{})
	)
	for range n {
		for _, name := range []string{"churn", "fraud"} {
			wg.Add(1)
			v := f.newVersion(name)
			go func() {
				defer wg.Done()
				<-release
				out, err := f.s.CreateVersion(f.ctx, v, f.event("ada", registry.ActionCreateVersion, name, 0, "", v.ModelDigest, v.Source))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("CreateVersion(%s): %v", name, err)
					return
				}
				if name == "churn" {
					got = append(got, out.Version)
				}
			}()
		}
	}
	close(release)
	wg.Wait()
	if t.Failed() {
		return
	}
	sort.Ints(got)
	if fmt.Sprint(got) != "[1 2 3 4 5 6 7 8]" {
		t.Fatalf("concurrent versions = %v, want 1..8 without gaps or duplicates", got)
	}
	for _, name := range []string{"churn", "fraud"} {
		vs, _, err := f.s.SearchVersions(f.ctx, registry.VersionQuery{Name: name})
		must(t, err)
		var nums []int
		digests := map[string]bool{}
		for _, v := range vs {
			nums = append(nums, v.Version)
			digests[v.ModelDigest] = true
		}
		sort.Ints(nums)
		if fmt.Sprint(nums) != "[1 2 3 4 5 6 7 8]" || len(digests) != n {
			t.Fatalf("%s versions = %v with %d digests", name, nums, len(digests))
		}
		var evs []string
		for _, e := range f.audit(name) {
			if e.Action == registry.ActionCreateVersion {
				evs = append(evs, strconv.Itoa(e.Version))
			}
		}
		if len(evs) != n {
			t.Fatalf("%s: %d create_version events", name, len(evs))
		}
	}
}
