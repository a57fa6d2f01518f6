package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/wirejson"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "runs",
		Aliases: []string{"run"},
		Short:   "List, inspect, compare and log runs",
	}
	cmd.AddCommand(a.runsList(), a.runsGet(), a.runsCompare(), a.runsLog(), a.runsDelete(), a.runsUpload(), a.runsDownload())
	return cmd
}

// runFilter holds the flags that select runs.
type runFilter struct {
	experiments []string
	filter      string
	orderBy     []string
	max         int
	pageToken   string
	all         bool
}

func (f *runFilter) flags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.experiments, "experiment", "e", nil, "experiment ID or name (repeatable; default: Default)")
	fl.StringVar(&f.filter, "filter", "", "MLflow filter, e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\"")
	fl.StringSliceVar(&f.orderBy, "order-by", nil, "order, e.g. \"metrics.acc DESC\" (repeatable)")
	fl.IntVar(&f.max, "max-results", 0, "page size (default 1000)")
	fl.StringVar(&f.pageToken, "page-token", "", "token of the page to show, from a previous listing")
	fl.BoolVar(&f.all, "all", false, "include deleted runs")
}

// search resolves the experiments and runs the query.
func (f *runFilter) search(ctx context.Context, c *client.Client) ([]client.Run, string, error) {
	q := client.RunQuery{Filter: f.filter, OrderBy: f.orderBy, MaxResults: f.max, PageToken: f.pageToken}
	if f.all {
		q.ViewType = "ALL"
	}
	refs := f.experiments
	if len(refs) == 0 {
		refs = []string{"0"}
	}
	for _, ref := range refs {
		e, err := findExperiment(ctx, c, ref)
		if err != nil {
			return nil, "", err
		}
		q.ExperimentIDs = append(q.ExperimentIDs, e.ID)
	}
	return c.SearchRuns(ctx, q)
}

