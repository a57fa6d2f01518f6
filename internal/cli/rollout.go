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
)

// rolloutCommand is `ferry endpoints rollout`: the state of an endpoint's
// rollout and the moves a person makes on it.
func (a *app) rolloutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Show, pause, resume, promote or roll back an endpoint's rollout",
		Long: `A rollout moves an endpoint's traffic to a deployment whose spec has rollout:
step by step (canary) or at once (blue_green), analysing the deployment against
the one that served before at every step — error rate, p99 latency — and
rolling back by itself when a check fails. ferry apply starts one when the
traffic it sets moves to such a deployment; the server's controller carries it
out. When the promotion policy's endpoints section requires an approval, the
step that moves all traffic waits for "promote" by a principal other than the
one who started the rollout.`,
		Example: `  ferry endpoints rollout status churn
  ferry endpoints rollout pause churn
  ferry endpoints rollout resume churn
  ferry endpoints rollout rollback churn -o json`,
	}
	type action struct {
		use, short string
		call       func(*client.Client, context.Context, string) (client.Rollout, error)
	}
	for _, act := range []action{
		{"status", "Show the endpoint's rollout in progress, or its latest one", (*client.Client).GetRollout},
		{"pause", "Pause the rollout where it is; its traffic stays", (*client.Client).PauseRollout},
		{"resume", "Resume a paused rollout; the current step's analysis restarts", (*client.Client).ResumeRollout},
		{"promote", "Move all traffic to the rollout's goal now, skipping the analysis (approves a step awaiting approval)", (*client.Client).PromoteRollout},
		{"rollback", "End the rollout and move the traffic back to where it started; the deployment is kept", (*client.Client).RollbackRollout},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:     act.use + " ENDPOINT",
			Short:   act.short,
			Example: fmt.Sprintf("  ferry endpoints rollout %s churn -o yaml", act.use),
			Args:    exactArgs(1, "ENDPOINT"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.withSession(cmd.Context(), func(s *session) error {
					r, err := act.call(s.client, cmd.Context(), args[0])
					if err != nil {
						return err
					}
					return a.render(cmd.OutOrStdout(), r, func(tw *tabwriter.Writer) { rolloutTable(tw, r) })
				})
			},
		})
	}
	return cmd
}

// rolloutTable writes a rollout as name/value rows.
func rolloutTable(tw *tabwriter.Writer, r client.Rollout) {
	steps := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		steps[i] = strconv.Itoa(s) + "%"
		if i == r.Step {
			steps[i] = "[" + steps[i] + "]"
		}
	}
	row(tw, "ENDPOINT", r.Endpoint)
	row(tw, "DEPLOYMENT", r.Deployment)
	row(tw, "STATE", r.State)
	row(tw, "STRATEGY", r.Strategy)
	row(tw, "STEP", fmt.Sprintf("%d/%d  %s  every %s", r.Step+1, len(r.Steps), strings.Join(steps, " → "), r.StepDuration()))
	row(tw, "FROM", trafficCell(r.Stable))
	row(tw, "TO", trafficCell(r.Goal))
	row(tw, "STEP STARTED", millis(r.StepStartedAt))
	if v := r.Verdict; v != nil {
		verdict := "passed"
		switch {
		case v.Pending:
			verdict = "pending"
		case !v.Passed:
			verdict = "failed " + v.Check
		}
		row(tw, "VERDICT", verdict+": "+v.Detail)
	}
	if r.Message != "" {
		row(tw, "MESSAGE", r.Message)
	}
	started := r.StartedBy
	if r.Created != 0 {
		started += " at " + time.UnixMilli(r.Created).UTC().Format(time.RFC3339)
	}
	row(tw, "STARTED BY", started)
	if r.ApprovedBy != "" {
		row(tw, "APPROVED BY", r.ApprovedBy)
	}
}

func trafficCell(t map[string]int) string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d%%", n, t[n])
	}
	return strings.Join(parts, " ")
}
