package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/client"
)

// The ferry endpoints and ferry deployments commands: reading and operating
// what ferry apply declared.

func (a *app) endpointsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "endpoints",
		Aliases: []string{"endpoint"},
		Short:   "List, inspect, invoke endpoints and move their traffic",
		Long: `Endpoints are stable addresses (/endpoints/NAME/invocations, /endpoints/NAME/v2/…)
whose traffic is split between deployments. Declare them in YAML and converge
with ferry plan and ferry apply; these commands read them, send them requests
and move their traffic by hand — a change the next ferry plan shows as drift.`,
		Example: `  ferry endpoints list
  ferry endpoints traffic churn blue=90 green=10`,
	}
	cmd.AddCommand(a.endpointsList(), a.endpointsGet(), a.endpointsInvoke(), a.endpointsTraffic(), a.endpointsLogs(), a.rolloutCommand())
	return cmd
}

func (a *app) deploymentsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deployments",
		Aliases: []string{"deployment"},
		Short:   "List and inspect deployments, read their logs, restart them",
		Long: `A deployment is one model version served behind an endpoint, named
ENDPOINT/DEPLOYMENT. READY comes from the server that runs the deployments
(ferry server); a server that runs none shows "-".`,
		Example: `  ferry deployments list --endpoint churn
  ferry deployments get churn/blue -o yaml`,
	}
	cmd.AddCommand(a.deploymentsList(), a.deploymentsGet(), a.deploymentsLogs(), a.deploymentsRestart())
	return cmd
}

// deploymentView is a deployment with how it runs, when the server knows.
type deploymentView struct {
	client.Deployment
	Status *client.DeploymentStatus `json:"status,omitempty"`
}

// endpointView is an endpoint with its deployments.
type endpointView struct {
	client.Endpoint
	Deployments []deploymentView `json:"deployments"`
}

