package train

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/model/native"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// Files and metadata of the packages the trainer writes.
const (
	// xgboostFile holds a GBDT's trees in XGBoost's JSON format.
	xgboostFile = "xgboost/model.json"
	// MetadataPythonFunction is the MLmodel metadata key that says how
	// MLflow's Python tools load the model: "mlflow.xgboost" when the
	// package has the xgboost and python_function flavors, "none" when it
	// has neither. MetadataPythonFunctionNote says what they predict, or
	// why the model has no such flavor.
	MetadataPythonFunction     = "ferry_python_function"
	MetadataPythonFunctionNote = "ferry_python_function_note"
)

// pythonRequirements is what the python_function flavor of a GBDT needs:
// an XGBoost that reads the 1.7 JSON format, and MLflow to load it.
var pythonRequirements = model.PythonRequirements{Python: "3.10", Packages: []string{"mlflow>=2", "xgboost>=1.7"}}

// writePackage writes the model package and returns its directory and the
// digest of model.json. A GBDT's trees are also written in XGBoost's JSON
// format; when they read the raw input columns as they are
// (Pipeline.CheckXGBoostInputs), the package also has the xgboost and
// python_function flavors MLflow 2.x writes, so mlflow.xgboost.load_model and
// mlflow.pyfunc.load_model load it. The metadata says which (see
// MetadataPythonFunction).
func (r *Runner) writePackage(ctx context.Context, spec Spec, p *prepared, pipe *native.Pipeline, run tracking.Run, params map[string]string) (dir, digest string, err error) {
	parent := r.KeepDir
	if parent == "" {
		if parent, err = os.MkdirTemp("", "ferry-model-"); err != nil {
			return "", "", err
		}
	}
	dir = filepath.Join(parent, "model")
	b, err := model.NewBuilder(ctx, dir)
	if err != nil {
		return "", "", err
	}
	defer func() {
		if err != nil {
			_ = b.Abort()
		}
	}()
	body, err := pipe.MarshalJSON()
	if err != nil {
		return "", "", err
	}
	if err := b.AddFile(ctx, "model.json", bytes.NewReader(body)); err != nil {
		return "", "", err
	}
	m := &model.Manifest{
		ArtifactPath: "model", RunID: run.Info.RunID,
		UTCTimeCreated: time.UnixMilli(run.Info.StartTime).UTC(),
		Signature:      pipe.Signature(),
		Metadata:       map[string]any{"ferry_task": p.task},
	}
	m.SetFlavor(model.FerryFlavor{Trainer: spec.Trainer, Data: "model.json", FormatVersion: native.PipelineFormatVersion})
	if err := addXGBoost(ctx, b, m, pipe); err != nil {
		return "", "", err
	}
	example, err := inputExample(ctx, p, pipe)
	if err != nil {
		return "", "", err
	}
	if err := b.SetInputExample(ctx, bytes.NewReader(example.input), model.InputExampleInfo{ArtifactPath: "input_example.json", Type: "dataframe", PandasOrient: "split"}); err != nil {
		return "", "", err
	}
	if err := b.AddFile(ctx, "input_example_predictions.json", bytes.NewReader(example.predictions)); err != nil {
		return "", "", err
	}
	profile, err := json.Marshal(p.frame.Take(p.trIdx).Profile())
	if err != nil {
		return "", "", err
	}
	info := model.FerryInfo{
		Task: p.task, ClassLabels: pipe.ClassLabels, Target: spec.Target, PositiveWhen: spec.PositiveWhen, Profile: profile,
		Lineage: model.Lineage{
			RunID: run.Info.RunID, GitCommit: r.SourceTags["mlflow.source.git.commit"], GitDirty: r.SourceTags["ferry.source.git.dirty"] == "true",
			Datasets: []model.DatasetRef{{Name: p.asset.Name, Digest: p.asset.Digest, URI: p.asset.URI}},
			Trainer:  spec.Trainer, Params: params, FerryVersion: ferry.Version,
		},
	}
	if _, err := b.Finish(ctx, m, info); err != nil {
		return "", "", err
	}
	return dir, "sha256:" + sha256Hex(body), nil
}

