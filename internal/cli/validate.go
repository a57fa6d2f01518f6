package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/runtime"
	"github.com/ferry-ml/ferry/internal/validation"
)

// Exit codes of ferry validate.
const (
	validateFailed = 1 // a gate or check failed
	validateError  = 2 // the validation could not be done
)

// codeError carries a specific exit code out of a command; Run exits with it.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

func (a *app) validateCommand() *cobra.Command {
	var (
		dataRef, policyPath, baseline, target, positive, outDir, as, task string
		slices                                                            []string
	)
	cmd := &cobra.Command{
		Use:   "validate MODEL_URI --data DATA",
		Short: "Evaluate a model version, judge it against gates and the champion, record the verdict",
		Long: `Evaluate a registered model version on data, judge it with the gates of a
policy file (absolute thresholds, comparisons with a baseline such as
@champion evaluated on the same rows, per-slice thresholds, data checks
against the training profile, package checks, latency and size budgets),
store the result as a "validation" check on the version — the record the
registry's promotion rules read — and write report.json, report.md (a table
fit for a pull-request comment) and report.html (self-contained, with charts).

Exit status: 0 when every gate and check passed, 1 when one failed, 2 when the
validation could not be done (e.g. the baseline cannot be loaded).

Works on the local data directory (--data-dir is the global --data).`,
		Example: `  ferry validate models:/churn/5 --dataset data:/holdout/3 --policy gates.yaml --baseline @champion
  ferry validate models:/flights/2 --dataset may.parquet --target delay --positive-when "> 15" --slice origin`,
		Args: exactArgs(1, "MODEL_URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataRef == "" {
				return usagef(cmd, "name the evaluation data with --dataset (data:/name/version or a file)")
			}
			principal := cmp.Or(as, a.env.lookup("FERRY_PRINCIPAL"), currentUser())
			err := a.withBackend(cmd.Context(), func(b *backend) error {
				return validateVersion(cmd.Context(), cmd.OutOrStdout(), b, validateArgs{
					uri: args[0], data: dataRef, policy: policyPath, baseline: baseline, target: target,
					positive: positive, out: outDir, principal: principal, slices: slices, task: task, runtimes: a.runtimeConfig(discardLogger()),
				})
			})
			var ee codeError
			if err != nil && !errors.As(err, &ee) {
				return codeError{code: validateError, err: err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataRef, "dataset", "", "evaluation data: data:/name/version or a CSV, Parquet or JSONL file")
	f.StringVar(&policyPath, "policy", "", "gates file (YAML); without it only the schema and predictions are checked")
	f.StringVar(&baseline, "baseline", "", "version to compare with: @alias, a version number, or a models:/ URI (e.g. @champion)")
	f.StringVar(&target, "target", "", "label column (default: the model's training target)")
	f.StringVar(&task, "task", "", "binary, multiclass or regression, for packages that do not say (e.g. written by MLflow)")
	f.StringVar(&positive, "positive-when", "", `binary label from a numeric target, e.g. "> 15" (default: as in training)`)
	f.StringArrayVar(&slices, "slice", nil, "report metrics per value of this column (repeatable)")
	f.StringVar(&outDir, "out", ".", "directory for report.json, report.md and report.html")
	f.StringVar(&as, "as", "", "principal recorded with the result (default: $FERRY_PRINCIPAL, else the local user)")
	return cmd
}

type validateArgs struct {
	uri, data, policy, baseline, target, positive, out, principal, task string
	slices                                                              []string
	runtimes                                                            runtimeConfig // for packages that are not Ferry's own
}

// validateVersion runs one validation and records it on the version; a
// failed gate is a codeError with exit status 1.
func validateVersion(ctx context.Context, out io.Writer, b *backend, va validateArgs) error {
	tmp, err := os.MkdirTemp("", "ferry-validate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var loaded []runtime.Model
	defer func() {
		for _, m := range loaded {
			_ = m.Close()
		}
	}()
	rt := runtimes(va.runtimes)
	cand, candVersion, spec, err := loadForValidation(ctx, b, rt, va.uri, filepath.Join(tmp, "candidate"), &loaded)
	if err != nil {
		return err
	}
	in := validation.Input{Candidate: cand, User: va.principal, SliceColumns: va.slices, Target: va.target, PositiveWhen: va.positive, Task: va.task}
	if in.Target == "" {
		in.Target = spec.target
	}
	if in.PositiveWhen == "" {
		in.PositiveWhen = spec.positive
	}
	if va.baseline != "" {
		ref := va.baseline
		switch {
		case strings.HasPrefix(ref, "@"):
			ref = "models:/" + candVersion.Name + ref
		case !strings.HasPrefix(ref, "models:/"):
			ref = "models:/" + candVersion.Name + "/" + ref
		}
		base, _, _, err := loadForValidation(ctx, b, rt, ref, filepath.Join(tmp, "baseline"), &loaded)
		if err != nil {
			return &ferry.Error{Code: ferry.ErrorCode(err), Message: fmt.Sprintf("The baseline %s cannot be loaded, so the validation cannot be done: %s", va.baseline, ferry.ErrorMessage(err))}
		}
		in.Baseline = &base
	}
	if va.policy != "" {
		if in.Policy, err = validation.LoadPolicy(va.policy); err != nil {
			return err
		}
	}
	path := va.data
	in.DataRef = validation.DataRef{URI: va.data}
	if strings.HasPrefix(va.data, "data:") {
		var asset dataset.Asset
		if path, asset, err = b.data.ResolveData(ctx, va.data); err != nil {
			return err
		}
		in.DataRef.Digest = asset.Digest
	}
	if in.Data, err = dataset.Read(ctx, path, dataset.ReadOptions{}); err != nil {
		return err
	}
	rep, verr := validation.Validate(ctx, in)
	if rep != nil {
		if err := writeReports(va.out, rep); err != nil {
			return err
		}
		details, _ := json.Marshal(rep)
		verdict := rep.Verdict
		if verdict == validation.VerdictError {
			verdict = validation.VerdictFail
		}
		if _, err := b.registry.RecordCheck(ctx, va.principal, candVersion.Name, candVersion.Version, "validation", verdict, string(details)); err != nil {
			return err
		}
		printVerdict(out, rep, va.out)
	}
	if verr != nil {
		return codeError{code: validateError, err: verr}
	}
	if rep.Verdict != validation.VerdictPass {
		return codeError{code: validateFailed, err: fmt.Errorf("%s version %d failed validation; see %s", candVersion.Name, candVersion.Version, filepath.Join(va.out, "report.md"))}
	}
	return nil
}

// trainingSpec is what validation reuses from the model's training.
type trainingSpec struct{ target, positive string }

// loadForValidation resolves uri, fetches and verifies the version's package
// and returns a predictor for it: the model loaded by its runtime in rt (as
// serving loads it), which is appended to closers.
func loadForValidation(ctx context.Context, b *backend, rt runtime.Registry, uri, dir string, closers *[]runtime.Model) (validation.Model, registry.Version, trainingSpec, error) {
	var spec trainingSpec
	v, err := b.registry.Resolve(ctx, uri)
	if err != nil {
		return validation.Model{}, v, spec, err
	}
	pkg, err := b.registry.FetchVersion(ctx, v, dir)
	if err != nil {
		return validation.Model{}, v, spec, err
	}
	m, err := rt.Load(ctx, pkg)
	if err != nil {
		return validation.Model{}, v, spec, err
	}
	*closers = append(*closers, m)
	predict := validation.RuntimePredictor(m)
	if run, err := b.tracking.GetRun(ctx, v.RunID); err == nil {
		spec.target, _ = run.Tag("ferry.target")
		spec.positive, _ = run.Tag("ferry.positive_when")
	}
	ref := validation.Ref{Model: v.Name, Version: v.Version, URI: uri}
	return validation.Model{Ref: ref, Pkg: pkg, Predict: predict}, v, spec, nil
}

func writeReports(dir string, rep *validation.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer, *validation.Report) error{
		"report.json": validation.WriteJSON, "report.md": validation.WriteMarkdown, "report.html": validation.WriteHTML,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f, rep)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func printVerdict(w io.Writer, rep *validation.Report, dir string) {
	mark := strings.ToUpper(rep.Verdict)
	fmt.Fprintf(w, "%s: %s version %d on %s (%d rows)\n", mark, rep.Model, rep.Version, rep.Data.URI, rep.Data.Rows)
	if rep.Baseline != nil {
		fmt.Fprintf(w, "  baseline: %s version %d (%s)\n", rep.Baseline.Model, rep.Baseline.Version, rep.Baseline.URI)
	}
	for _, g := range rep.Gates {
		state := "pass"
		switch {
		case g.Skipped:
			state = "skip"
		case !g.Passed:
			state = "FAIL"
		}
		fmt.Fprintf(w, "  [%s] %s\n", state, g.Message)
	}
	for _, c := range rep.Checks {
		if !c.Passed {
			fmt.Fprintf(w, "  [FAIL] %s\n", c.Message)
		}
	}
	if rep.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", rep.Error)
	}
	fmt.Fprintf(w, "  reports: %s/report.{json,md,html}; recorded as a validation check on the version\n", dir)
}