// deploymentViews returns the deployments of endpoint ("" for all) with
// their status; without status when the server runs no deployments.
func deploymentViews(ctx context.Context, c *client.Client, endpoint string) ([]deploymentView, error) {
	ds, err := c.ListDeployments(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return withStatus(ctx, c, endpoint, ds)
}

func withStatus(ctx context.Context, c *client.Client, endpoint string, ds []client.Deployment) ([]deploymentView, error) {
	sts, err := c.DeploymentStatuses(ctx, endpoint)
	var ce *client.Error
	if err != nil && !(errors.As(err, &ce) && ce.Code == ferry.EUNAVAILABLE) {
		return nil, err
	}
	byName := map[string]*client.DeploymentStatus{}
	for i := range sts {
		byName[sts[i].Endpoint+"/"+sts[i].Deployment] = &sts[i]
	}
	out := make([]deploymentView, len(ds))
	for i, d := range ds {
		out[i] = deploymentView{Deployment: d, Status: byName[d.EndpointName+"/"+d.Name]}
	}
	return out, nil
}

func deploymentRows(tw *tabwriter.Writer, traffic map[string]map[string]int, ds []deploymentView) {
	row(tw, "ENDPOINT", "DEPLOYMENT", "MODEL", "VERSION", "TARGET", "INSTANCES", "TRAFFIC", "READY")
	for _, d := range ds {
		ready := "-"
		if d.Status != nil {
			ready = strconv.FormatBool(d.Status.Ready)
		}
		share := "-"
		if p, ok := traffic[d.EndpointName][d.Name]; ok {
			share = strconv.Itoa(p) + "%"
		}
		row(tw, d.EndpointName, d.Name, d.Model, dash(d.ModelVersion), d.Target, strconv.Itoa(d.InstanceCount), share, ready)
	}
}

func (a *app) endpointsList() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the endpoints with their traffic split",
		Example: `  ferry endpoints list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				es, err := c.ListEndpoints(cmd.Context())
				if err != nil {
					return err
				}
				if es == nil {
					es = []client.Endpoint{}
				}
				return a.render(cmd.OutOrStdout(), es, func(tw *tabwriter.Writer) {
					if len(es) == 0 {
						fmt.Fprintln(tw, "No endpoints. Declare them in YAML and run: ferry apply -f DIR")
						return
					}
					row(tw, "NAME", "TRAFFIC", "MIRROR", "SERIAL", "DESCRIPTION")
					for _, e := range es {
						row(tw, e.Name, dash(percentages(e.Traffic)), dash(percentages(e.MirrorTraffic)), strconv.FormatInt(e.Serial, 10), dash(e.Description))
					}
				})
			})
		},
	}
}

func (a *app) endpointsGet() *cobra.Command {
	return &cobra.Command{
		Use:     "get NAME",
		Short:   "Show an endpoint, its traffic and its deployments",
		Example: `  ferry endpoints get churn`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				e, err := c.GetEndpoint(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				ds, err := deploymentViews(cmd.Context(), c, e.Name)
				if err != nil {
					return err
				}
				v := endpointView{Endpoint: e, Deployments: ds}
				return a.render(cmd.OutOrStdout(), v, func(tw *tabwriter.Writer) {
					row(tw, "Name:", e.Name)
					row(tw, "Description:", dash(e.Description))
					row(tw, "Auth mode:", e.AuthMode)
					row(tw, "Traffic:", dash(percentages(e.Traffic)))
					row(tw, "Mirror:", dash(percentages(e.MirrorTraffic)))
					row(tw, "Serial:", strconv.FormatInt(e.Serial, 10))
					for _, k := range sortedNames(e.Tags) {
						row(tw, "Tag:", k+"="+e.Tags[k])
					}
					fmt.Fprintln(tw)
					deploymentRows(tw, map[string]map[string]int{e.Name: e.Traffic}, ds)
				})
			})
		},
	}
}

func (a *app) endpointsInvoke() *cobra.Command {
	var file, deployment, protocol string
	cmd := &cobra.Command{
		Use:   "invoke NAME -f REQUEST.json",
		Short: "Send a scoring request to an endpoint and print the answer",
		Long: `Post the JSON request in the file (- for standard input) to the endpoint's
scoring route on the server — /endpoints/NAME/invocations (MLflow's format, the
default) or, with --protocol v2, /endpoints/NAME/v2/models/NAME/infer — and print
the answer and which deployment gave it. With --deployment the request goes to
that deployment whatever the traffic split says (the x-ferry-deployment header),
for smoke tests of a deployment that takes no traffic yet.`,
		Example: `  ferry endpoints invoke churn -f request.json
  ferry endpoints invoke churn -f request.json --deployment green
  ferry endpoints invoke churn -f infer.json --protocol v2 -o json`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usagef(cmd, "name the request with -f FILE (- for standard input)")
			}
			if protocol != "mlflow" && protocol != "v2" {
				return usagef(cmd, "--protocol %q: want mlflow or v2", protocol)
			}
			body, err := readInput(cmd, file)
			if err != nil {
				return err
			}
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				inv, err := c.Invoke(cmd.Context(), args[0], deployment, protocol, body)
				if err != nil {
					return err
				}
				return a.printInvocation(cmd, inv)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "JSON request file, - for standard input")
	f.StringVar(&deployment, "deployment", "", "send the request to this deployment only")
	f.StringVar(&protocol, "protocol", "mlflow", "request format: mlflow (/invocations) or v2 (Open Inference Protocol)")
	return cmd
}

// printInvocation prints an endpoint's answer: as the JSON {"deployment",
// "answer"} for -o json or yaml, else the answer and then, on standard
// error, the deployment that gave it.
func (a *app) printInvocation(cmd *cobra.Command, inv client.Invocation) error {
	if a.output == "json" || a.output == "yaml" {
		v := struct {
			Deployment string          `json:"deployment"`
			Answer     json.RawMessage `json:"answer"`
		}{inv.Deployment, json.RawMessage(inv.Body)}
		return a.render(cmd.OutOrStdout(), v, nil)
	}
	out := strings.TrimRight(string(inv.Body), "\n")
	fmt.Fprintln(cmd.OutOrStdout(), out)
	fmt.Fprintf(cmd.ErrOrStderr(), "Answered by deployment %s.\n", dash(inv.Deployment))
	return nil
}

func (a *app) endpointsTraffic() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "traffic NAME DEPLOYMENT=PERCENT...",
		Short: "Set an endpoint's traffic split by hand",
		Long: `Set the endpoint's traffic split to the given percentages (summing to 100, or
all 0), each naming one of its deployments. The change is audited with you as
its principal and "ferry endpoints traffic" (or --reason) as what made it; the
next ferry plan shows it as drift until the files say the same or apply undoes
it.`,
		Example: `  ferry endpoints traffic churn blue=90 green=10
  ferry endpoints traffic churn blue=100 --reason "green misbehaves"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef(cmd, "traffic takes NAME and at least one DEPLOYMENT=PERCENT (got %d argument(s))", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			traffic := map[string]int{}
			for _, kv := range args[1:] {
				name, p, ok := strings.Cut(kv, "=")
				n, err := strconv.Atoi(strings.TrimSuffix(p, "%"))
				if !ok || name == "" || err != nil {
					return usagef(cmd, "%q: want DEPLOYMENT=PERCENT, such as blue=90", kv)
				}
				traffic[name] = n
			}
			ctx := cmd.Context()
			return a.withClient(ctx, func(c *client.Client) error {
				e, err := c.SetTraffic(ctx, args[0], traffic, reason)
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), e, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "Endpoint %s: traffic %s (serial %d).\n", e.Name, dash(percentages(e.Traffic)), e.Serial)
				})
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "ferry endpoints traffic", "what the audit trail and the plan's drift record as having made the change")
	return cmd
}

