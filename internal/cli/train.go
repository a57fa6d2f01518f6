package cli

import (
	"fmt"
	"maps"
	"os/user"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/train"
)

func (a *app) trainCommand() *cobra.Command {
	var (
		file   string
		flags  train.Spec
		params map[string]string
		keep   string
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model with a built-in trainer as a tracked run",
		Long: `Train a model with a built-in trainer (gbdt, logistic, linear) from a spec
file or flags. The run logs its params, per-iteration metrics, validation
metrics, the data set's digest and the code's git commit, and stores the model
package (MLmodel, model.json, signature, input example, training profile) as
its "model" artifact.

Every field of the spec file, its default and an example: docs/training-spec.md
(and ferry help formats).`,
		Example: `  ferry train -f train.yaml
  ferry train --dataset flights.csv --target delay --positive-when "> 15" \
      --feature date:month --feature distance --feature origin --param num_rounds=100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := flags
			if file != "" {
				s, err := train.LoadSpec(file)
				if err != nil {
					return err
				}
				spec = mergeSpec(*s, flags, cmd)
			}
			if len(params) > 0 {
				if spec.Params == nil {
					spec.Params = map[string]any{}
				}
				for k, v := range params {
					spec.Params[k] = paramValue(v)
				}
			}
			if file == "" && spec.Data == "" {
				return usagef(cmd, "name the data with -f SPEC or --dataset PATH")
			}
			ctx := cmd.Context()
			s, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			bar := a.progress(cmd)
			r := &train.Runner{Tracker: s.remote, Data: s.remote, SourceTags: client.SourceTags(ctx, "", false), Progress: bar.Update, KeepDir: keep}
			res, err := r.Run(ctx, spec)
			bar.Done()
			if err != nil {
				return err
			}
			return a.render(cmd.OutOrStdout(), res, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Trained a %s %s model in %s on %d rows (%d for validation).\n", res.Task, res.Trainer, res.Duration.Round(1e6), res.TrainRows, res.ValidRows)
				for _, k := range slices.Sorted(maps.Keys(res.Metrics)) {
					row(tw, "  "+k, number(res.Metrics[k]))
				}
				fmt.Fprintf(tw, "Run %s; model at %s/model (model.json %s).\n", res.RunID, res.ArtifactURI, res.ModelDigest)
				if res.PackageDir != "" {
					fmt.Fprintf(tw, "Package kept in %s; register it with: ferry models register NAME --from %[1]s\n", res.PackageDir)
				}
				fmt.Fprintf(tw, "See it with: ferry runs get %s\n", res.RunID)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "training spec (YAML); flags override its fields")
	f.StringVar(&flags.Data, "dataset", "", "training data: a CSV, Parquet or JSONL file, or data:/name/version (--data is the data directory)")
	f.StringVar(&flags.Target, "target", "", "column to predict")
	f.StringVar(&flags.Task, "task", "", "binary, multiclass or regression (default: inferred from the target)")
	f.StringVar(&flags.PositiveWhen, "positive-when", "", `binary label from a numeric target, e.g. "> 15"`)
	f.StringArrayVar(&flags.Features, "feature", nil, "feature column, or COLUMN:PART for a timestamp's month, weekday, hour (repeatable; default all)")
	f.StringVar(&flags.Trainer, "trainer", "", "gbdt (default), logistic or linear")
	f.StringToStringVar(&params, "param", nil, "trainer parameter NAME=VALUE (repeatable)")
	f.StringVar(&flags.ExperimentName, "experiment", "", "experiment name (default Default)")
	f.StringVar(&flags.Name, "name", "", "run name")
	f.Uint64Var(&flags.Seed, "seed", 0, "random seed (splits, subsampling)")
	f.StringVar(&keep, "out", "", "also keep the model package in DIR/model")
	_ = cmd.RegisterFlagCompletionFunc("trainer", cobra.FixedCompletions([]string{"gbdt", "logistic", "linear"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// mergeSpec overrides file's fields with the flags the user set.
func mergeSpec(file, flags train.Spec, cmd *cobra.Command) train.Spec {
	set := func(name string) bool { return cmd.Flags().Changed(name) }
	if set("dataset") {
		file.Data = flags.Data
	}
	if set("target") {
		file.Target = flags.Target
	}
	if set("task") {
		file.Task = flags.Task
	}
	if set("positive-when") {
		file.PositiveWhen = flags.PositiveWhen
	}
	if set("feature") {
		file.Features = flags.Features
	}
	if set("trainer") {
		file.Trainer = flags.Trainer
	}
	if set("experiment") {
		file.ExperimentName = flags.ExperimentName
	}
	if set("name") {
		file.Name = flags.Name
	}
	if set("seed") {
		file.Seed = flags.Seed
	}
	return file
}

// paramValue reads a --param value as a number or boolean when it is one.
func paramValue(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	if b, err := strconv.ParseBool(s); err == nil {
		return b
	}
	return s
}

// currentUser names the local user for records that need one.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
