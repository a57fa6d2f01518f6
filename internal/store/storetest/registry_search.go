package storetest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
)

// The registry's searches: filters, orders and paging, all in the store.

func testRegSearchModels(t *testing.T, f *regFixture) {
	// Names whose order is the same under byte and dictionary collations.
	for _, name := range []string{"churn-b", "fraud", "churn-a", "chess", "churn_x"} {
		f.model(name)
	}
	must(t, f.s.SetModelTag(f.ctx, "fraud", registry.Tag{Key: "team", Value: "risk"}))
	must(t, f.s.SetModelTag(f.ctx, "churn-a", registry.Tag{Key: "team", Value: "Growth"}))
	must(t, f.s.SetModelTag(f.ctx, "churn-a", registry.Tag{Key: "tier", Value: "gold"}))
	f.version("fraud")
	f.setAlias("fraud", "champion", 1)
	must(t, f.s.UpdateModel(f.ctx, "churn-b", "touched last", f.now()))

	tests := []struct {
		name string
		q    registry.ModelQuery
		want string
	}{
		{"all, by name by default", registry.ModelQuery{}, "[chess churn-a churn-b churn_x fraud]"},
		{"prefix", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "churn%"}}, OrderBy: []string{"name ASC"}}, "[churn-a churn-b churn_x]"},
		{"like is case-sensitive", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "CHURN%"}}}, "[]"},
		{"single-character wildcard", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "ch_ss"}}}, "[chess]"},
		{"exact", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "fraud"}}}, "[fraud]"},
		{"no match", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "zzz%"}}}, "[]"},
		{"name desc", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "%ch%"}}, OrderBy: []string{"name DESC"}}, "[churn_x churn-b churn-a chess]"},
		{"creation asc", registry.ModelQuery{OrderBy: []string{"creation_timestamp ASC"}}, "[churn-b fraud churn-a chess churn_x]"},
		{"creation desc", registry.ModelQuery{OrderBy: []string{"creation_timestamp DESC"}}, "[churn_x chess churn-a fraud churn-b]"},
		{"last updated desc", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "churn-%"}}, OrderBy: []string{"last_updated_timestamp DESC"}}, "[churn-b churn-a]"},
		{"name ilike", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "ILIKE", Value: "CHURN-%"}}}, "[churn-a churn-b]"},
		{"name not equal", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "!=", Value: "fraud"}}}, "[chess churn-a churn-b churn_x]"},
		{"tag equal", registry.ModelQuery{Where: []registry.Cond{{Field: "tag", Key: "team", Op: "=", Value: "risk"}}}, "[fraud]"},
		{"tag equal is case-sensitive", registry.ModelQuery{Where: []registry.Cond{{Field: "tag", Key: "team", Op: "=", Value: "growth"}}}, "[]"},
		{"tag not equal needs the tag", registry.ModelQuery{Where: []registry.Cond{{Field: "tag", Key: "team", Op: "!=", Value: "risk"}}}, "[churn-a]"},
		{"tag like", registry.ModelQuery{Where: []registry.Cond{{Field: "tag", Key: "team", Op: "LIKE", Value: "%r%"}}}, "[churn-a fraud]"},
		{"tag ilike", registry.ModelQuery{Where: []registry.Cond{{Field: "tag", Key: "team", Op: "ILIKE", Value: "g%"}}}, "[churn-a]"},
		{"two tags and a name", registry.ModelQuery{Where: []registry.Cond{{Field: "tag", Key: "team", Op: "LIKE", Value: "%"}, {Field: "tag", Key: "tier", Op: "=", Value: "gold"}, {Field: "name", Op: "LIKE", Value: "churn%"}}}, "[churn-a]"},
		{"the tag value is not the key", registry.ModelQuery{Where: []registry.Cond{{Field: "tag", Key: "tier", Op: "=", Value: "risk"}}}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, next, err := f.s.SearchModels(f.ctx, tt.q)
			must(t, err)
			if got := fmt.Sprint(modelNames(ms)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if next != "" {
				t.Fatalf("one page of results has a next page token %q", next)
			}
		})
	}
	t.Run("results carry tags and aliases", func(t *testing.T) {
		ms, _, err := f.s.SearchModels(f.ctx, registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "fraud"}}})
		must(t, err)
		if len(ms) != 1 || tagString(ms[0].Tags) != "[team=risk]" || fmt.Sprint(ms[0].Aliases) != "map[champion:1]" || ms[0].Description != "the fraud model" {
			t.Fatalf("search result = %+v", ms)
		}
	})
	bad := []struct {
		name string
		q    registry.ModelQuery
	}{
		{"bad page token", registry.ModelQuery{PageToken: "!!not-a-token"}},
		{"unknown order column", registry.ModelQuery{OrderBy: []string{"colour ASC"}}},
		{"bad order direction", registry.ModelQuery{OrderBy: []string{"name SIDEWAYS"}}},
		{"injection in order", registry.ModelQuery{OrderBy: []string{"name; DROP TABLE registered_models"}}},
		{"unknown field", registry.ModelQuery{Where: []registry.Cond{{Field: "colour", Op: "=", Value: "x"}}}},
		{"unknown operator", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "; DROP", Value: "x"}}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.s.SearchModels(f.ctx, tt.q)
			wantCode(t, err, ferry.EINVALID)
		})
	}
	if _, err := f.s.GetModel(f.ctx, "fraud"); err != nil {
		t.Fatalf("after bad searches: %v", err)
	}
}

