package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
)

// RunAssets checks a dataset.AssetStore. open must return a new, empty store.
func RunAssets(t *testing.T, open func(t *testing.T) dataset.AssetStore) {
	ctx := context.Background()
	asset := func(name, digest string) dataset.Asset {
		return dataset.Asset{Name: name, URI: "datasets/" + name + "/" + digest, Source: "/data/x.csv", Digest: digest, Format: "csv",
			Rows: 10, Size: 100, Schema: json.RawMessage(`{"columns":[]}`), Profile: json.RawMessage(`{}`), CreatedBy: "ada", CreatedAt: 1700000000000}
	}
	t.Run("VersionsByContent", func(t *testing.T) {
		s := open(t)
		a1, created, err := s.CreateAsset(ctx, asset("flights", "sha256:aa"))
		must(t, err)
		if !created || a1.Version != 1 {
			t.Fatalf("first version: %+v created=%v", a1, created)
		}
		again, created, err := s.CreateAsset(ctx, asset("flights", "sha256:aa"))
		must(t, err)
		if created || again.Version != 1 {
			t.Fatalf("same bytes again: version %d created=%v", again.Version, created)
		}
		a2, created, err := s.CreateAsset(ctx, asset("flights", "sha256:bb"))
		must(t, err)
		if !created || a2.Version != 2 {
			t.Fatalf("changed bytes: %+v", a2)
		}
		other, _, err := s.CreateAsset(ctx, asset("weather", "sha256:aa"))
		must(t, err)
		if other.Version != 1 {
			t.Fatalf("another asset with the same bytes: version %d", other.Version)
		}
		latest, err := s.GetAsset(ctx, "flights", 0)
		must(t, err)
		if latest.Version != 2 || latest.Digest != "sha256:bb" || string(latest.Schema) != `{"columns":[]}` || latest.CreatedBy != "ada" {
			t.Fatalf("latest = %+v", latest)
		}
		v1, err := s.GetAsset(ctx, "flights", 1)
		must(t, err)
		if v1.Digest != "sha256:aa" {
			t.Fatalf("v1 = %+v", v1)
		}
		_, err = s.GetAsset(ctx, "flights", 3)
		wantCode(t, err, ferry.ENOTFOUND)
		_, err = s.GetAsset(ctx, "nope", 0)
		wantCode(t, err, ferry.ENOTFOUND)
		all, err := s.ListAssets(ctx)
		must(t, err)
		if len(all) != 2 || all[0].Name != "flights" || all[0].Version != 2 || all[1].Name != "weather" {
			t.Fatalf("list = %+v", all)
		}
		versions, err := s.ListAssetVersions(ctx, "flights")
		must(t, err)
		if len(versions) != 2 || versions[0].Version != 2 {
			t.Fatalf("versions = %+v", versions)
		}
		_, err = s.ListAssetVersions(ctx, "nope")
		wantCode(t, err, ferry.ENOTFOUND)
	})
	t.Run("ConcurrentVersions", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := s.CreateAsset(ctx, asset("race", fmt.Sprintf("sha256:%02d", i)))
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		versions, err := s.ListAssetVersions(ctx, "race")
		must(t, err)
		if len(versions) != 8 || versions[0].Version != 8 || versions[7].Version != 1 {
			t.Fatalf("%d versions, newest %d", len(versions), versions[0].Version)
		}
	})
}
