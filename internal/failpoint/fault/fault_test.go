package fault

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
)

// lightgbmPackage is a real model package (as mlflow.lightgbm writes it),
// the wrapped model of these tests.
const lightgbmPackage = "../../runtime/lightgbm/testdata/mlflow"

// TestWrite: a fault package holds only the ferry_fault flavor, the wrapped
// model's signature, its Config and the wrapped package intact.
func TestWrite(t *testing.T) {
	ctx := context.Background()
	dst := filepath.Join(t.TempDir(), "pkg")
	cfg := Config{ErrorRate: 0.05, DelayMS: 100, Seed: 7}
	p, err := Write(ctx, dst, lightgbmPackage, cfg)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := model.Load(ctx, lightgbmPackage)
	if err != nil {
		t.Fatal(err)
	}
	reloaded, err := model.Load(ctx, dst) // verifies every digest
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest() != reloaded.Digest() || !reloaded.Verified() {
		t.Errorf("digest %s, reloaded %s", p.Digest(), reloaded.Digest())
	}
	if len(reloaded.Manifest.Flavors) != 1 {
		t.Errorf("flavors %v, want only %s", reloaded.Manifest.Flavors, Flavor)
	}
	if got, want := reloaded.Manifest.Signature, inner.Manifest.Signature; len(got.Inputs) != len(want.Inputs) || got.Inputs[1].Name != "annual income" {
		t.Errorf("signature %+v, want the wrapped model's %+v", got, want)
	}
	conf, err := reloaded.DataPath(Flavor)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(conf); err != nil || string(data) != `{"error_rate":0.05,"delay_ms":100,"seed":7}` {
		t.Errorf("%s = %s, %v", ConfigFile, data, err)
	}
	wrapped, err := model.Load(ctx, filepath.Join(dst, ModelDir))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := wrapped.Flavor(model.FlavorLightGBM); !ok {
		t.Errorf("wrapped package flavors %v", wrapped.Manifest.Flavors)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		cfg  Config
		code string
	}{
		{"error rate above 1", lightgbmPackage, Config{ErrorRate: 1.5}, ferry.EINVALID},
		{"negative error rate", lightgbmPackage, Config{ErrorRate: -0.1}, ferry.EINVALID},
		{"negative delay", lightgbmPackage, Config{DelayMS: -1}, ferry.EINVALID},
		{"not a package", t.TempDir(), Config{}, ferry.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "pkg")
			_, err := Write(context.Background(), dst, tt.src, tt.cfg)
			if ferry.ErrorCode(err) != tt.code {
				t.Fatalf("error %v (%s), want %s", err, ferry.ErrorCode(err), tt.code)
			}
			if entries, _ := os.ReadDir(dst); len(entries) > 0 {
				t.Errorf("left %d files behind", len(entries))
			}
		})
	}
}
