package storetest

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
)

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
