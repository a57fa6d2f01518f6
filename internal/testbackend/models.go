package testbackend

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	nativemodel "github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/internal/train/linear"
)

// LinearRow is a one-row V2 inference request for the models of
// RegisterLinear: x = 2.
const LinearRow = `{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[2]}]}`

// RegisterLinear registers a new version of model name: Ferry's native
// linear regression of y = slope·x + 1 on one numeric input x (0 to 19),
// packaged as `ferry train` packages it, with its training profile (x and
// the target y).
func (b *Backend) RegisterLinear(tb testing.TB, name string, slope float64) registry.Version {
	tb.Helper()
	ctx := context.Background()
	x, y := make([]float64, 20), make([]float64, 20)
	for i := range x {
		x[i], y[i] = float64(i), slope*float64(i)+1
	}
	f, err := dataset.NewFrame(dataset.NewNumeric("x", x), dataset.NewNumeric("y", y))
	check(tb, err)
	specs, err := nativemodel.ParseFeatures(f, []string{"x"}, "y")
	check(tb, err)
	feats, err := nativemodel.BuildFeatures(f, specs)
	check(tb, err)
	enc := nativemodel.FitEncoder(feats)
	lin, err := linear.Train(ctx, model.TaskRegression, 0, enc.Encode(feats), y, linear.DefaultParams(), nil)
	check(tb, err)
	pipe := &nativemodel.Pipeline{FormatVersion: nativemodel.PipelineFormatVersion, Task: model.TaskRegression, Target: "y",
		Features: specs, Trainer: train.TrainerLinear, Linear: lin, Encoder: enc}
	dir := filepath.Join(tb.TempDir(), "model")
	pb, err := model.NewBuilder(ctx, dir)
	check(tb, err)
	body, err := pipe.MarshalJSON()
	check(tb, err)
	check(tb, pb.AddFile(ctx, "model.json", bytes.NewReader(body)))
	m := &model.Manifest{ArtifactPath: "model", UTCTimeCreated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Metadata: map[string]any{"ferry_task": pipe.Task}}
	m.SetFlavor(model.FerryFlavor{Trainer: pipe.Trainer, Data: "model.json", FormatVersion: nativemodel.PipelineFormatVersion})
	profile, err := json.Marshal(f.Profile())
	check(tb, err)
	_, err = pb.Finish(ctx, m, model.FerryInfo{Task: pipe.Task, Target: "y", Profile: profile})
	check(tb, err)
	v, err := b.Registry.RegisterDir(ctx, name, dir, "", "", nil)
	check(tb, err)
	return v
}

func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
