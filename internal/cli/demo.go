package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/examples"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/train"
)

func (a *app) demoCommand() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the lifecycle end to end on bundled data, against an embedded server",
		Long: `Run Ferry's lifecycle as far as it exists on bundled example data (the
Wisconsin breast cancer set), with nothing but this binary: an embedded
server on a free loopback port over SQLite and a local artifact directory.

It trains logistic-regression models with a few hyperparameter settings,
logging each as a tracked run (params, per-epoch metrics, validation metrics,
the data set's digest, the git commit, the model as an artifact), then
compares the runs.

By default the data lives in a temporary directory that is removed at the
end; give --data DIR to keep it, and --serve to keep the server up to look at
it (MLFLOW_TRACKING_URI works against it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			cfg := config.Default()
			cfg.SQLite.Synchronous = "normal"
			if a.dataDir != "" {
				cfg.DataDir = a.dataDir
			} else {
				dir, err := os.MkdirTemp("", "ferry-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				cfg.DataDir = dir
			}
			cfg = cfg.Resolved()
			s, err := startLocal(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				return err
			}
			defer s.close()
			fmt.Fprintf(out, "Ferry demo: server at %s, data in %s\n\n", s.client.URL(), cfg.DataDir)
			if err := demoTrack(ctx, out, s.client); err != nil {
				return err
			}
			if keep {
				fmt.Fprintf(out, "\nServing until interrupted (Ctrl-C): export MLFLOW_TRACKING_URI=%s, or ferry runs list -e breast-cancer-demo --server %s\n", s.client.URL(), s.client.URL())
				<-ctx.Done()
				return nil
			}
			fmt.Fprintln(out, "\nDone. Keep the data with --data DIR and the server up with --serve; then: ferry server --data DIR")
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "serve", false, "keep serving after the demo until interrupted")
	return cmd
}

// demoSettings are the hyperparameters the demo compares.
var demoSettings = []train.LogisticConfig{
	{LearningRate: 0.01, L2: 0, Epochs: 60},
	{LearningRate: 0.1, L2: 0.01, Epochs: 60},
	{LearningRate: 0.5, L2: 0.001, Epochs: 60},
	{LearningRate: 2.0, L2: 0, Epochs: 60},
}

// demoTrack is the tracking stage of the demo: one run per setting, then a
// comparison.
func demoTrack(ctx context.Context, out io.Writer, c *client.Client) error {
	data, err := examples.BreastCancer()
	if err != nil {
		return err
	}
	trIdx, vaIdx := train.Split(len(data.X), 0.25, 42)
	pick := func(idx []int) ([][]float64, []float64) {
		X, y := make([][]float64, len(idx)), make([]float64, len(idx))
		for k, i := range idx {
			X[k], y[k] = data.X[i], data.Y[i]
		}
		return X, y
	}
	Xt, yt := pick(trIdx)
	Xv, yv := pick(vaIdx)
	const experiment = "breast-cancer-demo"
	fmt.Fprintf(out, "Training %d logistic-regression runs on %s (%d train / %d validation rows)\n", len(demoSettings), data.Name, len(Xt), len(Xv))
	for i, cfg := range demoSettings {
		name := fmt.Sprintf("logreg-lr%s", strconv.FormatFloat(cfg.LearningRate, 'g', -1, 64))
		run, err := c.StartRun(ctx, experiment, client.RunOptions{Name: name, Tags: map[string]string{"trainer": "logistic"}})
		if err != nil {
			return err
		}
		score, err := demoRun(ctx, run, c, data, cfg, Xt, yt, Xv, yv)
		status := client.StatusFinished
		if err != nil {
			status = client.StatusFailed
		}
		if endErr := run.End(ctx, status); err == nil {
			err = endErr
		}
		if err != nil {
			return fmt.Errorf("run %s: %w", name, err)
		}
		fmt.Fprintf(out, "  [%d/%d] %-14s val_auc=%.4f val_accuracy=%.4f  run %s\n", i+1, len(demoSettings), name, score.AUC, score.Accuracy, run.ID())
	}
	exp, err := c.GetExperimentByName(ctx, experiment)
	if err != nil {
		return err
	}
	runs, _, err := c.SearchRuns(ctx, client.RunQuery{ExperimentIDs: []string{exp.ID}, OrderBy: []string{"metrics.val_auc DESC", "metrics.val_logloss ASC"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nRuns of %q, best first (ferry runs compare -e %s):\n\n", experiment, experiment)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	compareRuns(runs).table(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	best := runs[0]
	auc, _ := best.Metric("val_auc")
	fmt.Fprintf(out, "\nBest run: %s (%s) with val_auc %.4f; its model is at %s/model/model.json\n", best.Info.RunName, best.Info.RunID, auc, best.Info.ArtifactURI)
	return nil
}

// demoRun trains one model, logging to run, and returns its validation scores.
func demoRun(ctx context.Context, run *client.ActiveRun, c *client.Client, data examples.Table, cfg train.LogisticConfig, Xt [][]float64, yt []float64, Xv [][]float64, yv []float64) (train.BinaryMetrics, error) {
	var none train.BinaryMetrics
	err := run.LogParams(ctx, map[string]string{
		"learning_rate": strconv.FormatFloat(cfg.LearningRate, 'g', -1, 64),
		"l2":            strconv.FormatFloat(cfg.L2, 'g', -1, 64),
		"epochs":        strconv.Itoa(cfg.Epochs),
		"split_seed":    "42",
	})
	if err != nil {
		return none, err
	}
	err = c.LogInputs(ctx, run.ID(), []client.DatasetInput{{
		Tags:    []client.Tag{{Key: "mlflow.data.context", Value: "training"}},
		Dataset: client.Dataset{Name: data.Name, Digest: data.Digest[:16], SourceType: "local", Source: `{"uri": "examples/breast_cancer.csv"}`},
	}})
	if err != nil {
		return none, err
	}
	var batch []client.Metric
	model, err := train.TrainLogistic(ctx, Xt, yt, cfg, func(epoch int, loss float64) error {
		batch = append(batch, client.Metric{Key: "train_logloss", Value: loss, Timestamp: time.Now().UnixMilli(), Step: int64(epoch)})
		return nil
	})
	if err != nil {
		return none, err
	}
	if err := c.LogBatch(ctx, run.ID(), batch, nil, nil); err != nil {
		return none, err
	}
	p := make([]float64, len(Xv))
	for i, x := range Xv {
		p[i] = model.PredictProba(x)
	}
	score := train.ScoreBinary(yv, p)
	err = run.LogMetrics(ctx, map[string]float64{"val_auc": score.AUC, "val_accuracy": score.Accuracy, "val_logloss": score.LogLoss}, int64(cfg.Epochs))
	if err != nil {
		return none, err
	}
	b, err := json.MarshalIndent(model, "", "  ")
	if err != nil {
		return none, err
	}
	return score, run.LogArtifactReader(ctx, "model/model.json", bytes.NewReader(b))
}