func testRegSearchModelsPages(t *testing.T, f *regFixture) {
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("model-%d", i)
		f.model(name)
		want = append(want, name)
	}
	slices.Reverse(want)
	tests := []struct {
		name  string
		size  int
		pages int
	}{
		{"pages of 2", 2, 4},
		{"pages of 3", 3, 3},
		{"exact fit", 7, 1},
		{"one by one", 1, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tok := ""
			for pages := 1; ; pages++ {
				ms, next, err := f.s.SearchModels(f.ctx, registry.ModelQuery{MaxResults: tt.size, PageToken: tok, OrderBy: []string{"name DESC"}})
				must(t, err)
				if len(ms) > tt.size {
					t.Fatalf("page of %d results, max %d", len(ms), tt.size)
				}
				got = append(got, modelNames(ms)...)
				if next == "" {
					if pages != tt.pages {
						t.Fatalf("%d pages, want %d", pages, tt.pages)
					}
					break
				}
				if pages > 10 {
					t.Fatal("paging does not end")
				}
				tok = next
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("pages = %v, want %v", got, want)
			}
		})
	}
}

func testRegSearchVersions(t *testing.T, f *regFixture) {
	f.model("churn")
	f.model("fraud")
	f.model("churn2") // a name that shares a prefix
	shared := "sha256:shared-training-data"
	f.version("churn", func(v *registry.Version) { v.RunID, v.DatasetDigests = "runA", []string{shared, "sha256:a-valid"} })
	f.version("churn", func(v *registry.Version) { v.RunID, v.DatasetDigests = "runB", []string{"sha256:b"} })
	f.version("fraud", func(v *registry.Version) { v.RunID, v.DatasetDigests = "runA", []string{shared} })
	f.version("churn2", func(v *registry.Version) { v.RunID, v.DatasetDigests = "runC", nil })
	f.setAlias("churn", "champion", 2)
	must(t, f.s.SetVersionTag(f.ctx, "churn", 2, registry.Tag{Key: "k", Value: "v"}))

	tests := []struct {
		name string
		q    registry.VersionQuery
		want string
	}{
		{"all", registry.VersionQuery{}, "[churn/1 churn/2 churn2/1 fraud/1]"},
		{"by name is exact", registry.VersionQuery{Name: "churn"}, "[churn/1 churn/2]"},
		{"by run", registry.VersionQuery{RunID: "runA"}, "[churn/1 fraud/1]"},
		{"by dataset", registry.VersionQuery{Dataset: shared}, "[churn/1 fraud/1]"},
		{"by second dataset", registry.VersionQuery{Dataset: "sha256:a-valid"}, "[churn/1]"},
		{"by name and dataset", registry.VersionQuery{Name: "fraud", Dataset: shared}, "[fraud/1]"},
		{"by name and run", registry.VersionQuery{Name: "churn", RunID: "runB"}, "[churn/2]"},
		{"unknown run", registry.VersionQuery{RunID: "runZ"}, "[]"},
		{"unknown dataset", registry.VersionQuery{Dataset: "sha256:none"}, "[]"},
		{"dataset is not a pattern", registry.VersionQuery{Dataset: "sha256:%"}, "[]"},
		{"name like", registry.VersionQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "churn%"}}}, "[churn/1 churn/2 churn2/1]"},
		{"name like is case-sensitive", registry.VersionQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "CHURN%"}}}, "[]"},
		{"name ilike", registry.VersionQuery{Where: []registry.Cond{{Field: "name", Op: "ILIKE", Value: "CHURN_"}}}, "[churn2/1]"},
		{"name not equal", registry.VersionQuery{Where: []registry.Cond{{Field: "name", Op: "!=", Value: "churn"}}}, "[churn2/1 fraud/1]"},
		{"name like and run", registry.VersionQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "%r%"}, {Field: "run_id", Op: "=", Value: "runA"}}}, "[churn/1 fraud/1]"},
		{"run not equal", registry.VersionQuery{Where: []registry.Cond{{Field: "run_id", Op: "!=", Value: "runA"}}}, "[churn/2 churn2/1]"},
		{"tag equal", registry.VersionQuery{Where: []registry.Cond{{Field: "tag", Key: "k", Op: "=", Value: "v"}}}, "[churn/2]"},
		{"tag not equal needs the tag", registry.VersionQuery{Where: []registry.Cond{{Field: "tag", Key: "k", Op: "!=", Value: "w"}}}, "[churn/2]"},
		{"tag key is exact", registry.VersionQuery{Where: []registry.Cond{{Field: "tag", Key: "K", Op: "=", Value: "v"}}}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, _, err := f.s.SearchVersions(f.ctx, tt.q)
			must(t, err)
			if got := fmt.Sprint(versionRefs(vs)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("unknown model", func(t *testing.T) {
		vs, _, err := f.s.SearchVersions(f.ctx, registry.VersionQuery{Name: "nope"})
		if err != nil {
			wantCode(t, err, ferry.ENOTFOUND)
		}
		if len(vs) != 0 {
			t.Fatalf("versions of an unknown model: %v", versionRefs(vs))
		}
	})
	t.Run("results are whole versions", func(t *testing.T) {
		vs, _, err := f.s.SearchVersions(f.ctx, registry.VersionQuery{})
		must(t, err)
		for _, v := range vs {
			if got := f.getVersion(v.Name, v.Version); !sameVersion(v, got) {
				t.Fatalf("search result differs from GetVersion:\n %+v\n %+v", v, got)
			}
		}
	})
	t.Run("bad page token", func(t *testing.T) {
		_, _, err := f.s.SearchVersions(f.ctx, registry.VersionQuery{PageToken: "!!not-a-token"})
		wantCode(t, err, ferry.EINVALID)
	})
}

func testRegSearchVersionsPages(t *testing.T, f *regFixture) {
	f.model("churn")
	f.model("other")
	var want []string
	for i := range 7 {
		v := f.version("churn", func(v *registry.Version) { v.DatasetDigests = []string{"sha256:d"} })
		want = append(want, fmt.Sprintf("churn/%d", v.Version))
		if i%3 == 0 {
			f.version("other")
		}
	}
	sort.Strings(want)
	tests := []struct {
		name string
		q    registry.VersionQuery
	}{
		{"by name", registry.VersionQuery{Name: "churn"}},
		{"by dataset", registry.VersionQuery{Dataset: "sha256:d"}},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 2, 3, 7} {
			t.Run(fmt.Sprintf("%s, pages of %d", tt.name, size), func(t *testing.T) {
				var got []string
				seen := map[string]bool{}
				q := tt.q
				q.MaxResults = size
				for pages := 1; ; pages++ {
					vs, next, err := f.s.SearchVersions(f.ctx, q)
					must(t, err)
					if len(vs) > size {
						t.Fatalf("page of %d, max %d", len(vs), size)
					}
					for _, r := range versionRefs(vs) {
						if seen[r] {
							t.Fatalf("%s on two pages", r)
						}
						seen[r] = true
						got = append(got, r)
					}
					if next == "" {
						break
					}
					if pages > 10 {
						t.Fatal("paging does not end")
					}
					q.PageToken = next
				}
				sort.Strings(got)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("pages = %v, want %v", got, want)
				}
			})
		}
	}
}

