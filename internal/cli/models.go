package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/model"
)

// modelsCommand is the model registry: registration, aliases, promotions
// under the server's policy, approvals, lineage and the audit trail.
//
// Every write acts for a principal, recorded in the audit trail and checked
// by the policy (an approval must come from someone other than the
// requester): --as NAME, else FERRY_PRINCIPAL, else the local user name.
// Until Ferry authenticates requests, the server takes the principal on
// trust from the X-Ferry-Principal header.
func (a *app) modelsCommand() *cobra.Command {
	var as string
	cmd := &cobra.Command{
		Use:     "models",
		Aliases: []string{"model"},
		Short:   "Register model versions, promote them under the policy, trace their lineage",
		Long: `The model registry: named models, immutable versions copied from a run's
model package, aliases (@champion) and stages (Staging, Production), promotions
that the server's policy may require checks or another person's approval for,
lineage back to the run, commit and data, and an audit trail of every step.

Writes act for a principal: --as NAME, else $FERRY_PRINCIPAL, else your user
name. Until the server authenticates requests it trusts this name, which it
receives as the X-Ferry-Principal header.

The promotion policy (policy_file in the config, or FERRY_POLICY_FILE) is
documented field by field in docs/policy.md (and ferry help formats).`,
		Example: `  ferry models register churn --from runs:/<run_id>/model
  ferry models promote churn 1 --to production --reason "beats v0 on AUC"   # exits 1 while it waits for an approval
  ferry models approve churn 1 --to production --as reviewer
  ferry models lineage models:/churn@champion`,
	}
	cmd.PersistentFlags().StringVar(&as, "as", "", "principal to act as (default: $FERRY_PRINCIPAL, else the local user name)")
	m := &modelsCmd{app: a, principal: func() string { return a.principal(as) }}
	cmd.AddCommand(m.list(), m.get(), m.versions(), m.register(), m.alias(), m.promote(),
		m.decide(true), m.decide(false), m.check(), m.lineage(), m.history(), m.packageCmd(), m.verifyCmd())
	return cmd
}

type modelsCmd struct {
	*app
	principal func() string
}

// run calls fn with a client acting for the principal.
func (m *modelsCmd) run(cmd *cobra.Command, fn func(c *client.Client) error) error {
	return m.withClient(cmd.Context(), func(c *client.Client) error {
		if p := m.principal(); p != "" {
			c = c.As(p)
		}
		return fn(c)
	})
}

// versionArg reads a VERSION argument.
func versionArg(cmd *cobra.Command, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 1 {
		return 0, usagef(cmd, "VERSION must be a version number such as 3, not %q", s)
	}
	return n, nil
}

func aliasList(aliases map[string]int) string {
	names := make([]string, 0, len(aliases))
	for a := range aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, a := range names {
		parts[i] = fmt.Sprintf("@%s=v%d", a, aliases[a])
	}
	return dash(strings.Join(parts, " "))
}

func latestList(vs []client.ModelVersion) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("v%d %s", v.Version, v.CurrentStage)
	}
	return dash(strings.Join(parts, ", "))
}

