package storetest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
)

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
