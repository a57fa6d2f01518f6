package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ferryapp "github.com/ferry-ml/ferry/internal/app"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/tracking"
)

// TestValidateXGBoostPackage registers a model package as MLflow writes it
// for XGBoost (no ferry.json) and validates it: the package is scored through
// the XGBoost runtime.
func TestValidateXGBoostPackage(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	fixture := filepath.Join("..", "runtime", "xgboost", "testdata")
	modelJSON, err := os.ReadFile(filepath.Join(fixture, "binary_logistic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected struct {
		Rows     int        `json:"rows"`
		Features int        `json:"features"`
		X        []*float64 `json:"x"`
		Predict  []float64  `json:"predict"`
	}
	raw, err := os.ReadFile(filepath.Join(fixture, "binary_logistic.expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.DataDir = data
	cfg = cfg.Resolved()
	b, err := ferryapp.Open(ctx, cfg, ferryapp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := b.Tracking.CreateRun(ctx, tracking.RunCreate{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimPrefix(run.Info.ArtifactURI, "mlflow-artifacts:/") + "/model/"
	mlmodel := `artifact_path: model
flavors:
  python_function:
    data: model.xgb
    loader_module: mlflow.xgboost
    python_version: 3.11.7
  xgboost:
    code: null
    data: model.xgb
    model_class: xgboost.core.Booster
    model_format: json
    xgb_version: 1.7.4
mlflow_version: 2.9.2
model_uuid: 0123456789abcdef0123456789abcdef
run_id: ` + run.Info.RunID + `
utc_time_created: '2024-01-01 00:00:00.000000'
`
	for name, body := range map[string][]byte{"MLmodel": []byte(mlmodel), "model.xgb": modelJSON} {
		if _, err := b.Artifacts.Put(ctx, prefix+name, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	if code, out, errs := runCLI(t, data, "models", "register", "xgb", "--from", "runs:/"+run.Info.RunID+"/model"); code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}

	// Evaluation rows: the fixture's features, labelled by XGBoost's own
	// prediction, so a faithful evaluator scores an AUC of 1.
	dir := t.TempDir()
	var csv strings.Builder
	for j := range expected.Features {
		csv.WriteString("f" + strconv.Itoa(j) + ",")
	}
	csv.WriteString("y\n")
	for i := range expected.Rows {
		for j := range expected.Features {
			if v := expected.X[i*expected.Features+j]; v != nil {
				csv.WriteString(strconv.FormatFloat(*v, 'g', -1, 64))
			}
			csv.WriteString(",")
		}
		y := "0"
		if expected.Predict[i] > 0.5 {
			y = "1"
		}
		csv.WriteString(y + "\n")
	}
	path := filepath.Join(dir, "eval.csv")
	os.WriteFile(path, []byte(csv.String()), 0o644)
	gates := filepath.Join(dir, "gates.yaml")
	os.WriteFile(gates, []byte("thresholds: {roc_auc: \">= 0.999\"}\n"), 0o644)
	code, out, errs := runCLI(t, data, "validate", "models:/xgb/1", "--dataset", path, "--target", "y", "--task", "binary", "--policy", gates, "--out", filepath.Join(dir, "report"))
	if code != 0 || !strings.HasPrefix(out, "PASS: xgb version 1") {
		t.Fatalf("validate: exit %d\n%s\n%s", code, out, errs)
	}
}
