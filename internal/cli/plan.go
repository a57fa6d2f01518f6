package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		path            string
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

Endpoints and deployments that no file names are kept unless --prune is given.
With --detailed-exitcode the exit status is 0 for no changes, 2 for changes
and 1 for an error.`,
		Example: `  ferry plan -f deploy/
  ferry plan -f deploy/ --prune --detailed-exitcode   # exits 2
  ferry plan -f deploy/churn.yaml -o json`,
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
	return cmd
}

func (a *app) applyCommand() *cobra.Command {
	var (
		path  string
		prune bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f PATH",
		Short: "Make the server's endpoints and deployments match the resource files",
		Long: `Compute the plan (see ferry plan) and carry it out, in an order in which
every step is valid: new endpoints, new and changed deployments (their model
aliases resolved and pinned now), traffic changes, then — with --prune only —
deletions. Every change is audited with the acting principal. Applying the
same files twice changes nothing the second time.`,
		Example: `  ferry apply -f deploy/
  ferry apply -f deploy/ --prune`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usagef(cmd, "name the resource files with -f FILE or DIRECTORY")
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
