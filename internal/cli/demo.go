package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/examples"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/packaging"
	"github.com/ferry-ml/ferry/internal/train"
	"github.com/ferry-ml/ferry/internal/validation"
)

func (a *app) demoCommand() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the lifecycle end to end on bundled data, against an embedded server",
		Long: `Run Ferry's lifecycle as far as it exists on bundled example data, with
nothing but this binary: an embedded server on a free loopback port over
SQLite and a local artifact directory.

  1. data:   registers the bundled data sets as versioned data assets;
  2. track:  trains logistic-regression models with a few learning rates on
             the Wisconsin breast cancer data, each a tracked run, and
             compares them;
  3. train:  trains a gradient-boosted tree model on a sample of the 2001 US
             flights data (will a flight be more than 15 minutes late?) of
             January-April (data:/flights), fitting on January-March and
             watching April, and stores the model package as the run's
             artifact; May-June is held out as its own data asset
             (data:/flights-holdout) that no training sees;
  4. registry: registers that model, aliases it @challenger, moves it to
             Staging, and to Production under a policy that needs another
             principal's approval (refused until ml-lead approves), then
             prints its lineage and audit trail;
  5. package:  packages the Production version as a .tar.gz bundle, twice,
             to show the builds are byte-identical, and verifies it;
  6. validate: trains two challengers and validates each against @champion
             on the held-out May-June flights with gates (AUC floor, no
             worse than the champion, data checks), printing both held-out
             AUCs: a deeper model, which overfits and fails, and a shallower
             one, which passes and takes @champion;
  7. deploy:   deploys the version that was @champion before the
             challengers as deployment blue of endpoint flights (a resource
             file, applied as ferry apply applies it), asks it over the Open
             Inference Protocol V2 and MLflow's scoring protocol, then rolls
             the new champion out as green, a canary of 10%, 50% and 100%
             every 2s with automatic analysis (error rate and p99 latency
             against blue), while a few clients send requests: one line per
             step shows the traffic, the analysis and which deployment
             answered how many requests.

By default the data lives in a temporary directory that is removed at the
end; give --data DIR to keep it, and --serve to keep the server up to look at
it (MLFLOW_TRACKING_URI works against it, and the endpoint answers at
/endpoints/flights/…). Running it again on the same directory adds new runs
and versions beside the first ones, and rolls out again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.serverURL != "" {
				return usagef(cmd, "ferry demo runs its own embedded server on a temporary directory; --server does not apply (run the demo with --serve, then point commands at it with --server)")
			}
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
			cfg.PolicyFile = filepath.Join(cfg.DataDir, "policy.yaml")
			if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(cfg.PolicyFile, []byte(demoPolicy), 0o644); err != nil {
				return err
			}
			// The policy's validation rule names the gates file next to it.
			if err := os.WriteFile(filepath.Join(cfg.DataDir, "gates.yaml"), []byte(demoGates), 0o644); err != nil {
				return err
			}
			// The router and the rollout controller run, the controller
			// ticking often enough for the canary's 2s steps.
			opts := a.options(discardLogger())
			opts.Background, opts.RolloutTick = true, 200*time.Millisecond
			s, err := a.startLocal(ctx, cfg, opts)
			if err != nil {
				return err
			}
			defer s.close()
			fmt.Fprintf(out, "Ferry demo: server at %s, data in %s\n", s.client.URL(), cfg.DataDir)
			d := &demo{app: a, cfg: cfg, out: out, c: s.client, bar: newProgressBar(cmd.ErrOrStderr()), s: s}
			if err := d.run(ctx, filepath.Join(cfg.DataDir, "examples")); err != nil {
				return err
			}
			if keep {
				u := s.client.URL()
				fmt.Fprintf(out, "\nServing until interrupted (Ctrl-C): export MLFLOW_TRACKING_URI=%s, or ferry runs list -e flights-delay --server %[1]s; the endpoint answers at %[1]s/endpoints/%s/invocations (ferry endpoints get %[2]s --server %[1]s)\n", u, demoEndpoint)
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

// demo runs the lifecycle stages that exist, printing what each did.
type demo struct {
	app *app
	cfg config.Config
	dir string // where the demo writes its files
	out io.Writer
	c   *client.Client
	bar *progressBar
	s   *session
	// flights and holdout are the data URIs of the training flights
	// (January-April) and of the held-out ones (May-June).
	flights, holdout string
}

// demoPolicy is the demo's promotion policy: Production needs an approval by
// a principal other than the one asking; @champion a passing validation made
// with the demo's gates.yaml (written next to the policy), against the
// current champion once there is one.
const demoPolicy = `default:
  stages:
    Production: {approval: true}
  aliases:
    champion: {validation: {gates: gates.yaml, baseline: "@champion"}}
