package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/internal/validation"
)

// Exit codes of ferry validate.
const (
	validateFailed = 1 // a gate or check failed
	validateError  = 2 // the validation could not be done
)

// codeError carries a specific exit code out of a command; Run exits with
// it, printing err when there is one.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e codeError) Unwrap() error { return e.err }

func (a *app) validateCommand() *cobra.Command {
	var (
		dataRef, policyPath, baseline, target, positive, outDir, as, task string
		slices                                                            []string
	)
	cmd := &cobra.Command{
		Use:   "validate MODEL_URI --dataset DATA",
		Short: "Evaluate a model version, judge it against gates and the champion, record the verdict",
		Long: `Evaluate a registered model version on data, judge it with the gates of a
policy file (absolute thresholds, comparisons with a baseline such as
@champion evaluated on the same rows, per-slice thresholds, data checks
against the training profile, package checks, latency and size budgets),
store the result as a "validation" check on the version — the record the
registry's promotion rules read: a rule names its gates file, and accepts
only validations made with that file (same name and digest) — and write report.json, report.md (a table
fit for a pull-request comment) and report.html (self-contained, with charts).

Exit status: 0 when every gate and check passed, 1 when one failed, 2 when the
validation could not be done (e.g. the baseline cannot be loaded).

The model is resolved and fetched through --server when given (the
evaluation data too, when it is a data:/ reference), else from the local
data directory; the validation itself runs here.

Every field of the gates file (--policy), its default and an example:
docs/gates.md (and ferry help formats).`,
		Example: `  ferry validate models:/churn/4 --dataset data:/customers/1 --policy gates.yaml --baseline @champion
  ferry validate models:/churn/2 --dataset customers.csv --target churned --slice plan`,
		Args: exactArgs(1, "MODEL_URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataRef == "" {
				return usagef(cmd, "name the evaluation data with --dataset (data:/name/version or a file)")
			}
			ctx := a.principalContext(cmd.Context(), as)
			err := a.withSession(ctx, func(s *session) error {
				req := validation.Request{URI: args[0], Data: dataRef, Baseline: baseline, Target: target, PositiveWhen: positive, Task: task, Slices: slices}
				return a.validate(ctx, cmd.OutOrStdout(), s, req, policyPath, outDir)
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
	f.StringVar(&policyPath, "policy", "", "gates file (YAML); without it only the schema and predictions are checked, and no promotion rule accepts the record")
	f.StringVar(&baseline, "baseline", "", "version to compare with: @alias, a version number, or a models:/ URI (e.g. @champion)")
	f.StringVar(&target, "target", "", "label column (default: the model's training target)")
	f.StringVar(&task, "task", "", "binary, multiclass or regression, for packages that do not say (e.g. written by MLflow)")
	f.StringVar(&positive, "positive-when", "", `binary label from a numeric target, e.g. "> 15" (default: as in training)`)
	f.StringArrayVar(&slices, "slice", nil, "report metrics per value of this column (repeatable)")
	f.StringVar(&outDir, "out", ".", "directory for report.json, report.md and report.html")
	f.StringVar(&as, "as", "", "principal recorded with the result (default: $FERRY_PRINCIPAL, else the local user)")
	return cmd
}

// validate runs one validation through the session and writes its reports
// to dir; a failed gate is a codeError with exit status 1.
func (a *app) validate(ctx context.Context, out io.Writer, s *session, req validation.Request, policyPath, dir string) error {
	if policyPath != "" {
		var err error
		if req.Policy, err = validation.LoadPolicy(policyPath); err != nil {
			return err
		}
	}
	svc := validation.Service{Models: a.loader(s, discardLogger()), Data: s.remote, Checks: s.remote}
	rep, verr := svc.ValidateVersion(ctx, req)
	if rep != nil {
		if err := writeReports(dir, rep); err != nil {
			return err
		}
		printVerdict(out, rep, dir)
	}
	if verr != nil {
		return codeError{code: validateError, err: verr}
	}
	if rep.Verdict != validation.VerdictPass {
		return codeError{code: validateFailed, err: fmt.Errorf("%s version %d failed validation; see %s", rep.Model, rep.Version, filepath.Join(dir, "report.md"))}
	}
	return nil
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
	if rep.PolicyDigest == "" {
		fmt.Fprintln(w, "  note: validated without --policy: no promotion rule accepts this record; a rule names the gates file its validation must use")
	} else {
		fmt.Fprintf(w, "  gates: %s (%s); promotion rules naming this gates file accept this record\n", rep.Policy, rep.PolicyDigest)
	}
}
