package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/deploy/kube"
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
for *.yaml and *.yml: YAML documents with kind: Endpoint, Deployment or Monitor
and Azure ML CLI v2's field names), compare them with the server's endpoints,
deployments and monitors, and print the ordered changes as Terraform does:

  + create endpoint churn
  ~ update deployment churn/green: instance_count 1 → 2
  + create monitor churn-drift
  Plan: 2 to add, 1 to change, 0 to destroy.

A change that undoes one made outside apply (ferry endpoints traffic, a
rollout, the API) says so: "(drift: set by alice 3m ago via ferry endpoints
traffic)". Endpoints, deployments and monitors that no file names are kept
unless --prune is given. With --detailed-exitcode the exit status is 0 for no
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
			err := a.deployRun(cmd.Context(), path, func(s *session, set resource.Set) (err error) {
				p, err = s.client.PlanDeploy(cmd.Context(), set.Deploy, set.Monitors, prune)
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
	f.BoolVar(&prune, "prune", false, "delete endpoints, deployments and monitors that no file names")
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
		path, target, out string
		prune             bool
		kopts             kube.Options
	)
	cmd := &cobra.Command{
		Use:   "apply -f PATH | apply PLAN.json",
		Short: "Make the server's endpoints and deployments match the resource files",
		Long: `Compute the plan (see ferry plan) and carry it out, in an order in which
every step is valid: new endpoints, new and changed deployments (their model
aliases resolved and pinned now), traffic changes, then — with --prune only —
deletions; monitors come last, so a monitor may watch an endpoint created by
the same apply. Every change is audited with the acting principal. Applying the
same files twice changes nothing the second time.

Given a plan file (ferry plan -o json > plan.json) instead of -f, apply carries
out exactly that plan, and refuses it when an endpoint it read has changed
since (its serial moved): run ferry plan again. Two applies to one endpoint
never interleave: the second waits for the first, or fails the same way.

With --target kubernetes --render DIR nothing on the server changes: each
deployment's model is resolved and pinned through the server, and the
endpoints and deployments are written to DIR as Kubernetes manifests —
--format deployment (a Deployment, Service and HorizontalPodAutoscaler per
deployment and a Service per endpoint) or kserve (a KServe InferenceService
per endpoint, canaryTrafficPercent from the traffic split) — running the
images 'ferry models package --image' builds, pushed to --image-repository
as REPOSITORY/MODEL:VERSION. Apply them with kubectl; Ferry does not talk to
clusters itself. See docs/kubernetes.md.`,
		Example: `  ferry apply plan.json   # the plan ferry plan -f deploy/ --out plan.json saved
  ferry apply -f deploy/
  ferry apply -f deploy/ --prune
  ferry apply -f deploy/ --target kubernetes --render k8s/ --image-repository registry.example.com/team`,
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
			rendering := out != "" || cmd.Flags().Changed("format") || cmd.Flags().Changed("image-repository") || cmd.Flags().Changed("namespace")
			switch {
			case target == "" && rendering:
				return usagef(cmd, "--render, --format, --image-repository and --namespace write Kubernetes manifests: add --target kubernetes")
			case target != "" && target != deploy.TargetKubernetes:
				return usagef(cmd, "--target %q: only kubernetes renders manifests (embedded and process deployments are applied without --target)", target)
			case target != "" && out == "":
				return usagef(cmd, "Ferry does not talk to Kubernetes clusters itself yet: write the manifests with --render DIR and apply them with kubectl apply --server-side -f DIR")
			case target != "" && prune:
				return usagef(cmd, "--prune deletes from the server; --render changes nothing there")
			case target != "" && kopts.Format != kube.FormatDeployment && kopts.Format != kube.FormatKServe:
				return usagef(cmd, "--format %q: want deployment or kserve", kopts.Format)
			case target != "" && kopts.ImageRepository == "":
				return usagef(cmd, "name the registry repository the packaged model images are pushed to with --image-repository (e.g. registry.example.com/team)")
			case target != "":
				return a.renderKube(cmd, path, out, kopts)
			}
			return a.deployRun(cmd.Context(), path, func(s *session, set resource.Set) error {
				p, err := s.client.ApplyDeploy(cmd.Context(), set.Deploy, set.Monitors, prune)
				if err != nil {
					return err
				}
				return a.printPlan(cmd.OutOrStdout(), p)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&path, "file", "f", "", "resource file or directory")
	f.BoolVar(&prune, "prune", false, "delete endpoints, deployments and monitors that no file names")
	f.StringVar(&target, "target", "", "kubernetes: write manifests (with --render) instead of applying to the server")
	f.StringVar(&out, "render", "", "directory to write the Kubernetes manifests to")
	f.StringVar(&kopts.Format, "format", kube.FormatDeployment, "manifests to render: deployment or kserve")
	f.StringVar(&kopts.ImageRepository, "image-repository", "", "registry repository the packaged model images are pushed to (REPOSITORY/MODEL:VERSION)")
	f.StringVar(&kopts.Namespace, "namespace", "", "Kubernetes namespace of the manifests (default: kubectl's)")
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

// renderResult is what ferry apply --render reports.
type renderResult struct {
	Directory string            `json:"directory"`
	Files     []string          `json:"files"`
	Pinned    map[string]string `json:"pinned"` // ENDPOINT/DEPLOYMENT → models:/NAME/VERSION
}

// renderKube resolves the models of the resource files at path through the
// server, renders them as Kubernetes manifests and writes them to dir.
func (a *app) renderKube(cmd *cobra.Command, path, dir string, opts kube.Options) error {
	ctx := cmd.Context()
	return a.deployRun(ctx, path, func(s *session, set resource.Set) error {
		desired := set.Deploy
		res := renderResult{Directory: dir, Pinned: map[string]string{}}
		for i, d := range desired.Deployments {
			v, err := s.client.Resolve(ctx, d.Model)
			if err != nil {
				return fmt.Errorf("deployment %s/%s: %w", d.EndpointName, d.Name, err)
			}
			desired.Deployments[i].ModelVersion = fmt.Sprintf("models:/%s/%d", v.Name, v.Version)
			res.Pinned[d.EndpointName+"/"+d.Name] = desired.Deployments[i].ModelVersion
		}
		files, err := kube.RenderState(desired, opts)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
				return err
			}
			res.Files = append(res.Files, f.Name)
		}
		return a.render(cmd.OutOrStdout(), res, func(tw *tabwriter.Writer) {
			for _, k := range slices.Sorted(maps.Keys(res.Pinned)) {
				fmt.Fprintf(tw, "Pinned %s to %s\n", k, res.Pinned[k])
			}
			for _, f := range res.Files {
				fmt.Fprintf(tw, "Wrote %s\n", filepath.Join(dir, f))
			}
			fmt.Fprintf(tw, "Apply them with: kubectl apply --server-side -f %s\n", dir)
		})
	})
}

// deployRun loads the resource files at path and calls fn with a session
// and the resources they declare.
func (a *app) deployRun(ctx context.Context, path string, fn func(*session, resource.Set) error) error {
	set, err := resource.Load(path)
	if err != nil {
		return err
	}
	ctx = a.principalContext(ctx, "")
	return a.withSession(ctx, func(s *session) error { return fn(s, set) })
}

func (a *app) printPlan(w io.Writer, p client.DeployPlan) error {
	return a.render(w, p, func(tw *tabwriter.Writer) { fmt.Fprint(tw, p.String()) })
}
