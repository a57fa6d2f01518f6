//go:build failpoint

package fault

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/runtime/lightgbm"
)

// constant is a model that always predicts 1.
type constant struct{}

func (constant) Metadata() runtime.Metadata { return runtime.Metadata{Platform: "constant"} }
func (constant) Close() error               { return nil }
func (constant) Predict(context.Context, []runtime.Tensor) ([]runtime.Tensor, error) {
	return []runtime.Tensor{{Name: "y", Datatype: runtime.FP64, Shape: []int64{1}, FP64: []float64{1}}}, nil
}

// TestErrorRate: over 2,000 calls the failures are within 4 standard
// deviations of the binomial mean, each one ErrInjected, and the other calls
// are the wrapped model's answers; the same seed fails as many calls again.
func TestErrorRate(t *testing.T) {
	const n = 2000
	count := func(cfg Config) int {
		m := newModel(constant{}, cfg)
		failed := 0
		for range n {
			out, err := m.Predict(context.Background(), nil)
			switch {
			case errors.Is(err, ErrInjected):
				failed++
			case err != nil || len(out) != 1 || out[0].FP64[0] != 1:
				t.Fatalf("Predict = %v, %v", out, err)
			}
		}
		return failed
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"none", Config{}},
		{"5% seed 1", Config{ErrorRate: 0.05, Seed: 1}},
		{"5% seed 2", Config{ErrorRate: 0.05, Seed: 2}},
		{"5% seed 3", Config{ErrorRate: 0.05, Seed: 3}},
		{"50%", Config{ErrorRate: 0.5, Seed: 4}},
		{"all", Config{ErrorRate: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.cfg.ErrorRate
			mean, sd := n*p, math.Sqrt(n*p*(1-p))
			got := count(tt.cfg)
			if math.Abs(float64(got)-mean) > 4*sd {
				t.Errorf("%d of %d calls failed, want %.0f ± %.0f", got, n, mean, 4*sd)
			}
			if again := count(tt.cfg); again != got {
				t.Errorf("the same seed failed %d calls, then %d", got, again)
			}
		})
	}
}

// TestDelay: every call takes at least DelayMS; a call whose context ends
// first returns the context's error at once.
func TestDelay(t *testing.T) {
	m := newModel(constant{}, Config{DelayMS: 100})
	for range 3 {
		start := time.Now()
		if _, err := m.Predict(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("Predict took %s, want ≥ 100ms", d)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := newModel(constant{}, Config{DelayMS: int(time.Hour / time.Millisecond)})
	if _, err := slow.Predict(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Predict with a canceled context = %v", err)
	}
}

// TestLoader: a runtime registry with the fault loader loads a fault package
// through it, and predicts what the wrapped model predicts.
func TestLoader(t *testing.T) {
	ctx := context.Background()
	dst := filepath.Join(t.TempDir(), "pkg")
	pkg, err := Write(ctx, dst, lightgbmPackage, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := runtime.Registry{model.FlavorLightGBM: lightgbm.Load}
	r[Flavor] = Loader(r)
	m, err := r.Load(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if p := m.Metadata().Platform; p != "ferry_fault(lightgbm_text)" {
		t.Errorf("platform %q", p)
	}
	inner, err := model.Load(ctx, lightgbmPackage)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := r.Load(ctx, inner)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	in := []runtime.Tensor{
		{Name: "age", Datatype: runtime.FP64, Shape: []int64{3}, FP64: []float64{25, math.NaN(), 40}},
		{Name: "annual income", Datatype: runtime.FP64, Shape: []int64{3}, FP64: []float64{100, -1, 0}},
	}
	got, err := m.Predict(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plain.Predict(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(want) != 1 || !slices.Equal(got[0].FP64, want[0].FP64) {
		t.Errorf("fault model %v, wrapped model %v", got, want)
	}
}