func (m *modelsCmd) list() *cobra.Command {
	var q client.ModelQuery
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List registered models",
		Example: `  ferry models list
  ferry models list --filter "name LIKE 'churn%'" -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.run(cmd, func(c *client.Client) error {
				models, next, err := c.ListModels(cmd.Context(), q)
				if err != nil {
					return err
				}
				if models == nil {
					models = []client.RegisteredModel{}
				}
				err = m.render(cmd.OutOrStdout(), models, func(tw *tabwriter.Writer) {
					if len(models) == 0 {
						fmt.Fprintln(tw, "No registered models. Register one with: ferry models register NAME --from runs:/<run_id>/model")
						return
					}
					row(tw, "NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION")
					for _, rm := range models {
						row(tw, rm.Name, latestList(rm.LatestVersions), aliasList(rm.Aliases), millis(rm.LastUpdatedTimestamp), dash(rm.Description))
					}
				})
				if err == nil && next != "" && m.output == "table" {
					fmt.Fprintf(cmd.ErrOrStderr(), "More models: add --page-token %s\n", next)
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Filter, "filter", "", "filter on the name, e.g. \"name LIKE 'churn%'\" or \"name ILIKE '%fraud%'\"")
	f.StringSliceVar(&q.OrderBy, "order-by", nil, "order, e.g. \"last_updated_timestamp DESC\" (repeatable)")
	f.IntVar(&q.MaxResults, "max-results", 0, "page size (default 100)")
	f.StringVar(&q.PageToken, "page-token", "", "token of the page to show, from a previous listing")
	return cmd
}

func (m *modelsCmd) get() *cobra.Command {
	return &cobra.Command{
		Use:     "get NAME",
		Short:   "Show a registered model: aliases, the newest version per stage, tags",
		Example: `  ferry models get churn`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.run(cmd, func(c *client.Client) error {
				rm, err := c.GetModel(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return m.render(cmd.OutOrStdout(), rm, func(tw *tabwriter.Writer) {
					row(tw, "Name:", rm.Name)
					row(tw, "Description:", dash(rm.Description))
					row(tw, "Created:", millis(rm.CreationTimestamp))
					row(tw, "Updated:", millis(rm.LastUpdatedTimestamp))
					row(tw, "Aliases:", aliasList(rm.Aliases))
					for _, v := range rm.LatestVersions {
						row(tw, "Latest "+v.CurrentStage+":", fmt.Sprintf("v%d (run %s, registered %s by %s)", v.Version, short(v.RunID), millis(v.CreationTimestamp), v.UserID))
					}
					for _, t := range rm.Tags {
						row(tw, "Tag:", t.Key+"="+t.Value)
					}
				})
			})
		},
	}
}

func (m *modelsCmd) versions() *cobra.Command {
	return &cobra.Command{
		Use:     "versions NAME",
		Short:   "List a registered model's versions, newest first",
		Example: `  ferry models versions churn`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.run(cmd, func(c *client.Client) error {
				vs, err := c.ListVersions(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if vs == nil {
					vs = []client.ModelVersion{}
				}
				return m.render(cmd.OutOrStdout(), vs, func(tw *tabwriter.Writer) {
					if len(vs) == 0 {
						fmt.Fprintf(tw, "%s has no versions. Register one with: ferry models register %s --from runs:/<run_id>/model\n", args[0], args[0])
						return
					}
					row(tw, "VERSION", "STAGE", "ALIASES", "RUN", "BY", "REGISTERED", "DIGEST")
					for _, v := range vs {
						aliases := make([]string, len(v.Aliases))
						for i, a := range v.Aliases {
							aliases[i] = "@" + a
						}
						row(tw, strconv.Itoa(v.Version), v.CurrentStage, dash(strings.Join(aliases, " ")), dash(short(v.RunID)), v.UserID, millis(v.CreationTimestamp), shortDigest(v.ModelDigest))
					}
				})
			})
		},
	}
}

func (m *modelsCmd) register() *cobra.Command {
	var (
		src  client.VersionSource
		tags map[string]string
	)
	cmd := &cobra.Command{
		Use:   "register NAME --from SOURCE",
		Short: "Register a model package (a run's, or a local directory) as a new version, creating the model if needed",
		Long: `Register a model package as the next version of NAME. The package is copied
into the registry's own storage and its file digests verified, so the version
never changes afterwards; its lineage (run, commit, datasets) is recorded.

--from names a run's package (runs:/<run_id>/model), a package stored by the
server (mlflow-artifacts:...), or a local package directory (one with an
MLmodel file, e.g. what 'ferry train --out DIR' keeps), which is uploaded.`,
		Example: `  ferry models register churn --from runs:/0a1b2c3d4e5f60718293a4b5c6d7e8f9/model
  ferry models register churn --from runs:/<run_id>/model --description "gbdt, 100 rounds"
  ferry models register churn --from ./model --server http://ferry.internal:5000`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if src.Source == "" {
				return usagef(cmd, "name the model package with --from runs:/<run_id>/model")
			}
			src.Tags = client.TagList(tags)
			return m.run(cmd, func(c *client.Client) error {
				if st, err := os.Stat(src.Source); err == nil && st.IsDir() {
					if err := m.uploadPackage(cmd, c, &src); err != nil {
						return err
					}
				}
				v, err := c.RegisterVersion(cmd.Context(), args[0], src)
				if err != nil {
					return err
				}
				return m.render(cmd.OutOrStdout(), v, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "Registered %s version %d (%s) from %s, digest %s.\n", v.Name, v.Version, v.URI(), v.Source, v.ModelDigest)
					fmt.Fprintf(tw, "Next: ferry models promote %s %d --to staging   (or: ferry models alias %s challenger %d)\n", v.Name, v.Version, v.Name, v.Version)
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&src.Source, "from", "", "the model package: runs:/<run_id>/<path>, an mlflow-artifacts: URI, or a local package directory")
	f.StringVar(&src.Description, "description", "", "description of the version")
	f.StringToStringVar(&tags, "tag", nil, "tag KEY=VALUE (repeatable)")
	return cmd
}

