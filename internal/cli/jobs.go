package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/internal/job"
)

// cancelTimeout bounds how long `jobs cancel` waits for a job to stop.
const cancelTimeout = 30 * time.Second

func (a *app) jobsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "jobs",
		Aliases: []string{"job"},
		Short:   "Run commands as tracked runs (command jobs): submit, list, status, logs, cancel",
		Long: `Run any command as a tracked run, described by a command-job spec in Azure ML's
vocabulary:

  type: command
  experiment_name: churn
  code: ./src                  # working directory; its git commit is recorded
  command: python train.py --lr ${{inputs.lr}} --data ${{inputs.data}} --out ${{outputs.model}}
  inputs:
    lr: 0.1                                      # logged as params
    data: {type: uri_file, path: ./data.csv}
  outputs:
    model: {type: uri_folder}                    # uploaded as artifacts outputs/model/
  environment_variables: {SEED: "7"}
  limits: {timeout: 600}                         # seconds, or "10m"
  retries: {max: 2, backoff: 1s}                 # retry failed attempts, doubling the wait
  tags: {team: growth}

The command runs with MLFLOW_TRACKING_URI and MLFLOW_RUN_ID set, so mlflow's
client (or any HTTP call) logs to the job's run. Its output is the run's
artifact logs/job.log; the run ends FINISHED, FAILED or KILLED.

Jobs run on this machine, supervised by 'ferry jobs submit', which waits for
them. Their state is kept under <data>/jobs/, so 'jobs list', 'status',
'logs' and 'cancel' work from another terminal.

Every field of the spec, its default and an example: docs/job-spec.md (and
ferry help formats).`,
	}
	cmd.AddCommand(a.jobsSubmit(), a.jobsList(), a.jobsStatus(), a.jobsLogs(), a.jobsCancel())
	return cmd
}

// localJobs returns the local executor over the data directory's jobs.
func (a *app) localJobs() (*job.Local, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return job.NewLocal(filepath.Join(cfg.DataDir, "jobs"), job.LocalOptions{Environ: job.InheritedEnv(a.env.Environ)})
}

// submitResult is the output of `jobs submit -o json`.
type submitResult struct {
	job.Status
	RunID        string `json:"run_id"`
	ExperimentID string `json:"experiment_id"`
	RunStatus    string `json:"run_status"`
}