// orderedRefs lists name/version of vs in the order given.
func orderedRefs(vs []registry.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%s/%d", v.Name, v.Version)
	}
	return out
}

// pageModels reads every page of q, checking each page's size.
func pageModels(t *testing.T, f *regFixture, q registry.ModelQuery) []string {
	t.Helper()
	var got []string
	for pages := 1; ; pages++ {
		ms, next, err := f.s.SearchModels(f.ctx, q)
		must(t, err)
		if len(ms) > q.MaxResults || (next != "" && len(ms) != q.MaxResults) {
			t.Fatalf("page %d has %d results, page size %d, next %q", pages, len(ms), q.MaxResults, next)
		}
		got = append(got, modelNames(ms)...)
		if next == "" {
			return got
		}
		if pages > 200 {
			t.Fatal("paging does not end")
		}
		q.PageToken = next
	}
}

// pageVersions reads every page of q, checking each page's size.
func pageVersions(t *testing.T, f *regFixture, q registry.VersionQuery) []string {
	t.Helper()
	var got []string
	for pages := 1; ; pages++ {
		vs, next, err := f.s.SearchVersions(f.ctx, q)
		must(t, err)
		if len(vs) > q.MaxResults || (next != "" && len(vs) != q.MaxResults) {
			t.Fatalf("page %d has %d results, page size %d, next %q", pages, len(vs), q.MaxResults, next)
		}
		got = append(got, orderedRefs(vs)...)
		if next == "" {
			return got
		}
		if pages > 500 {
			t.Fatal("paging does not end")
		}
		q.PageToken = next
	}
}

