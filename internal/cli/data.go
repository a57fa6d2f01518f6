package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
	"github.com/ferry-ml/ferry/internal/dataset"
)

func (a *app) dataCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Register and inspect versioned data assets (data:/name/version)",
		Long: `Data assets are immutable, content-addressed versions of data files: the same
bytes give the same version, changed bytes a new one. Each version records its
digest, schema, row count and profile, and keeps a copy of the bytes in the
artifact store. Name a version as data:/name/3 (or data:/name for the latest)
wherever data is expected, e.g. in a training spec.

With --server the file is uploaded to that server in parts (each retried
when it fails), with a progress bar on a terminal; otherwise the asset goes
into the local data directory (--data).`,
	}
	cmd.AddCommand(a.dataCreate(), a.dataList(), a.dataGet(), a.dataVersions())
	return cmd
}

// withSession runs fn with a session of the server or local directory.
func (a *app) withSession(ctx context.Context, fn func(*session) error) error {
	s, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	return fn(s)
}

func (a *app) dataCreate() *cobra.Command {
	var path, description string
	cmd := &cobra.Command{
		Use:     "create NAME --path FILE",
		Short:   "Register a data file as a version of the asset NAME",
		Example: `  ferry data create flights --path flights.csv --description "BTS on-time, Jan-Jun 2001"`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usagef(cmd, "--path names the file to register")
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			if _, err := os.Stat(abs); err != nil {
				return usagef(cmd, "--path %s: %v", path, err)
			}
			return a.withSession(cmd.Context(), func(s *session) error {
				asset, created, err := a.uploadData(a.principalContext(cmd.Context(), ""), s, args[0], abs, description, a.progress(cmd))
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), asset, func(tw *tabwriter.Writer) {
					verb := "Registered"
					if !created {
						verb = "Unchanged: the same bytes are already"
					}
					fmt.Fprintf(tw, "%s data:/%s/%d (%d rows, %s, %s).\nUse it in a training spec as: data: data:/%[2]s/%[3]d\n", verb, asset.Name, asset.Version, asset.Rows, asset.Format, asset.Digest)
				})
			})
		},
	}
	cmd.Flags().StringVar(&path, "path", "", "file to register: CSV, Parquet or JSONL (optionally .gz)")
	cmd.Flags().StringVar(&description, "description", "", "what the data is")
	return cmd
}

// uploadData registers the local file path as a version of the data asset
// name through s, showing the upload's progress on bar.
func (a *app) uploadData(ctx context.Context, s *session, name, path, description string, bar *progressBar) (client.DataAsset, bool, error) {
	up, err := s.client.UploadFile(ctx, path, func(done, total int64) { bar.Update("uploading", int(done>>20), int(total>>20)) })
	bar.Done()
	if err != nil {
		return client.DataAsset{}, false, err
	}
	return s.client.CreateDataVersion(ctx, name, up, path, description)
}

func (a *app) dataList() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List data assets with their latest version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withSession(cmd.Context(), func(s *session) error {
				assets, err := s.client.ListData(cmd.Context())
				if err != nil {
					return err
				}
				return a.renderAssets(cmd, assets)
			})
		},
	}
}

func (a *app) dataVersions() *cobra.Command {
	return &cobra.Command{
		Use:   "versions NAME",
		Short: "List every version of a data asset, newest first",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSession(cmd.Context(), func(s *session) error {
				assets, err := s.client.DataVersions(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return a.renderAssets(cmd, assets)
			})
		},
	}
}

func (a *app) renderAssets(cmd *cobra.Command, assets []client.DataAsset) error {
	if assets == nil {
		assets = []client.DataAsset{}
	}
	return a.render(cmd.OutOrStdout(), assets, func(tw *tabwriter.Writer) {
		row(tw, "NAME", "VERSION", "ROWS", "FORMAT", "DIGEST", "CREATED", "SOURCE")
		for _, d := range assets {
			row(tw, d.Name, strconv.Itoa(d.Version), strconv.FormatInt(d.Rows, 10), d.Format, shortDigest(d.Digest), millis(d.CreatedAt), d.Source)
		}
	})
}

func (a *app) dataGet() *cobra.Command {
	return &cobra.Command{
		Use:     "get data:/NAME/VERSION|NAME",
		Short:   "Show a data asset version with its schema",
		Example: "  ferry data get data:/flights/1\n  ferry data get flights -o json",
		Args:    exactArgs(1, "data:/NAME/VERSION or NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := args[0]
			if !strings.HasPrefix(ref, "data:") {
				ref = "data:/" + ref
			}
			name, version, err := dataset.ParseRef(ref)
			if err != nil {
				return err
			}
			return a.withSession(cmd.Context(), func(s *session) error {
				d, err := s.client.GetData(cmd.Context(), name, version)
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), d, func(tw *tabwriter.Writer) {
					row(tw, "Asset:", fmt.Sprintf("data:/%s/%d", d.Name, d.Version))
					row(tw, "Rows:", strconv.FormatInt(d.Rows, 10))
					row(tw, "Format:", d.Format)
					row(tw, "Size:", strconv.FormatInt(d.Size, 10)+" bytes")
					row(tw, "Digest:", d.Digest)
					row(tw, "Source:", d.Source)
					row(tw, "Created:", millis(d.CreatedAt)+" by "+d.CreatedBy)
					if d.Description != "" {
						row(tw, "Description:", d.Description)
					}
					row(tw, "Schema:", string(d.Schema))
				})
			})
		},
	}
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