// uploadPackage uploads the package directory src.Source names as a tar
// archive and points src at the upload.
func (m *modelsCmd) uploadPackage(cmd *cobra.Command, c *client.Client, src *client.VersionSource) error {
	ctx := cmd.Context()
	dir, err := filepath.Abs(src.Source)
	if err != nil {
		return err
	}
	if _, err := model.Load(ctx, dir); err != nil {
		return err
	}
	f, err := os.CreateTemp("", "ferry-package-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = model.WriteArchive(ctx, f, dir)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	bar := m.progress(cmd)
	up, err := c.UploadFile(ctx, f.Name(), func(done, total int64) { bar.Update("uploading", int(done>>10), int(total>>10)) })
	bar.Done()
	if err != nil {
		return err
	}
	src.Source, src.UploadID, src.Parts = dir, up.ID, up.Parts
	return nil
}

func (m *modelsCmd) alias() *cobra.Command {
	var (
		reason string
		del    bool
	)
	cmd := &cobra.Command{
		Use:   "alias NAME ALIAS VERSION",
		Short: "Point an alias (models:/NAME@ALIAS) at a version, or delete it with --delete",
		Example: `  ferry models alias churn challenger 4
  ferry models alias churn champion 3 --reason "won the A/B test"
  ferry models alias churn challenger --delete`,
		Args: func(cmd *cobra.Command, args []string) error {
			if del {
				return exactArgs(2, "NAME ALIAS")(cmd, args)
			}
			return exactArgs(3, "NAME ALIAS VERSION")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name, alias := args[0], strings.TrimPrefix(args[1], "@")
			if del {
				return m.run(cmd, func(c *client.Client) error {
					if err := c.DeleteAlias(cmd.Context(), name, alias); err != nil {
						return err
					}
					return m.render(cmd.OutOrStdout(), map[string]string{"name": name, "alias": alias, "deleted": "true"}, func(tw *tabwriter.Writer) {
						fmt.Fprintf(tw, "Deleted alias @%s of %s; models:/%s@%s no longer resolves.\n", alias, name, name, alias)
					})
				})
			}
			version, err := versionArg(cmd, args[2])
			if err != nil {
				return err
			}
			return m.run(cmd, func(c *client.Client) error {
				v, err := c.SetAlias(cmd.Context(), name, alias, version, reason)
				if err != nil {
					return err
				}
				return m.render(cmd.OutOrStdout(), v, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "models:/%s@%s now points at version %d.\n", name, alias, v.Version)
				})
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit trail")
	cmd.Flags().BoolVar(&del, "delete", false, "delete the alias instead")
	return cmd
}

func (m *modelsCmd) promote() *cobra.Command {
	var (
		to     string
		p      client.Promotion
		stages = "production, staging, archived, none, or @alias such as @champion"
	)
	cmd := &cobra.Command{
		Use:   "promote NAME VERSION --to TARGET",
		Short: "Move a version to a stage or an alias, as the server's policy allows",
		Long: `Move a version to a stage (production, staging, archived, none) or an alias
(@champion). When the policy requires a passing check or another person's
approval that does not exist yet, nothing moves: the command says what is
missing and exits 1. A missing approval files a request that a reviewer
grants with 'ferry models approve'; run promote again afterwards.`,
		Example: `  ferry models promote churn 3 --to staging
  ferry models promote churn 3 --to production --reason "AUC 0.91 vs 0.88" --archive-existing
  ferry models promote churn 3 --to @champion`,
		Args: exactArgs(2, "NAME VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usagef(cmd, "say where to with --to: %s", stages)
			}
			version, err := versionArg(cmd, args[1])
			if err != nil {
				return err
			}
			return m.run(cmd, func(c *client.Client) error {
				v, err := c.Promote(cmd.Context(), args[0], version, to, p)
				if err != nil {
					return err
				}
				return m.render(cmd.OutOrStdout(), v, func(tw *tabwriter.Writer) {
					if strings.HasPrefix(to, "@") {
						fmt.Fprintf(tw, "models:/%s%s now points at version %d.\n", v.Name, to, v.Version)
					} else {
						fmt.Fprintf(tw, "%s version %d is now in %s.\n", v.Name, v.Version, v.CurrentStage)
					}
					fmt.Fprintf(tw, "See the trail with: ferry models history %s\n", v.Name)
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "target: "+stages)
	f.StringVar(&p.Reason, "reason", "", "why, for the audit trail")
	f.BoolVar(&p.ArchiveExisting, "archive-existing", false, "move the stage's other versions to Archived")
	_ = cmd.RegisterFlagCompletionFunc("to", cobra.FixedCompletions([]string{"production", "staging", "archived", "none", "@champion"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// decide is approve (approve true) or reject.
func (m *modelsCmd) decide(approve bool) *cobra.Command {
	var to, comment string
	verb, past := "reject", "Rejected"
	if approve {
		verb, past = "approve", "Approved"
	}
	cmd := &cobra.Command{
		Use:   verb + " NAME VERSION --to TARGET",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a pending request to promote a version",
		Example: fmt.Sprintf(`  ferry models %s churn 3 --to production --as reviewer
  ferry models %s churn 3 --to @champion --comment "checked the report"`, verb, verb),
		Args: exactArgs(2, "NAME VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usagef(cmd, "name the request's target with --to, as it was promoted: production, staging or @alias")
			}
			version, err := versionArg(cmd, args[1])
			if err != nil {
				return err
			}
			return m.run(cmd, func(c *client.Client) error {
				var r client.PromotionRequest
				if approve {
					r, err = c.Approve(cmd.Context(), args[0], version, to, comment)
				} else {
					r, err = c.Reject(cmd.Context(), args[0], version, to, comment)
				}
				if err != nil {
					return err
				}
				return m.render(cmd.OutOrStdout(), r, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "%s the request by %s to move %s version %d to %s.\n", past, r.RequestedBy, r.Model, r.Version, r.Target)
					if approve {
						to := r.Target
						if !strings.HasPrefix(to, "@") {
							to = strings.ToLower(to)
						}
						fmt.Fprintf(tw, "Now promote it with: ferry models promote %s %d --to %s\n", r.Model, r.Version, to)
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the target of the request: production, staging or @alias")
	cmd.Flags().StringVar(&comment, "comment", "", "comment for the audit trail")
	return cmd
}

func (m *modelsCmd) check() *cobra.Command {
	var kind, verdict, details string
	cmd := &cobra.Command{
		Use:   "check NAME VERSION --kind KIND --verdict pass|fail",
		Short: "Record the verdict of a check (such as a validation) on a version",
		Long: `Record that a version passed or failed a check. Promotion rules in the
server's policy can require the latest check of a kind to have passed.`,
		Example: `  ferry models check churn 3 --kind validation --verdict pass --details '{"auc": 0.91}'`,
		Args:    exactArgs(2, "NAME VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			version, err := versionArg(cmd, args[1])
			if err != nil {
				return err
			}
			var d any
			if details != "" {
				if err := json.Unmarshal([]byte(details), &d); err != nil {
					return usagef(cmd, "--details must be JSON: %v", err)
				}
			}
			return m.run(cmd, func(c *client.Client) error {
				chk, err := c.RecordCheck(cmd.Context(), args[0], version, kind, verdict, d)
				if err != nil {
					return err
				}
				return m.render(cmd.OutOrStdout(), chk, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "Recorded a %s check of %s version %d: %s.\n", chk.Kind, chk.Model, chk.Version, chk.Verdict)
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "validation", "kind of check")
	f.StringVar(&verdict, "verdict", "", "pass or fail")
	f.StringVar(&details, "details", "", "details as JSON")
	return cmd
}

func (m *modelsCmd) lineage() *cobra.Command {
	return &cobra.Command{
		Use:   "lineage MODEL_URI",
		Short: "Trace a version to the run, commit and datasets that made it",
		Example: `  ferry models lineage models:/churn/3
  ferry models lineage models:/churn@champion -o json`,
		Args: exactArgs(1, "MODEL_URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			uri := args[0]
			if !strings.HasPrefix(uri, "models:/") {
				return usagef(cmd, "MODEL_URI is models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/STAGE, not %q", uri)
			}
			return m.run(cmd, func(c *client.Client) error {
				v, err := c.Resolve(cmd.Context(), uri)
				if err != nil {
					return err
				}
				lin, err := c.Lineage(cmd.Context(), v.Name, v.Version)
				if err != nil {
					return err
				}
				return m.render(cmd.OutOrStdout(), lin, func(tw *tabwriter.Writer) {
					row(tw, "Version:", fmt.Sprintf("%s (%s)", v.URI(), v.CurrentStage))
					row(tw, "Digest:", v.ModelDigest)
					row(tw, "Registered:", fmt.Sprintf("%s by %s from %s", millis(v.CreationTimestamp), v.UserID, v.Source))
					if lin.Run != nil {
						row(tw, "Run:", fmt.Sprintf("%s (%s, experiment %s, %s)", lin.Run.Info.RunID, lin.Run.Info.RunName, lin.Run.Info.ExperimentID, lin.Run.Info.Status))
					} else {
						row(tw, "Run:", dash(v.RunID))
					}
					commit := dash(lin.GitCommit)
					if lin.GitDirty {
						commit += " (with uncommitted changes)"
					}
					row(tw, "Commit:", commit)
					if len(lin.Datasets) == 0 {
						row(tw, "Datasets:", "-")
					}
					for _, d := range lin.Datasets {
						row(tw, "Dataset:", strings.TrimSpace(d.Name+" "+d.Digest))
					}
					if lin.Run != nil {
						fmt.Fprintf(tw, "See the run with: ferry runs get %s\n", lin.Run.Info.RunID)
					}
				})
			})
		},
	}
}

func (m *modelsCmd) history() *cobra.Command {
	return &cobra.Command{
		Use:     "history NAME",
		Short:   "Show a registered model's audit trail, oldest first",
		Example: `  ferry models history churn`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.run(cmd, func(c *client.Client) error {
				events, err := c.History(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if events == nil {
					events = []client.AuditEvent{}
				}
				return m.render(cmd.OutOrStdout(), events, func(tw *tabwriter.Writer) {
					row(tw, "TIME", "WHO", "ACTION", "VERSION", "FROM", "TO", "REASON")
					for _, e := range events {
						version := "-"
						if e.Version > 0 {
							version = strconv.Itoa(e.Version)
						}
						to := e.To
						if strings.HasPrefix(to, "sha256:") {
							to = shortDigest(to)
						}
						row(tw, millis(e.Time), e.Principal, e.Action, version, dash(e.From), dash(to), dash(e.Reason))
					}
				})
			})
		},
	}
}