// testRegSearchModelsManyPages pages through many models under each filter
// and order, and compares with the same selection made here.
func testRegSearchModelsManyPages(t *testing.T, f *regFixture) {
	type row struct {
		name             string
		created, updated int64
	}
	var all []row
	// Lower- and upper-case names whose order is the same under byte and
	// dictionary collations.
	for i := range 60 {
		name := fmt.Sprintf("fraud-%02d", i)
		switch i % 3 {
		case 0:
			name = fmt.Sprintf("alpha-x%02d", i)
		case 1:
			name = fmt.Sprintf("Alpha-%02d", i)
		}
		f.model(name)
		m := f.getModel(name)
		all = append(all, row{name: name, created: m.CreationTime, updated: m.LastUpdatedTime})
	}
	// Touch every seventh model, newest first, so update order differs from
	// creation order.
	for i := len(all) - 1; i >= 0; i -= 7 {
		now := f.now()
		must(t, f.s.UpdateModel(f.ctx, all[i].name, "touched", now))
		all[i].updated = now
	}
	selectRows := func(keep func(string) bool, less func(a, b row) bool) []string {
		var rs []row
		for _, r := range all {
			if keep(r.name) {
				rs = append(rs, r)
			}
		}
		sort.SliceStable(rs, func(i, j int) bool {
			if less(rs[i], rs[j]) {
				return true
			}
			if less(rs[j], rs[i]) {
				return false
			}
			return rs[i].name < rs[j].name
		})
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.name
		}
		return out
	}
	everything := func(string) bool { return true }
	byName := func(a, b row) bool { return a.name < b.name }
	tests := []struct {
		name string
		q    registry.ModelQuery
		want []string
	}{
		{"all by name", registry.ModelQuery{}, selectRows(everything, byName)},
		{"like, case-sensitive, by creation desc", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "LIKE", Value: "alpha-%"}}, OrderBy: []string{"creation_timestamp DESC"}},
			selectRows(func(n string) bool { return strings.HasPrefix(n, "alpha-") }, func(a, b row) bool { return a.created > b.created })},
		{"ilike, by name desc", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "ILIKE", Value: "ALPHA-%"}}, OrderBy: []string{"name DESC"}},
			selectRows(func(n string) bool { return strings.HasPrefix(strings.ToLower(n), "alpha-") }, func(a, b row) bool { return a.name > b.name })},
		{"ilike inside, by last update", registry.ModelQuery{Where: []registry.Cond{{Field: "name", Op: "ILIKE", Value: "%HA-%1"}}, OrderBy: []string{"last_updated_timestamp DESC"}},
			selectRows(func(n string) bool { return strings.Contains(strings.ToLower(n), "ha-") && strings.HasSuffix(n, "1") }, func(a, b row) bool { return a.updated > b.updated })},
		{"by creation asc", registry.ModelQuery{OrderBy: []string{"creation_timestamp ASC"}}, selectRows(everything, func(a, b row) bool { return a.created < b.created })},
		{"exact name", registry.ModelQuery{Name: "Alpha-01"}, []string{"Alpha-01"}},
		{"exact name is case-sensitive", registry.ModelQuery{Name: "alpha-01"}, nil},
		{"exact name is not a pattern", registry.ModelQuery{Name: "Alpha-%"}, nil},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 7, 25, 100} {
			t.Run(fmt.Sprintf("%s, pages of %d", tt.name, size), func(t *testing.T) {
				q := tt.q
				q.MaxResults = size
				if got := pageModels(t, f, q); !slices.Equal(got, tt.want) {
					t.Fatalf("got  %v\nwant %v", got, tt.want)
				}
			})
		}
	}
}