`

// demoGates are the validation gates: an absolute AUC floor, no worse than
// the champion on the same rows, and data checks against the training profile.
const demoGates = `thresholds: {roc_auc: ">= 0.60"}
baseline:
  roc_auc: {min_absolute_change: 0.0, greater_is_better: true}
data: {max_missing_rate_increase: 0.1, max_out_of_range_rate: 0.05}
`

func (d *demo) run(ctx context.Context, dir string) error {
	d.dir = dir
	files, err := examples.Files(dir)
	if err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n1. Data: registering the bundled data sets; May-June flights are held out")
	assets := []struct{ name, file, note string }{
		{"breast_cancer", files["breast_cancer"], "bundled example"},
		{"flights", files["flights_train"], "flights of January-April 2001, for training"},
		{"flights-holdout", files["flights_holdout"], "flights of May-June 2001, held out from training"},
	}
	uris := map[string]string{}
	for _, a := range assets {
		asset, _, err := d.app.uploadData(ctx, d.s, a.name, a.file, a.note, d.bar)
		if err != nil {
			return err
		}
		uris[a.name] = fmt.Sprintf("data:/%s/%d", asset.Name, asset.Version)
		fmt.Fprintf(d.out, "   %s  %d rows  %s  %s\n", uris[a.name], asset.Rows, shortDigest(asset.Digest), a.note)
	}
	d.flights, d.holdout = uris["flights"], uris["flights-holdout"]
	if err := d.track(ctx); err != nil {
		return err
	}
	runID, err := d.trainGBDT(ctx)
	if err != nil {
		return err
	}
	if err := d.register(ctx, runID); err != nil {
		return err
	}
	if err := d.pack(ctx, dir); err != nil {
		return err
	}
	from, to, err := d.challenge(ctx, dir)
	if err != nil {
		return err
	}
	return d.deploy(ctx, from, to)
}

// validate validates a version of flights-delay on the held-out flights
// with the gates file the policy names, recording the verdict, and prints
// the held-out AUC of the version and of the baseline; it reports whether it
// passed.
func (d *demo) validate(ctx context.Context, dir string, version int, baseline string) (bool, error) {
	gates := filepath.Join(d.cfg.DataDir, "gates.yaml") // the file the policy names
	var buf strings.Builder
	req := validation.Request{URI: fmt.Sprintf("models:/flights-delay/%d", version), Data: d.holdout, Baseline: baseline}
	reportDir := filepath.Join(dir, fmt.Sprintf("validation-v%d", version))
	err := d.app.validate(auth.WithPrincipal(ctx, "ci"), &buf, d.s, req, gates, reportDir)
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		fmt.Fprintf(d.out, "   %s\n", line)
	}
	if raw, rerr := os.ReadFile(filepath.Join(reportDir, "report.json")); rerr == nil {
		var rep validation.Report
		if json.Unmarshal(raw, &rep) == nil {
			fmt.Fprintf(d.out, "   held-out AUC (May-Jun, unseen in training): version %d %.4f", version, rep.Metrics["roc_auc"])
			if auc, ok := rep.BaselineMetrics["roc_auc"]; ok && rep.Baseline != nil {
				fmt.Fprintf(d.out, ", %s (version %d) %.4f", baseline, rep.Baseline.Version, auc)
			}
			fmt.Fprintln(d.out)
		}
	}
	var ce codeError
	if errors.As(err, &ce) && ce.code == validateFailed {
		return false, nil
	}
	return err == nil, err
}

// challenge is the validation stage: two challengers are trained,
// registered and validated against the champion, each taking @champion
// only if it passed — a deeper model than the baseline, which overfits
// January-March and fails on May-June, and a shallower one, which passes.
// It returns the champion's version before and after.
func (d *demo) challenge(ctx context.Context, dir string) (from, to int, err error) {
	fmt.Fprintln(d.out, "\n6. Validate: two challengers against @champion; each takes @champion only if it passes")
	champion, err := d.s.remote.Resolve(ctx, "models:/flights-delay@champion")
	if err != nil {
		return 0, 0, err
	}
	from, to = champion.Version, champion.Version
	challengers := []struct {
		name, description string
		rounds, depth     int
	}{
		{"gbdt-deeper", "deeper GBDT", 120, 7},
		{"gbdt-shallower", "shallower GBDT", 80, 4},
	}
	scientist := d.c.As("data-scientist")
	for _, ch := range challengers {
		res, err := d.runner().Run(ctx, flightsSpec(ch.name, d.flights, ch.rounds, ch.depth))
		d.bar.Done()
		if err != nil {
			return 0, 0, err
		}
		v, err := scientist.RegisterVersion(ctx, "flights-delay", client.VersionSource{Source: "runs:/" + res.RunID + "/model", Description: ch.description})
		if err != nil {
			return 0, 0, err
		}
		fmt.Fprintf(d.out, "   trained and registered flights-delay version %d, a %s (%d rounds, depth %d; val_auc %.4f)\n", v.Version, ch.description, ch.rounds, ch.depth, res.Metrics["val_auc"])
		passed, err := d.validate(ctx, dir, v.Version, "@champion")
		if err != nil {
			return 0, 0, err
		}
		if !passed {
			fmt.Fprintf(d.out, "   version %d failed validation: @champion stays on version %d\n", v.Version, to)
			continue
		}
		if _, err := scientist.Promote(ctx, "flights-delay", v.Version, "@champion", client.Promotion{Reason: "passed validation against the champion"}); err != nil {
			return 0, 0, err
		}
		fmt.Fprintf(d.out, "   @champion -> version %d\n", v.Version)
		to = v.Version
	}
	return from, to, nil
}

// pack is the packaging stage: the Production version as a reproducible
// bundle, built twice to show the digests agree, then verified.
func (d *demo) pack(ctx context.Context, dir string) error {
	fmt.Fprintln(d.out, "\n5. Package: models:/flights-delay/Production as a reproducible bundle")
	v, err := d.s.remote.Resolve(ctx, "models:/flights-delay/Production")
	if err != nil {
		return err
	}
	fetched, err := os.MkdirTemp(dir, "fetched-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(fetched)
	pkg, err := d.s.remote.FetchVersion(ctx, v, filepath.Join(fetched, "model"))
	if err != nil {
		return err
	}
	meta := packaging.Meta{Name: v.Name, Version: v.Version, Created: time.UnixMilli(v.CreationTime).UTC()}
	var digests []string
	bundles := []string{fmt.Sprintf("flights-delay-%d.tar.gz", v.Version), fmt.Sprintf("flights-delay-%d-again.tar.gz", v.Version)}
	for _, name := range bundles {
		path := filepath.Join(dir, name)
		digest, err := packaging.WriteBundleFile(ctx, path, pkg, meta, packaging.Options{})
		if err != nil {
			return err
		}
		digests = append(digests, digest)
		fmt.Fprintf(d.out, "   %s  %s\n", shortDigest(digest), path)
	}
	same := "identical"
	if digests[0] != digests[1] {
		same = "DIFFERENT (a bug)"
	}
	if _, err := packaging.Verify(ctx, filepath.Join(dir, bundles[0])); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   two builds are %s; every file verified (ferry models verify FILE)\n", same)
	return nil
}

func (d *demo) runner() *train.Runner {
	return &train.Runner{Tracker: d.s.remote, Data: d.s.remote, SourceTags: client.SourceTags(context.Background(), "", false), Progress: d.bar.Update}
}

// track is the experiment-tracking stage: one run per learning rate, then a
// comparison.
func (d *demo) track(ctx context.Context) error {
	const experiment = "breast-cancer"
	fmt.Fprintln(d.out, "\n2. Track: logistic regression on data:/breast_cancer/1, one run per learning rate")
	mine := map[string]bool{} // this demo's runs, not those of an earlier demo in the same directory
	for _, lr := range []float64{0.01, 0.1, 0.5, 2} {
		spec := train.Spec{
			ExperimentName: experiment, Name: fmt.Sprintf("logistic-lr%g", lr), Data: "data:/breast_cancer/1", Target: "diagnosis",
			Trainer: train.TrainerLogistic, Params: map[string]any{"learning_rate": lr, "epochs": 60, "l2": 0.001},
			Split: train.SplitSpec{Validation: 0.25}, Seed: 42,
		}
		res, err := d.runner().Run(ctx, spec)
		d.bar.Done()
		if err != nil {
			return err
		}
		fmt.Fprintf(d.out, "   %-18s val_auc=%.4f val_accuracy=%.4f  run %s\n", spec.Name, res.Metrics["val_auc"], res.Metrics["val_accuracy"], res.RunID)
		mine[res.RunID] = true
	}
	exp, err := d.c.GetExperimentByName(ctx, experiment)
	if err != nil {
		return err
	}
	runs, _, err := d.c.SearchRuns(ctx, client.RunQuery{ExperimentIDs: []string{exp.ID}, OrderBy: []string{"metrics.val_auc DESC", "metrics.val_logloss ASC"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\n   Runs of %q, best first (ferry runs compare -e %s):\n\n", experiment, experiment)
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	runs = slices.DeleteFunc(runs, func(r client.Run) bool { return !mine[r.Info.RunID] })
	cmp := compareRuns(runs)
	cmp.Params = []string{"learning_rate", "epochs", "l2"}
	cmp.table(tw)
	return tw.Flush()
}

// flightsSpec is the demo's flights model: will a flight be over 15 minutes
// late, from its date, distance and airports; data holds January-April, of
// which January-March train and April is the training's validation split.
func flightsSpec(name, data string, rounds, depth int) train.Spec {
	return train.Spec{
		ExperimentName: "flights-delay", Name: name, Data: data, Target: "delay", PositiveWhen: "> 15",
		Features: []string{"date:month", "date:weekday", "date:hour", "distance", "origin", "destination"},
		Trainer:  train.TrainerGBDT, Params: map[string]any{"num_rounds": rounds, "learning_rate": 0.1, "max_depth": depth},
		Split: train.SplitSpec{Method: "time", Column: "date", Cut: "2001-04-01"}, Seed: 7,
	}
}

// trainGBDT is the training stage: a built-in GBDT on the flights sample. It
// returns the run's ID.
func (d *demo) trainGBDT(ctx context.Context) (string, error) {
	fmt.Fprintf(d.out, "\n3. Train: gradient-boosted trees on %s, will a flight be over 15 minutes late?\n", d.flights)
	res, err := d.runner().Run(ctx, flightsSpec("gbdt-baseline", d.flights, 60, 6))
	d.bar.Done()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(d.out, "   trained on %d rows (Jan-Mar), validated on %d (Apr) in %s\n", res.TrainRows, res.ValidRows, res.Duration.Round(1e6))
	for _, k := range slices.Sorted(maps.Keys(res.Metrics)) {
		fmt.Fprintf(d.out, "   %-14s %s\n", k, number(res.Metrics[k]))
	}
	fmt.Fprintf(d.out, "   run %s; model package at %s/model (model.json %s)\n", res.RunID, res.ArtifactURI, shortDigest(res.ModelDigest))
	return res.RunID, nil
}

// register is the registry stage: register, alias, promote under the
// policy with a recorded approval, and show the lineage and audit trail.
func (d *demo) register(ctx context.Context, runID string) error {
	const name = "flights-delay"
	scientist, lead := d.c.As("data-scientist"), d.c.As("ml-lead")
	fmt.Fprintln(d.out, "\n4. Registry: promote the model under a policy (Production needs another principal's approval)")
	v, err := scientist.RegisterVersion(ctx, name, client.VersionSource{Source: "runs:/" + runID + "/model", Description: "GBDT baseline"})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   registered %s version %d from runs:/%s/model (package %s)\n", name, v.Version, short(runID), shortDigest(v.ModelDigest))
	steps := []struct {
		who    *client.Client
		target string
	}{{scientist, "@challenger"}, {scientist, "staging"}, {scientist, "production"}}
	for _, st := range steps {
		if _, err := st.who.Promote(ctx, name, v.Version, st.target, client.Promotion{Reason: "demo"}); err != nil {
			if !client.IsForbidden(err) {
				return err
			}
			fmt.Fprintf(d.out, "   %-12s blocked: %s\n", st.target, userMessage(err))
			if _, err := scientist.Approve(ctx, name, v.Version, st.target, "my own model"); err != nil {
				fmt.Fprintf(d.out, "   %-12s self-approval refused: %s\n", "", userMessage(err))
			}
			if _, err := lead.Approve(ctx, name, v.Version, st.target, "validation looks good"); err != nil {
				return err
			}
			fmt.Fprintf(d.out, "   %-12s approved by ml-lead\n", "")
			if _, err := scientist.Promote(ctx, name, v.Version, st.target, client.Promotion{Reason: "demo"}); err != nil {
				return err
			}
		}
		fmt.Fprintf(d.out, "   %-12s done\n", st.target)
	}
	if _, err := scientist.Promote(ctx, name, v.Version, "@champion", client.Promotion{}); client.IsForbidden(err) {
		fmt.Fprintf(d.out, "   %-12s blocked: %s\n", "@champion", userMessage(err))
	} else if err != nil {
		return err
	}
	// A first demo has no champion yet; a second one on the same directory
	// must beat the champion the first left behind.
	baseline := ""
	if _, err := d.s.remote.Resolve(ctx, "models:/"+name+"@champion"); err == nil {
		baseline = "@champion"
	}
	if passed, err := d.validate(ctx, d.dir, v.Version, baseline); err != nil {
		return err
	} else if passed {
		if _, err := scientist.Promote(ctx, name, v.Version, "@champion", client.Promotion{Reason: "passed validation"}); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "   %-12s done\n", "@champion")
	}
	lin, err := d.c.Lineage(ctx, name, v.Version)
	if err != nil {
		return err
	}
	commit := lin.GitCommit
	if commit == "" {
		commit = "(not in a git work tree)"
	} else if lin.GitDirty {
		commit += " (dirty)"
	}
	fmt.Fprintf(d.out, "   lineage: models:/%s/%d -> run %s -> commit %s -> data", name, v.Version, short(lin.Version.RunID), commit)
	for _, ds := range lin.Datasets {
		fmt.Fprintf(d.out, " %s", shortDigest(ds.Digest))
	}
	fmt.Fprintln(d.out)
	events, err := d.c.History(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   audit trail (ferry models history %s):\n", name)
	for _, e := range events {
		to := e.To
		if e.From != "" {
			to = e.From + " -> " + e.To
		}
		fmt.Fprintf(d.out, "     %-15s %-18s v%d %s\n", e.Principal, e.Action, e.Version, to)
	}
	return nil
}
