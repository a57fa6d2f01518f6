//go:build failpoint

package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// ErrInjected is the error of the Predict calls a fault package fails.
var ErrInjected = errors.New("fault: injected model failure")

// Loader returns the runtime of the ferry_fault flavor: it reads fault.json,
// loads the wrapped package with the runtimes of r (consulted at load time,
// so r may be the registry Loader is added to) and spoils its Predict as
// the Config says. It exists only in failpoint builds.
func Loader(r runtime.Registry) runtime.Loader {
	return func(ctx context.Context, pkg *model.Package) (runtime.Model, error) {
		file, err := pkg.DataPath(Flavor)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("fault: %w", err)
		}
		var cfg Config
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "fault: %s: %v", ConfigFile, err)
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		inner, err := model.Load(ctx, filepath.Join(pkg.Dir, ModelDir))
		if err != nil {
			return nil, fmt.Errorf("fault: wrapped package: %w", err)
		}
		m, err := r.Load(ctx, inner)
		if err != nil {
			return nil, fmt.Errorf("fault: wrapped package: %w", err)
		}
		return newModel(m, cfg), nil
	}
}

// faulty is a model spoiled as its Config says. Safe for concurrent use,
// as the wrapped model is.
type faulty struct {
	runtime.Model
	cfg Config
	mu  sync.Mutex
	rnd *rand.Rand
}

func newModel(m runtime.Model, cfg Config) *faulty {
	return &faulty{Model: m, cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, 0x6661756c74))}
}

// Metadata is the wrapped model's, its platform marked.
func (m *faulty) Metadata() runtime.Metadata {
	md := m.Model.Metadata()
	md.Platform = Flavor + "(" + md.Platform + ")"
	return md
}

// Predict waits DelayMS (or until ctx ends: ctx's error), fails an
// ErrorRate fraction of calls with ErrInjected, and otherwise returns the
// wrapped model's prediction.
func (m *faulty) Predict(ctx context.Context, inputs []runtime.Tensor) ([]runtime.Tensor, error) {
	if m.cfg.DelayMS > 0 {
		t := time.NewTimer(time.Duration(m.cfg.DelayMS) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	if m.cfg.ErrorRate > 0 {
		m.mu.Lock()
		fail := m.rnd.Float64() < m.cfg.ErrorRate
		m.mu.Unlock()
		if fail {
			return nil, ErrInjected
		}
	}
	return m.Model.Predict(ctx, inputs)
}