// testRegSearchVersionsManyPages pages through many versions of several
// models under each filter and order.
func testRegSearchVersionsManyPages(t *testing.T, f *regFixture) {
	type row struct {
		name             string
		version          int
		created, updated int64
		run, stage       string
		digest           string
	}
	var all []row
	for _, name := range []string{"churn", "fraud", "chess"} {
		f.model(name)
	}
	for i := range 75 {
		name := []string{"churn", "fraud", "chess"}[i%3]
		run := fmt.Sprintf("run-%d", i%4)
		v := f.version(name, func(v *registry.Version) { v.RunID = run })
		all = append(all, row{name: name, version: v.Version, created: v.CreationTime, updated: v.LastUpdatedTime, run: run, stage: registry.StageNone, digest: v.ModelDigest})
	}
	for i := range all {
		if i%5 == 0 {
			ev := f.event("ada", registry.ActionTransition, all[i].name, all[i].version, registry.StageNone, registry.StageStaging, "")
			v, err := f.s.TransitionStage(f.ctx, all[i].name, all[i].version, registry.StageStaging, false, ev)
			must(t, err)
			all[i].stage, all[i].updated = v.Stage, v.LastUpdatedTime
		}
	}
	selectRows := func(keep func(row) bool, less func(a, b row) bool) []string {
		var rs []row
		for _, r := range all {
			if keep(r) {
				rs = append(rs, r)
			}
		}
		sort.SliceStable(rs, func(i, j int) bool {
			if less != nil && less(rs[i], rs[j]) {
				return true
			}
			if less != nil && less(rs[j], rs[i]) {
				return false
			}
			if rs[i].name != rs[j].name {
				return rs[i].name < rs[j].name
			}
			return rs[i].version > rs[j].version
		})
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = fmt.Sprintf("%s/%d", r.name, r.version)
		}
		return out
	}
	tests := []struct {
		name string
		q    registry.VersionQuery
		want []string
	}{
		{"all, by name then newest", registry.VersionQuery{}, selectRows(func(row) bool { return true }, nil)},
		{"by name, version asc", registry.VersionQuery{Name: "fraud", OrderBy: []string{"version_number ASC"}},
			selectRows(func(r row) bool { return r.name == "fraud" }, func(a, b row) bool { return a.version < b.version })},
		{"by run, creation desc", registry.VersionQuery{RunID: "run-1", OrderBy: []string{"creation_timestamp DESC"}},
			selectRows(func(r row) bool { return r.run == "run-1" }, func(a, b row) bool { return a.created > b.created })},
		{"by stage, name desc then version asc", registry.VersionQuery{Stage: registry.StageStaging, OrderBy: []string{"name DESC", "version_number ASC"}},
			selectRows(func(r row) bool { return r.stage == registry.StageStaging }, func(a, b row) bool {
				if a.name != b.name {
					return a.name > b.name
				}
				return a.version < b.version
			})},
		{"by name and stage, last update desc", registry.VersionQuery{Name: "churn", Stage: registry.StageNone, OrderBy: []string{"last_updated_timestamp DESC"}},
			selectRows(func(r row) bool { return r.name == "churn" && r.stage == registry.StageNone }, func(a, b row) bool { return a.updated > b.updated })},
		{"by name and run", registry.VersionQuery{Name: "chess", RunID: "run-2"},
			selectRows(func(r row) bool { return r.name == "chess" && r.run == "run-2" }, nil)},
		{"by digest", registry.VersionQuery{Name: "fraud", Digest: all[4].digest}, []string{fmt.Sprintf("fraud/%d", all[4].version)}},
		{"by another model's digest", registry.VersionQuery{Name: "churn", Digest: all[4].digest}, nil},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 4, 30, 200} {
			t.Run(fmt.Sprintf("%s, pages of %d", tt.name, size), func(t *testing.T) {
				q := tt.q
				q.MaxResults = size
				if got := pageVersions(t, f, q); !slices.Equal(got, tt.want) {
					t.Fatalf("got  %v\nwant %v", got, tt.want)
				}
			})
		}
	}
	t.Run("bad order", func(t *testing.T) {
		for _, o := range []string{"colour ASC", "version_number SIDEWAYS", "name; DROP TABLE model_versions"} {
			_, _, err := f.s.SearchVersions(f.ctx, registry.VersionQuery{OrderBy: []string{o}})
			wantCode(t, err, ferry.EINVALID)
		}
	})
}

