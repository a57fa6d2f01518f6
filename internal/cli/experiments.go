package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
)

func (a *app) experimentsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "experiments",
		Aliases: []string{"experiment", "exp"},
		Short:   "List, create and inspect experiments",
	}
	cmd.AddCommand(a.experimentsList(), a.experimentsCreate(), a.experimentsGet())
	return cmd
}

func (a *app) experimentsList() *cobra.Command {
	var q client.ExperimentQuery
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List experiments",
		Example: `  ferry experiments list
  ferry experiments list --filter "name LIKE 'churn%'" -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all {
				q.ViewType = "ALL"
			}
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				exps, next, err := c.SearchExperiments(cmd.Context(), q)
				if err != nil {
					return err
				}
				if exps == nil {
					exps = []client.Experiment{}
				}
				err = a.render(cmd.OutOrStdout(), exps, func(tw *tabwriter.Writer) {
					row(tw, "ID", "NAME", "STAGE", "CREATED", "ARTIFACTS")
					for _, e := range exps {
						row(tw, e.ID, e.Name, e.LifecycleStage, millis(e.CreationTime), e.ArtifactLocation)
					}
				})
				if err == nil && next != "" && a.output == "table" {
					fmt.Fprintf(cmd.ErrOrStderr(), "More experiments: add --page-token %s\n", next)
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Filter, "filter", "", "MLflow filter, e.g. \"name LIKE 'churn%' and tags.team = 'growth'\"")
	f.StringSliceVar(&q.OrderBy, "order-by", nil, "order, e.g. \"name ASC\" (repeatable)")
	f.IntVar(&q.MaxResults, "max-results", 0, "page size (default 1000)")
	f.StringVar(&q.PageToken, "page-token", "", "token of the page to show, from a previous listing")
	f.BoolVar(&all, "all", false, "include deleted experiments")
	return cmd
}

func (a *app) experimentsCreate() *cobra.Command {
	var tags map[string]string
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create an experiment",
		Example: `  ferry experiments create fraud --tag team=risk`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				e, err := c.CreateExperiment(cmd.Context(), args[0], tags)
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), e, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "Created experiment %q with ID %s.\nLog runs to it with: ferry runs log --experiment %q --metric NAME=VALUE\n", e.Name, e.ID, e.Name)
				})
			})
		},
	}
	cmd.Flags().StringToStringVar(&tags, "tag", nil, "tag KEY=VALUE (repeatable)")
	return cmd
}

func (a *app) experimentsGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID|NAME",
		Short: "Show an experiment",
		Args:  exactArgs(1, "ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				e, err := findExperiment(cmd.Context(), c, args[0])
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), e, func(tw *tabwriter.Writer) {
					row(tw, "ID:", e.ID)
					row(tw, "Name:", e.Name)
					row(tw, "Stage:", e.LifecycleStage)
					row(tw, "Created:", millis(e.CreationTime))
					row(tw, "Updated:", millis(e.LastUpdateTime))
					row(tw, "Artifacts:", e.ArtifactLocation)
					for _, t := range e.Tags {
						row(tw, "Tag:", t.Key+"="+t.Value)
					}
				})
			})
		},
	}
}

// findExperiment resolves an experiment by ID, falling back to its name.
func findExperiment(ctx context.Context, c *client.Client, ref string) (client.Experiment, error) {
	e, err := c.GetExperiment(ctx, ref)
	if client.IsNotFound(err) {
		e, err = c.GetExperimentByName(ctx, ref)
		if client.IsNotFound(err) {
			return e, fmt.Errorf("no experiment with ID or name %q; list them with: ferry experiments list", ref)
		}
	}
	return e, err
}

// withClient runs fn with a client for the command's session.
func (a *app) withClient(ctx context.Context, fn func(*client.Client) error) error {
	return a.withSession(ctx, func(s *session) error { return fn(s.client) })
}

// exactArgs requires n positional arguments, named in the error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef(cmd, "%s takes %d argument(s): %s (got %d)", cmd.Name(), n, names, len(args))
		}
		return nil
	}
}
