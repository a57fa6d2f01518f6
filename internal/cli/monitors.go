package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
)

// The ferry monitor commands about monitor resources (kind: Monitor, which
// ferry apply stores): list, get and status.

func (a *app) monitorList() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the monitors with their endpoint, signals and schedule",
		Example: `  ferry monitor list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				ms, err := c.ListMonitors(cmd.Context())
				if err != nil {
					return err
				}
				if ms == nil {
					ms = []client.StoredMonitor{}
				}
				return a.render(cmd.OutOrStdout(), ms, func(tw *tabwriter.Writer) {
					if len(ms) == 0 {
						fmt.Fprintln(tw, "No monitors. Declare them in YAML (kind: Monitor) and run: ferry apply -f DIR")
						return
					}
					row(tw, "NAME", "ENDPOINT", "DEPLOYMENT", "SIGNALS", "SCHEDULE", "SERIAL")
					for _, m := range ms {
						row(tw, m.Name, m.Endpoint, dash(m.Deployment), strings.Join(m.Signals.SignalNames(), ","), schedule(m.Schedule.Cron, m.Schedule.TimeZone), strconv.FormatInt(m.Serial, 10))
					}
				})
			})
		},
	}
}

func schedule(cron, zone string) string { return cron + " (" + zone + ")" }

func (a *app) monitorGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show a monitor as stored, its defaults filled in",
		Example: `  ferry monitor get churn-drift
  ferry monitor get churn-drift -o yaml`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				m, err := c.GetMonitor(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), m, func(tw *tabwriter.Writer) {
					row(tw, "Name:", m.Name)
					row(tw, "Description:", dash(m.Description))
					row(tw, "Endpoint:", m.Endpoint)
					row(tw, "Deployment:", dash(m.Deployment))
					row(tw, "Baseline:", m.Baseline)
					row(tw, "Window:", m.Window)
					row(tw, "Schedule:", schedule(m.Schedule.Cron, m.Schedule.TimeZone))
					row(tw, "Signals:", strings.Join(m.Signals.SignalNames(), ", "))
					row(tw, "Webhooks:", strconv.Itoa(len(m.Alerts.Webhooks)))
					row(tw, "Serial:", strconv.FormatInt(m.Serial, 10))
					row(tw, "Updated:", m.UpdatedAt.Format(time.RFC3339))
				})
			})
		},
	}
}

func (a *app) monitorStatus() *cobra.Command {
	return &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show every signal of the monitors at a glance: state, schedule and next run",
		Long: `Show each signal of a monitor (of every monitor without NAME): whether it is
firing — and for which features, with the score against the threshold — ok,
resolved, or not evaluated yet, and when the monitor runs next.`,
		Example: `  ferry monitor status
  ferry monitor status churn-drift -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef(cmd, "status takes at most one argument, a monitor's NAME (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withClient(ctx, func(c *client.Client) error {
				names := args
				if len(names) == 0 {
					ms, err := c.ListMonitors(ctx)
					if err != nil {
						return err
					}
					for _, m := range ms {
						names = append(names, m.Name)
					}
				}
				sts := []client.MonitorStatus{}
				for _, n := range names {
					st, err := c.MonitorStatus(ctx, n)
					if err != nil {
						return err
					}
					sts = append(sts, st)
				}
				return a.render(cmd.OutOrStdout(), sts, func(tw *tabwriter.Writer) {
					if len(sts) == 0 {
						fmt.Fprintln(tw, "No monitors. Declare them in YAML (kind: Monitor) and run: ferry apply -f DIR")
						return
					}
					row(tw, "MONITOR", "ENDPOINT", "SIGNAL", "STATE", "SCHEDULE", "NEXT RUN")
					for _, st := range sts {
						for _, sig := range st.Signals {
							row(tw, st.Name, st.Endpoint, sig, signalState(st.Alerts, sig), schedule(st.Schedule.Cron, st.Schedule.TimeZone), st.NextRun.Format(time.RFC3339))
						}
					}
				})
			})
		},
	}
}

// signalState summarises the alerts of one signal: "firing: f1 0.31 ≥
// 0.1, f2 …", "ok", "resolved", or "not evaluated".
func signalState(alerts []alert.Alert, signal string) string {
	var firing []string
	state := ""
	for _, al := range alerts {
		if al.Signal != signal {
			continue
		}
		switch {
		case al.State == alert.StateFiring:
			what := al.Feature
			if what == "" {
				what = al.Metric
			}
			firing = append(firing, fmt.Sprintf("%s %.3g vs %.3g", what, al.Score, al.Threshold))
		case state == "" || al.State == alert.StateResolved:
			state = string(al.State)
		}
	}
	switch {
	case len(firing) > 0:
		return "firing: " + strings.Join(firing, ", ")
	case state == "":
		return "not evaluated"
	}
	return state
}