func testRegLatestVersions(t *testing.T, f *regFixture) {
	f.model("churn")
	f.model("fraud")
	f.model("empty")
	for range 6 {
		f.version("churn")
	}
	f.version("fraud")
	move := func(name string, version int, stage string) {
		t.Helper()
		_, err := f.s.TransitionStage(f.ctx, name, version, stage, false, f.event("ada", registry.ActionTransition, name, version, "", stage, ""))
		must(t, err)
	}
	move("churn", 1, registry.StageProduction)
	move("churn", 2, registry.StageStaging)
	move("churn", 3, registry.StageStaging)
	move("churn", 4, registry.StageArchived)
	// churn: None 5 and 6, Staging 2 and 3, Production 1, Archived 4.
	latest := func(names ...string) string {
		t.Helper()
		vs, err := f.s.LatestVersions(f.ctx, names)
		must(t, err)
		var parts []string
		for _, v := range vs {
			parts = append(parts, fmt.Sprintf("%s/%d:%s", v.Name, v.Version, v.Stage))
		}
		sort.Strings(parts)
		return fmt.Sprint(parts)
	}
	tests := []struct {
		name  string
		names []string
		want  string
	}{
		{"one model", []string{"churn"}, "[churn/1:Production churn/3:Staging churn/4:Archived churn/6:None]"},
		{"several models", []string{"churn", "fraud", "empty"}, "[churn/1:Production churn/3:Staging churn/4:Archived churn/6:None fraud/1:None]"},
		{"a model without versions", []string{"empty"}, "[]"},
		{"an unknown model", []string{"nope"}, "[]"},
		{"no names", nil, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := latest(tt.names...); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("whole versions", func(t *testing.T) {
		vs, err := f.s.LatestVersions(f.ctx, []string{"churn"})
		must(t, err)
		for _, v := range vs {
			if got := f.getVersion(v.Name, v.Version); !sameVersion(v, got) {
				t.Fatalf("LatestVersions differs from GetVersion:\n %+v\n %+v", v, got)
			}
		}
	})
	t.Run("after the newest in a stage is deleted", func(t *testing.T) {
		must(t, f.s.DeleteVersion(f.ctx, "churn", 3, f.event("ada", registry.ActionDeleteVersion, "churn", 3, "3", "", "")))
		if got, want := latest("churn"), "[churn/1:Production churn/2:Staging churn/4:Archived churn/6:None]"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
}