func (a *app) runsList() *cobra.Command {
	var f runFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs of experiments, newest first",
		Example: `  ferry runs list -e churn
  ferry runs list -e churn --filter "metrics.auc > 0.8" --order-by "metrics.auc DESC" -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				runs, next, err := f.search(cmd.Context(), c)
				if err != nil {
					return err
				}
				if runs == nil {
					runs = []client.Run{}
				}
				err = a.render(cmd.OutOrStdout(), runs, func(tw *tabwriter.Writer) {
					row(tw, "RUN ID", "NAME", "STATUS", "STARTED", "DURATION", "METRICS")
					for _, r := range runs {
						row(tw, r.Info.RunID, r.Info.RunName, r.Info.Status, millis(r.Info.StartTime), duration(r.Info.StartTime, r.Info.EndTime), metricSummary(r, 3))
					}
				})
				if err == nil && next != "" && a.output == "table" {
					fmt.Fprintf(cmd.ErrOrStderr(), "More runs: add --page-token %s\n", next)
				}
				return err
			})
		},
	}
	f.flags(cmd)
	return cmd
}

// metricSummary lists up to n of a run's metrics as key=value.
func metricSummary(r client.Run, n int) string {
	ms := append([]client.Metric(nil), r.Data.Metrics...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Key < ms[j].Key })
	var parts []string
	for i, m := range ms {
		if i == n {
			parts = append(parts, fmt.Sprintf("(+%d)", len(ms)-n))
			break
		}
		parts = append(parts, m.Key+"="+number(m.Value))
	}
	return strings.Join(parts, " ")
}

func (a *app) runsGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get RUN_ID",
		Short: "Show a run: info, params, latest metrics, tags and inputs",
		Args:  exactArgs(1, "RUN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				r, err := c.GetRun(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), r, func(tw *tabwriter.Writer) {
					in := r.Info
					row(tw, "Run:", in.RunID)
					row(tw, "Name:", in.RunName)
					row(tw, "Experiment:", in.ExperimentID)
					row(tw, "Status:", in.Status+" ("+in.LifecycleStage+")")
					row(tw, "User:", in.UserID)
					row(tw, "Started:", millis(in.StartTime))
					row(tw, "Duration:", duration(in.StartTime, in.EndTime))
					row(tw, "Artifacts:", in.ArtifactURI)
					if commit, ok := r.Tag("mlflow.source.git.commit"); ok {
						dirty, _ := r.Tag("ferry.source.git.dirty")
						row(tw, "Commit:", commit+map[string]string{"true": " (dirty)"}[dirty])
					}
					section := func(title string, kv [][2]string) {
						if len(kv) == 0 {
							return
						}
						row(tw, title)
						for _, p := range kv {
							row(tw, "  "+p[0], p[1])
						}
					}
					var params, metrics, tags [][2]string
					for _, p := range r.Data.Params {
						params = append(params, [2]string{p.Key, p.Value})
					}
					for _, m := range r.Data.Metrics {
						metrics = append(metrics, [2]string{m.Key, number(m.Value) + " (step " + strconv.FormatInt(m.Step, 10) + ")"})
					}
					for _, t := range r.Data.Tags {
						tags = append(tags, [2]string{t.Key, t.Value})
					}
					section("Params:", params)
					section("Metrics:", metrics)
					section("Tags:", tags)
					for _, d := range r.Inputs.DatasetInputs {
						row(tw, "Input:", d.Dataset.Name+" @ "+d.Dataset.Digest)
					}
				})
			})
		},
	}
}

func (a *app) runsCompare() *cobra.Command {
	var f runFilter
	cmd := &cobra.Command{
		Use:   "compare [RUN_ID...]",
		Short: "Compare runs side by side: one column per run, one row per param and metric",
		Example: `  ferry runs compare 3f2a... 9b1c...
  ferry runs compare -e churn --order-by "metrics.auc DESC" --max-results 5`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				var runs []client.Run
				if len(args) > 0 {
					for _, id := range args {
						r, err := c.GetRun(cmd.Context(), id)
						if err != nil {
							return err
						}
						runs = append(runs, r)
					}
				} else {
					var err error
					if runs, _, err = f.search(cmd.Context(), c); err != nil {
						return err
					}
				}
				if len(runs) == 0 {
					return fmt.Errorf("no runs to compare; name run IDs or an experiment with -e")
				}
				cmp := compareRuns(runs)
				return a.render(cmd.OutOrStdout(), cmp, func(tw *tabwriter.Writer) { cmp.table(tw) })
			})
		},
	}
	f.flags(cmd)
	return cmd
}

// comparison is runs side by side, the shape of `runs compare -o json`.
type comparison struct {
	Runs    []comparedRun `json:"runs"`
	Params  []string      `json:"params"`
	Metrics []string      `json:"metrics"`
}

type comparedRun struct {
	RunID   string                    `json:"run_id"`
	RunName string                    `json:"run_name"`
	Status  string                    `json:"status"`
	Params  map[string]string         `json:"params"`
	Metrics map[string]wirejson.Float `json:"metrics"` // NaN and ±Inf as strings
}

func compareRuns(runs []client.Run) comparison {
	var cmp comparison
	params, metrics := map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		cr := comparedRun{RunID: r.Info.RunID, RunName: r.Info.RunName, Status: r.Info.Status, Params: map[string]string{}, Metrics: map[string]wirejson.Float{}}
		for _, p := range r.Data.Params {
			cr.Params[p.Key] = p.Value
			params[p.Key] = true
		}
		for _, m := range r.Data.Metrics {
			cr.Metrics[m.Key] = wirejson.Float(m.Value)
			metrics[m.Key] = true
		}
		cmp.Runs = append(cmp.Runs, cr)
	}
	cmp.Params = sortedKeys(params)
	cmp.Metrics = sortedKeys(metrics)
	return cmp
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (cmp comparison) table(tw *tabwriter.Writer) {
	head := []string{""}
	names := []string{"name"}
	for _, r := range cmp.Runs {
		head = append(head, short(r.RunID))
		names = append(names, r.RunName)
	}
	row(tw, head...)
	row(tw, names...)
	for _, p := range cmp.Params {
		cells := []string{"params." + p}
		for _, r := range cmp.Runs {
			v, ok := r.Params[p]
			if !ok {
				v = "-"
			}
			cells = append(cells, v)
		}
		row(tw, cells...)
	}
	for _, m := range cmp.Metrics {
		cells := []string{"metrics." + m}
		for _, r := range cmp.Runs {
			v, ok := r.Metrics[m]
			s := "-"
			if ok {
				s = number(float64(v))
			}
			cells = append(cells, s)
		}
		row(tw, cells...)
	}
}

func (a *app) runsLog() *cobra.Command {
	var (
		experiment, name, status string
		metrics, params, tags    map[string]string
		step                     int64
		end                      bool
	)
	cmd := &cobra.Command{
		Use:   "log [RUN_ID]",
		Short: "Log metrics, params and tags from a script; starts a run when no RUN_ID is given",
		Long: `Log to a run from a shell script. Without RUN_ID a new run is started in
--experiment (created when absent) and its ID is printed, so a script can do:

  RUN=$(ferry runs log --experiment churn --param lr=0.1 -o json | jq -r .info.run_id)
  ferry runs log "$RUN" --metric loss=0.4 --step 1
  ferry runs log "$RUN" --metric auc=0.91 --end`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := parseMetrics(metrics, step)
			if err != nil {
				return usagef(cmd, "%s", err)
			}
			ctx := cmd.Context()
			return a.withClient(ctx, func(c *client.Client) error {
				var runID string
				if len(args) == 1 {
					runID = args[0]
				} else {
					if experiment == "" {
						experiment = "Default"
					}
					run, err := c.StartRun(ctx, experiment, client.RunOptions{Name: name})
					if err != nil {
						return err
					}
					runID = run.ID()
				}
				if len(ms)+len(params)+len(tags) > 0 {
					if err := c.LogBatch(ctx, runID, ms, client.TagList(params), client.TagList(tags)); err != nil {
						return err
					}
				}
				if end || status != "" {
					if status == "" {
						status = client.StatusFinished
					}
					if _, err := c.UpdateRun(ctx, runID, client.RunUpdate{Status: strings.ToUpper(status), EndTime: time.Now().UnixMilli()}); err != nil {
						return err
					}
				}
				r, err := c.GetRun(ctx, runID)
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), r, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "%s\n", r.Info.RunID)
				})
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&experiment, "experiment", "e", "", "experiment name for a new run (default Default)")
	fl.StringVar(&name, "name", "", "name of a new run")
	fl.StringToStringVar(&metrics, "metric", nil, "metric KEY=VALUE (repeatable)")
	fl.Int64Var(&step, "step", 0, "step of the metrics")
	fl.StringToStringVar(&params, "param", nil, "param KEY=VALUE (repeatable; immutable once logged)")
	fl.StringToStringVar(&tags, "tag", nil, "tag KEY=VALUE (repeatable)")
	fl.BoolVar(&end, "end", false, "finish the run (status FINISHED)")
	fl.StringVar(&status, "status", "", "finish the run with this status: FINISHED, FAILED or KILLED")
	return cmd
}

func parseMetrics(kv map[string]string, step int64) ([]client.Metric, error) {
	now := time.Now().UnixMilli()
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []client.Metric
	for _, k := range keys {
		v, err := strconv.ParseFloat(kv[k], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s=%q is not a number", k, kv[k])
		}
		out = append(out, client.Metric{Key: k, Value: v, Timestamp: now, Step: step})
	}
	return out, nil
}

func (a *app) runsDelete() *cobra.Command {
	return &cobra.Command{
		Use:   "delete RUN_ID",
		Short: "Mark a run deleted (it can be restored through the API)",
		Args:  exactArgs(1, "RUN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				if err := c.DeleteRun(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted run %s.\n", args[0])
				return nil
			})
		},
	}
}