func (a *app) jobsSubmit() *cobra.Command {
	var (
		file string
		sets []string
	)
	cmd := &cobra.Command{
		Use:   "submit -f JOB.yaml",
		Short: "Run a command job as a tracked run, streaming its output until it ends",
		Long: `Create the job's run, start its command and stream its output until it ends.
The exit status is 0 when the job succeeded and 1 otherwise. Interrupting
(Ctrl-C) cancels the job and marks its run KILLED.

With -o json or -o yaml, the job's output goes to stderr and its final status,
as JSON or YAML, to stdout.`,
		Example: `  ferry jobs submit -f job.yaml
  ferry jobs submit -f job.yaml --set inputs.lr=0.2 --set limits.timeout=30m
  ferry jobs submit -f job.yaml --server http://ferry.internal:5000 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usagef(cmd, "name the job spec with -f FILE")
			}
			spec, err := job.LoadSpec(file, sets)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ex, err := a.localJobs()
			if err != nil {
				return err
			}
			defer ex.Close()
			s, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			r, err := job.NewRunner(s.remote, ex, job.RunnerOptions{TrackingURI: s.client.URL(), WorkDir: ex.Dir()})
			if err != nil {
				return err
			}
			sub, err := r.Submit(ctx, spec)
			if err != nil {
				return err
			}
			out, logs := cmd.OutOrStdout(), cmd.OutOrStdout()
			if a.output != "table" {
				logs = cmd.ErrOrStderr()
			}
			fmt.Fprintf(logs, "Job %s: run %s in experiment %q\n", sub.JobID, sub.RunID, sub.Experiment)
			streamed := make(chan struct{})
			go func() {
				defer close(streamed)
				if rc, err := ex.Logs(ctx, sub.JobID, true); err == nil {
					_, _ = io.Copy(logs, rc)
					rc.Close()
				}
			}()
			st, werr := r.Wait(ctx, sub)
			<-streamed // the follower stops when the job ends
			if errors.Is(werr, context.Canceled) {
				return werr
			}
			res := submitResult{Status: st, RunID: sub.RunID, ExperimentID: sub.ExperimentID, RunStatus: job.RunStatus(st.State)}
			if err := a.render(out, res, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Job %s %s in %s (exit code %d, %s); run %s %s.\n", st.ID, st.State,
					span(st.StartedAt, st.EndedAt), st.ExitCode, plural(st.Attempts, "attempt"), sub.RunID, res.RunStatus)
			}); err != nil {
				return err
			}
			switch {
			case werr != nil:
				return fmt.Errorf("job %s ended %s, but recording it in run %s failed: %w", st.ID, st.State, sub.RunID, werr)
			case st.State == job.Cancelled:
				return fmt.Errorf("job %s was cancelled", st.ID)
			case st.State == job.TimedOut:
				return fmt.Errorf("job %s %s", st.ID, st.Message)
			case st.State != job.Succeeded:
				return fmt.Errorf("job %s failed: %s", st.ID, st.Message)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "f", "", "job spec (YAML)")
	fl.StringArrayVar(&sets, "set", nil, "override a field of the spec, e.g. inputs.lr=0.2 (repeatable)")
	return cmd
}

func (a *app) jobsList() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the jobs run from this data directory, oldest first",
		Example: "  ferry jobs list\n  ferry jobs list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ex, err := a.localJobs()
			if err != nil {
				return err
			}
			list, err := ex.List(cmd.Context())
			if err != nil {
				return err
			}
			return a.render(cmd.OutOrStdout(), list, func(tw *tabwriter.Writer) {
				row(tw, "JOB ID", "NAME", "STATE", "EXIT", "ATTEMPTS", "SUBMITTED", "DURATION", "RUN ID")
				for _, st := range list {
					row(tw, st.ID, dash(st.Name), string(st.State), exitCode(st), strconv.Itoa(st.Attempts),
						clock(st.SubmittedAt), span(st.StartedAt, st.EndedAt), dash(st.Labels["run_id"]))
				}
			})
		},
	}
}

func (a *app) jobsStatus() *cobra.Command {
	return &cobra.Command{
		Use:     "status JOB_ID",
		Short:   "Show a job's state, exit code, attempts and run",
		Example: "  ferry jobs status 3fa2c1d04b9e\n  ferry jobs status 3fa2c1d04b9e -o json",
		Args:    exactArgs(1, "JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, err := a.localJobs()
			if err != nil {
				return err
			}
			st, err := ex.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.render(cmd.OutOrStdout(), st, func(tw *tabwriter.Writer) {
				row(tw, "Job:", st.ID)
				row(tw, "Name:", dash(st.Name))
				row(tw, "State:", string(st.State))
				row(tw, "Exit code:", exitCode(st))
				row(tw, "Attempts:", strconv.Itoa(st.Attempts))
				row(tw, "Submitted:", clock(st.SubmittedAt))
				row(tw, "Started:", clock(st.StartedAt))
				row(tw, "Ended:", clock(st.EndedAt))
				row(tw, "Duration:", span(st.StartedAt, st.EndedAt))
				if st.Message != "" {
					row(tw, "Message:", st.Message)
				}
				row(tw, "Run:", dash(st.Labels["run_id"]))
				row(tw, "Experiment:", dash(st.Labels["experiment"]))
			})
		},
	}
}

func (a *app) jobsLogs() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:     "logs JOB_ID",
		Short:   "Print a job's output (stdout and stderr); -f follows it until the job ends",
		Example: "  ferry jobs logs 3fa2c1d04b9e\n  ferry jobs logs -f 3fa2c1d04b9e",
		Args:    exactArgs(1, "JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, err := a.localJobs()
			if err != nil {
				return err
			}
			rc, err := ex.Logs(cmd.Context(), args[0], follow)
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(cmd.OutOrStdout(), rc)
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output until the job ends")
	return cmd
}

func (a *app) jobsCancel() *cobra.Command {
	return &cobra.Command{
		Use:     "cancel JOB_ID",
		Short:   "Stop a running job and its child processes; its run is marked KILLED",
		Example: "  ferry jobs cancel 3fa2c1d04b9e",
		Args:    exactArgs(1, "JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, err := a.localJobs()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cancelTimeout)
			defer cancel()
			st, err := ex.Status(ctx, args[0])
			if err != nil {
				return err
			}
			if st.State.Terminal() {
				fmt.Fprintf(cmd.OutOrStdout(), "Job %s has already ended: %s.\n", st.ID, st.State)
				return nil
			}
			if err := ex.Cancel(ctx, st.ID); err != nil {
				return err
			}
			st, err = ex.Status(ctx, st.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Job %s: %s.\n", st.ID, st.State)
			return nil
		},
	}
}

// clock formats a time for a table; the zero time is "-".
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return millis(t.UnixMilli())
}

// span formats the time from start to end; "-" unless both are set.
func span(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return "-"
	}
	return duration(start.UnixMilli(), end.UnixMilli())
}

func exitCode(st job.Status) string {
	if st.ExitCode < 0 {
		return "-"
	}
	return strconv.Itoa(st.ExitCode)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
