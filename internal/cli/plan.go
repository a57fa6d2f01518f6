package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/resource"
)

// Exit codes of ferry plan --detailed-exitcode, as Terraform's.
const (
	planError   = 1
	planChanges = 2
)

func (a *app) planCommand() *cobra.Command {
	var (
		path, out       string
		prune, detailed bool
	)
	cmd := &cobra.Command{
		Use:   "plan -f PATH",
		Short: "Show what ferry apply would change to make the server match the resource files",
		Long: `Read every resource file under PATH (a file, or a directory read recursively
for *.yaml and *.yml: YAML documents with kind: Endpoint or kind: Deployment and
Azure ML CLI v2's field names), compare them with the server's endpoints and
deployments, and print the ordered changes as Terraform does:

  + create endpoint churn
  ~ update deployment churn/green: instance_count 1 → 2
  Plan: 1 to add, 1 to change, 0 to destroy.

A change that undoes one made outside apply (ferry endpoints traffic, a
rollout, the API) says so: "(drift: set by alice 3m ago via ferry endpoints
traffic)". Endpoints and deployments that no file names are kept unless
--prune is given. With --detailed-exitcode the exit status is 0 for no
changes, 2 for changes and 1 for an error.

The plan records the serial of every endpoint it read. Save it with --out
FILE (or -o json > FILE) and ferry apply FILE carries out exactly that plan —
or refuses it if one of those endpoints changed in between.`,
		Example: `  ferry plan -f deploy/
  ferry plan -f deploy/ --prune --detailed-exitcode   # exits 2
  ferry plan -f deploy/churn.yaml -o json
  ferry plan -f deploy/ --out plan.json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usagef(cmd, "name the resource files with -f FILE or DIRECTORY")
			}
			var p client.DeployPlan
			err := a.deployRun(cmd.Context(), path, func(s *session, desired client.DeployState) (err error) {
				p, err = s.client.PlanDeploy(cmd.Context(), desired, prune)
				return err
			})
			if err == nil && out != "" {
				err = writePlan(out, p)
			}
			if err == nil {
				err = a.printPlan(cmd.OutOrStdout(), p)
			}
			if !detailed {
				return err
			}
			switch {
			case err != nil:
				var ue usageError
				if errors.As(err, &ue) {
					return err
				}
				return codeError{code: planError, err: err}
			case !p.Empty():
				return codeError{code: planChanges}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&path, "file", "f", "", "resource file or directory")
	f.BoolVar(&prune, "prune", false, "delete endpoints and deployments that no file names")
	f.BoolVar(&detailed, "detailed-exitcode", false, "exit 0 for no changes, 2 for changes, 1 for an error")
	f.StringVar(&out, "out", "", "also write the plan as JSON to this file, for ferry apply FILE")
	return cmd
}

// writePlan writes p to file as ferry plan -o json prints it.
func writePlan(file string, p client.DeployPlan) error {
	raw, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(raw, '\n'), 0o644)
}

func (a *app) applyCommand() *cobra.Command {
	var (
		path  string
		prune bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f PATH | apply PLAN.json",
		Short: "Make the server's endpoints and deployments match the resource files",
		Long: `Compute the plan (see ferry plan) and carry it out, in an order in which
every step is valid: new endpoints, new and changed deployments (their model
aliases resolved and pinned now), traffic changes, then — with --prune only —
deletions. Every change is audited with the acting principal. Applying the
same files twice changes nothing the second time.

Given a plan file (ferry plan -o json > plan.json) instead of -f, apply carries
out exactly that plan, and refuses it when an endpoint it read has changed
since (its serial moved): run ferry plan again. Two applies to one endpoint
never interleave: the second waits for the first, or fails the same way.`,
		Example: `  ferry apply plan.json   # the plan ferry plan -f deploy/ --out plan.json saved
  ferry apply -f deploy/
  ferry apply -f deploy/ --prune`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usagef(cmd, "apply takes at most one argument, a plan file (got %d)", len(args))
			case len(args) == 1 && (path != "" || prune):
				return usagef(cmd, "give either a plan file or -f PATH (with --prune), not both")
			case len(args) == 0 && path == "":
				return usagef(cmd, "name the resource files with -f FILE or DIRECTORY, or give a plan file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return a.applyPlanFile(cmd, args[0])
			}
			return a.deployRun(cmd.Context(), path, func(s *session, desired client.DeployState) error {
				p, err := s.client.ApplyDeploy(cmd.Context(), desired, prune)
				if err != nil {
					return err
				}
				return a.printPlan(cmd.OutOrStdout(), p)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&path, "file", "f", "", "resource file or directory")
	f.BoolVar(&prune, "prune", false, "delete endpoints and deployments that no file names")
	return cmd
}

// applyPlanFile applies the plan that ferry plan -o json wrote to file.
func (a *app) applyPlanFile(cmd *cobra.Command, file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var p client.DeployPlan
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("%s: not a plan written by ferry plan -o json: %w", file, err)
	}
	ctx := a.principalContext(cmd.Context(), "")
	return a.withSession(ctx, func(s *session) error {
		done, err := s.client.ApplyPlan(ctx, p)
		if err != nil {
			return err
		}
		return a.printPlan(cmd.OutOrStdout(), done)
	})
}

// deployRun loads the resource files at path and calls fn with a session
// and the desired state they declare.
func (a *app) deployRun(ctx context.Context, path string, fn func(*session, client.DeployState) error) error {
	set, err := resource.Load(path)
	if err != nil {
		return err
	}
	ctx = a.principalContext(ctx, "")
	return a.withSession(ctx, func(s *session) error { return fn(s, set.Deploy) })
}

func (a *app) printPlan(w io.Writer, p client.DeployPlan) error {
	return a.render(w, p, func(tw *tabwriter.Writer) { fmt.Fprint(tw, p.String()) })
}
