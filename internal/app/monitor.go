package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/monitor"
	"github.com/ferry-ml/ferry/internal/registry"
)

// baselines implements monitor.Baselines over the model registry (the
// training profile and task every package carries) and the data registry
// (the profile of every data asset version). A pinned model version never
// changes, so its info is fetched once and kept (at most maxBaselines).
type baselines struct {
	registry *registry.Service
	data     *dataset.Registry
	deploy   *deploy.Service
	dir      string // where packages are fetched, then removed

	mu    sync.Mutex
	infos map[string]model.FerryInfo
}

const maxBaselines = 64

func newBaselines(reg *registry.Service, data *dataset.Registry, deployments *deploy.Service, dir string) *baselines {
	return &baselines{registry: reg, data: data, deploy: deployments, dir: dir, infos: map[string]model.FerryInfo{}}
}

// info returns the Ferry info of the package of model version uri.
func (b *baselines) info(ctx context.Context, uri string) (model.FerryInfo, error) {
	b.mu.Lock()
	fi, ok := b.infos[uri]
	b.mu.Unlock()
	if ok {
		return fi, nil
	}
	v, err := b.registry.Resolve(ctx, uri)
	if err != nil {
		return model.FerryInfo{}, err
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return model.FerryInfo{}, fmt.Errorf("baseline of %s: %w", uri, err)
	}
	tmp, err := os.MkdirTemp(b.dir, "baseline-")
	if err != nil {
		return model.FerryInfo{}, fmt.Errorf("baseline of %s: %w", uri, err)
	}
	defer os.RemoveAll(tmp)
	p, err := b.registry.FetchVersion(ctx, v, filepath.Join(tmp, "model"))
	if err != nil {
		return model.FerryInfo{}, err
	}
	if p.Info != nil {
		fi = *p.Info
	}
	b.mu.Lock()
	if len(b.infos) >= maxBaselines {
		clear(b.infos)
	}
	b.infos[uri] = fi
	b.mu.Unlock()
	return fi, nil
}

// ModelProfile is the training profile of model version uri; ENOTFOUND
// when its package has none.
func (b *baselines) ModelProfile(ctx context.Context, uri string) (dataset.Profile, error) {
	fi, err := b.info(ctx, uri)
	if err != nil {
		return dataset.Profile{}, err
	}
	if len(fi.Profile) == 0 {
		return dataset.Profile{}, ferry.Errorf(ferry.ENOTFOUND, "model %s has no training profile; give the monitor a data:/NAME/VERSION baseline", uri)
	}
	return decodeProfile(fi.Profile, uri)
}

// ModelTask is the task, class labels and target of model version uri.
func (b *baselines) ModelTask(ctx context.Context, uri string) (monitor.ModelTask, error) {
	fi, err := b.info(ctx, uri)
	if err != nil {
		return monitor.ModelTask{}, err
	}
	return monitor.ModelTask{Task: fi.Task, Classes: fi.ClassLabels, Target: fi.Target}, nil
}

// DataProfile is the profile of data asset version uri (data:/NAME/VERSION).
func (b *baselines) DataProfile(ctx context.Context, uri string) (dataset.Profile, error) {
	name, version, err := dataset.ParseRef(uri)
	if err != nil {
		return dataset.Profile{}, err
	}
	a, err := b.data.Get(ctx, name, version)
	if err != nil {
		return dataset.Profile{}, err
	}
	if len(a.Profile) == 0 {
		return dataset.Profile{}, ferry.Errorf(ferry.ENOTFOUND, "data %s has no profile", uri)
	}
	return decodeProfile(a.Profile, uri)
}

func decodeProfile(raw json.RawMessage, uri string) (dataset.Profile, error) {
	var p dataset.Profile
	if err := json.Unmarshal(raw, &p); err != nil {
		return dataset.Profile{}, ferry.Errorf(ferry.EINVALID, "the profile of %s does not decode: %v", uri, err)
	}
	return p, nil
}

// edges are the collector's baseline bins of a deployment: those of the
// training profile of its pinned model version (the collector names only
// the served version number), so that window profiles compare with it bin
// by bin.
func (b *baselines) edges(ctx context.Context, endpoint, deployment, modelVersion string) (dataset.Edges, error) {
	uri := modelVersion
	if !strings.HasPrefix(uri, "models:/") {
		d, err := b.deploy.GetDeployment(ctx, endpoint, deployment)
		if err != nil {
			return nil, err
		}
		uri = d.ModelVersion
	}
	p, err := b.ModelProfile(ctx, uri)
	if err != nil {
		return nil, err
	}
	return p.Edges(), nil
}
