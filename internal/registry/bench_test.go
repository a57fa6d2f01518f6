package registry_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// latencies collects one duration per operation and reports their median
// and 90th percentile in milliseconds.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	s := slices.Clone(l)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(s[len(s)/2]), "ms/median")
	b.ReportMetric(ms(s[len(s)*9/10]), "ms/p90")
}

// BenchmarkRegistry measures the registry's hot paths on the embedded
// backend with synchronous=full (every commit survives power loss):
//
//   - CreateVersion: one store write of a version with its audit event;
//   - RegisterVersion: the whole registration of a small package logged by a
//     run — copy out of the run's artifacts, verify, copy into the
//     registry's storage, record (the package is built and uploaded outside
//     the timing);
//   - Resolve: models:/name@alias through the service.
//
// Target: a median under 2 ms each.
func BenchmarkRegistry(b *testing.B) {
	b.Run("CreateVersion", func(b *testing.B) {
		e := newEnv(b, sqlite.SynchronousFull, nil)
		if _, err := e.svc.CreateModel(auth.WithPrincipal(e.ctx, "alice"), "bench", "", nil); err != nil {
			b.Fatal(err)
		}
		store := e.b.Store
		lat := make(latencies, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			now := time.Now().UnixMilli()
			v := registry.Version{
				Name: "bench", CreationTime: now, LastUpdatedTime: now, UserID: "alice", Stage: registry.StageNone,
				Source: "runs:/r/model", RunID: "r", Status: registry.StatusReady, StorageURI: fmt.Sprintf("registry/bench/%064d", i),
				ModelDigest: fmt.Sprintf("sha256:%064d", i), GitCommit: "c", DatasetDigests: []string{"sha256:d"},
			}
			ev := registry.AuditEvent{Time: now, Principal: "alice", Action: registry.ActionCreateVersion, Model: "bench", To: v.ModelDigest}
			start := time.Now()
			if _, err := store.CreateVersion(e.ctx, v, ev); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		lat.report(b)
	})

	b.Run("RegisterVersion", func(b *testing.B) {
		e := newEnv(b, sqlite.SynchronousFull, nil)
		if _, err := e.svc.CreateModel(auth.WithPrincipal(e.ctx, "alice"), "bench", "", nil); err != nil {
			b.Fatal(err)
		}
		lat := make(latencies, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			run, err := e.b.Tracking.CreateRun(e.ctx, tracking.RunCreate{UserID: "alice"})
			if err != nil {
				b.Fatal(err)
			}
			dir := filepath.Join(b.TempDir(), "model")
			buildPackage(b, dir, run.Info.RunID, pkg{weights: fmt.Sprintf("[%d,0.5]", i)})
			e.upload(run, dir)
			source := "runs:/" + run.Info.RunID + "/model"
			b.StartTimer()
			start := time.Now()
			if _, err := e.svc.RegisterVersion(auth.WithPrincipal(e.ctx, "alice"), "bench", source, "", "", nil, false); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		lat.report(b)
	})

	b.Run("ResolveAlias", func(b *testing.B) {
		e := newEnv(b, sqlite.SynchronousFull, nil)
		if _, err := e.svc.CreateModel(auth.WithPrincipal(e.ctx, "alice"), "bench", "", nil); err != nil {
			b.Fatal(err)
		}
		store := e.b.Store
		for i := range 100 {
			v := registry.Version{Name: "bench", Stage: registry.StageNone, Status: registry.StatusReady, ModelDigest: fmt.Sprintf("sha256:%064d", i),
				Tags: []registry.Tag{{Key: "k", Value: "v"}}}
			if _, err := store.CreateVersion(e.ctx, v, registry.AuditEvent{Principal: "alice", Action: registry.ActionCreateVersion, Model: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := e.svc.SetAlias(auth.WithPrincipal(e.ctx, "alice"), "bench", "champion", 50, ""); err != nil {
			b.Fatal(err)
		}
		lat := make(latencies, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start := time.Now()
			v, err := e.svc.Resolve(e.ctx, "models:/bench@champion")
			if err != nil || v.Version != 50 {
				b.Fatalf("Resolve = %d, %v", v.Version, err)
			}
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		lat.report(b)
	})
}