func (a *app) endpointsLogs() *cobra.Command {
	return &cobra.Command{
		Use:   "logs NAME",
		Short: "Show an endpoint's event trail: every change, who made it, how",
		Long: `Show the audit trail of the endpoint and its deployments, oldest first: each
create, update, delete and traffic move with its time, principal and what made
it (ferry apply, ferry endpoints traffic, a rollout step, or the API). For a
deployment's own log lines, see ferry deployments logs.`,
		Example: `  ferry endpoints logs churn`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				evs, err := c.EndpointEvents(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), evs, func(tw *tabwriter.Writer) {
					row(tw, "TIME", "PRINCIPAL", "ACTION", "DEPLOYMENT", "VIA", "DETAIL")
					for _, ev := range evs {
						row(tw, millis(ev.Time), ev.Principal, ev.Action, dash(ev.Deployment), dash(ev.Via), dash(ev.Detail))
					}
				})
			})
		},
	}
}

func (a *app) deploymentsList() *cobra.Command {
	var endpoint string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List deployments with their pinned model version, traffic and readiness",
		Example: `  ferry deployments list
  ferry deployments list --endpoint churn -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				ds, err := deploymentViews(cmd.Context(), c, endpoint)
				if err != nil {
					return err
				}
				traffic, err := trafficOf(cmd.Context(), c, ds)
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), ds, func(tw *tabwriter.Writer) {
					if len(ds) == 0 {
						fmt.Fprintln(tw, "No deployments. Declare them in YAML and run: ferry apply -f DIR")
						return
					}
					deploymentRows(tw, traffic, ds)
				})
			})
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "only this endpoint's deployments")
	return cmd
}

// trafficOf returns the traffic split of each endpoint of ds.
func trafficOf(ctx context.Context, c *client.Client, ds []deploymentView) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	for _, d := range ds {
		if _, ok := out[d.EndpointName]; ok {
			continue
		}
		e, err := c.GetEndpoint(ctx, d.EndpointName)
		if err != nil {
			return nil, err
		}
		out[e.Name] = e.Traffic
	}
	return out, nil
}

// withDeployment splits the ENDPOINT/DEPLOYMENT argument and calls fn
// with a client of the session and the two names.
func (a *app) withDeployment(cmd *cobra.Command, arg string, fn func(c *client.Client, endpoint, name string) error) error {
	endpoint, name, err := deploymentArg(cmd, arg)
	if err != nil {
		return err
	}
	return a.withClient(cmd.Context(), func(c *client.Client) error { return fn(c, endpoint, name) })
}

// deploymentArg splits ENDPOINT/DEPLOYMENT.
func deploymentArg(cmd *cobra.Command, s string) (string, string, error) {
	e, d, ok := strings.Cut(s, "/")
	if !ok || e == "" || d == "" || strings.Contains(d, "/") {
		return "", "", usagef(cmd, "name the deployment as ENDPOINT/DEPLOYMENT, such as churn/blue, not %q", s)
	}
	return e, d, nil
}

func (a *app) deploymentsGet() *cobra.Command {
	return &cobra.Command{
		Use:     "get ENDPOINT/DEPLOYMENT",
		Short:   "Show a deployment: its model, pinned version, settings and readiness",
		Example: `  ferry deployments get churn/green`,
		Args:    exactArgs(1, "ENDPOINT/DEPLOYMENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withDeployment(cmd, args[0], func(c *client.Client, endpoint, name string) error {
				d, err := c.GetDeployment(cmd.Context(), endpoint, name)
				if err != nil {
					return err
				}
				vs, err := withStatus(cmd.Context(), c, endpoint, []client.Deployment{d})
				if err != nil {
					return err
				}
				v := vs[0]
				return a.render(cmd.OutOrStdout(), v, func(tw *tabwriter.Writer) {
					row(tw, "Deployment:", d.EndpointName+"/"+d.Name)
					row(tw, "Model:", d.Model)
					row(tw, "Pinned version:", dash(d.ModelVersion))
					row(tw, "Target:", d.Target)
					row(tw, "Instances:", strconv.Itoa(d.InstanceCount))
					row(tw, "Request timeout:", fmt.Sprintf("%d ms", d.RequestSettings.RequestTimeoutMS))
					ready := "- (this server runs no deployments)"
					if v.Status != nil {
						ready = fmt.Sprintf("%t (traffic %d%%, mirror %d%%)", v.Status.Ready, v.Status.Traffic, v.Status.Mirror)
					}
					row(tw, "Ready:", ready)
					if r := d.Rollout; r != nil {
						row(tw, "Rollout:", fmt.Sprintf("%s %v every %s", r.Strategy, r.Steps, dash(r.StepDuration)))
					}
					for _, k := range sortedNames(d.EnvironmentVariables) {
						row(tw, "Env:", k+"="+d.EnvironmentVariables[k])
					}
				})
			})
		},
	}
}

func (a *app) deploymentsLogs() *cobra.Command {
	var lines int
	cmd := &cobra.Command{
		Use:   "logs ENDPOINT/DEPLOYMENT",
		Short: "Print the last log lines of a running deployment",
		Long: `Print the log lines the server keeps for a deployment it runs (for the
process target, its ferry serve children's output). For the endpoint's change
history, see ferry endpoints logs.`,
		Example: `  ferry deployments logs churn/blue --lines 20`,
		Args:    exactArgs(1, "ENDPOINT/DEPLOYMENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withDeployment(cmd, args[0], func(c *client.Client, endpoint, name string) error {
				ls, err := c.DeploymentLogs(cmd.Context(), endpoint, name, lines)
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), ls, func(tw *tabwriter.Writer) {
					for _, l := range ls {
						fmt.Fprintln(tw, l)
					}
				})
			})
		},
	}
	cmd.Flags().IntVarP(&lines, "lines", "n", 100, "how many of the last lines (0: all the server keeps)")
	return cmd
}

func (a *app) deploymentsRestart() *cobra.Command {
	return &cobra.Command{
		Use:     "restart ENDPOINT/DEPLOYMENT",
		Short:   "Restart a deployment's instances",
		Example: `  ferry deployments restart churn/blue`,
		Args:    exactArgs(1, "ENDPOINT/DEPLOYMENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withDeployment(cmd, args[0], func(c *client.Client, endpoint, name string) error {
				if err := c.RestartDeployment(cmd.Context(), endpoint, name); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Restarted %s/%s.\n", endpoint, name)
				return nil
			})
		},
	}
}

// percentages renders a split as "blue=90% green=10%", by name.
func percentages(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedNames(m) {
		parts = append(parts, fmt.Sprintf("%s=%d%%", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readInput reads a file, or standard input for "-".
func readInput(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(path)
}