// addXGBoost writes a GBDT's trees in XGBoost's JSON format (XGBoost users
// can load them even when their features are derived ones), and — when they
// read the raw input columns as they are — the xgboost and python_function
// flavors with their environment files. It records in m's metadata which
// Python loader the package has and what it predicts, or why it has none.
func addXGBoost(ctx context.Context, b *model.Builder, m *model.Manifest, pipe *native.Pipeline) error {
	if pipe.GBDT != nil {
		var xgb bytes.Buffer
		if err := pipe.GBDT.WriteXGBoostJSON(&xgb); err != nil {
			return err
		}
		if err := b.AddFile(ctx, xgboostFile, &xgb); err != nil {
			return err
		}
	}
	if err := pipe.CheckXGBoostInputs(); err != nil {
		m.Metadata[MetadataPythonFunction] = "none"
		m.Metadata[MetadataPythonFunctionNote] = "no python_function flavor: " + err.Error() + "; Ferry serves this model (flavor ferry)"
		return nil
	}
	env, files := pythonRequirements.Files()
	for _, name := range []string{model.CondaFile, model.PythonEnvFile, model.RequirementsFile} {
		if err := b.AddFile(ctx, name, bytes.NewReader(files[name])); err != nil {
			return err
		}
	}
	xf, pf := model.MLflowXGBoost(xgboostFile, native.XGBoostVersion, env)
	m.SetFlavor(xf)
	m.SetFlavor(pf)
	m.Metadata[MetadataPythonFunction] = pf.LoaderModule
	m.Metadata[MetadataPythonFunctionNote] = pyfuncNote(pipe)
	return nil
}

// pyfuncNote says what mlflow.pyfunc predicts with the xgboost flavor.
func pyfuncNote(pipe *native.Pipeline) string {
	const head = "mlflow.pyfunc.load_model predicts with the XGBoost booster in " + xgboostFile + " what Ferry predicts: "
	switch pipe.Task {
	case model.TaskBinary:
		positive := "1"
		if len(pipe.ClassLabels) == 2 {
			positive = pipe.ClassLabels[1]
		}
		return head + "P(" + strconv.Quote(positive) + ") per row, without the label"
	case model.TaskMulticlass:
		return head + "the probabilities of " + strings.Join(pipe.ClassLabels, ", ") + " per row, without the label"
	}
	return head + "the predicted value per row"
}

type example struct{ input, predictions []byte }

// inputExample takes the first validation rows as MLflow's split-oriented
// input example, with the model's predictions for them.
func inputExample(ctx context.Context, p *prepared, pipe *native.Pipeline) (example, error) {
	rows := p.vaIdx[:min(5, len(p.vaIdx))]
	sub := p.frame.Take(rows)
	inputs := native.Inputs(pipe.Features)
	ex := struct {
		Columns []string `json:"columns"`
		Data    [][]any  `json:"data"`
	}{}
	cols := make([]*dataset.Column, len(inputs))
	for j, c := range inputs {
		ex.Columns = append(ex.Columns, c.Name)
		cols[j], _ = sub.Col(c.Name)
	}
	for i := range rows {
		row := make([]any, len(cols))
		for j, c := range cols {
			switch {
			case c.IsMissing(i):
				row[j] = nil
			case c.Kind == dataset.KindNumeric:
				row[j] = c.Num[i]
			default:
				row[j] = c.String(i)
			}
		}
		ex.Data = append(ex.Data, row)
	}
	input, err := json.Marshal(ex)
	if err != nil {
		return example{}, err
	}
	pred, err := pipe.Predict(ctx, sub)
	if err != nil {
		return example{}, err
	}
	out := make([]string, len(pred))
	for i, v := range pred {
		out[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return example{input: input, predictions: []byte(`{"predictions": [` + strings.Join(out, ", ") + "]}\n")}, nil
}
