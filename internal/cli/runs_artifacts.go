package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
)

// artifactsResult is the output of runs upload and runs download.
type artifactsResult struct {
	RunID string   `json:"run_id"`
	Files []string `json:"files"`
}

func (a *app) runsUpload() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "upload RUN_ID PATH",
		Short: "Upload a file or directory as artifacts of a run",
		Long: `Upload a file, or a directory with everything under it, as artifacts of a
run: a file keeps its name, a directory its tree, under --to (default: the
run's artifact root). Uploading a path again replaces it.`,
		Example: `  ferry runs upload 6f1c... ./model --to model
  ferry runs upload 6f1c... confusion.png --to plots`,
		Args: exactArgs(2, "RUN_ID PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				bar := a.progress(cmd)
				files, err := c.LogArtifacts(cmd.Context(), args[0], args[1], to, func(done, total int64) { bar.Update("uploading", int(done>>10), int(total>>10)) })
				bar.Done()
				if err != nil {
					return err
				}
				return a.renderFiles(cmd, artifactsResult{RunID: args[0], Files: files}, "Uploaded", "to run")
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "artifact directory to upload into (default: the root)")
	return cmd
}

func (a *app) runsDownload() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "download RUN_ID [ARTIFACT_PATH]",
		Short: "Download a run's artifacts: one file, a directory, or all of them",
		Example: `  ferry runs download 6f1c... model -O ./model
  ferry runs download 6f1c...`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if len(args) == 2 {
				path = args[1]
			}
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				bar := a.progress(cmd)
				files, err := c.DownloadArtifacts(cmd.Context(), args[0], path, out, func(done, total int64) { bar.Update("downloading", int(done>>10), int(total>>10)) })
				bar.Done()
				if err != nil {
					return err
				}
				return a.renderFiles(cmd, artifactsResult{RunID: args[0], Files: files}, "Downloaded", "of run")
			})
		},
	}
	cmd.Flags().StringVarP(&out, "out", "O", ".", "local directory to write into")
	return cmd
}

func (a *app) renderFiles(cmd *cobra.Command, res artifactsResult, verb, prep string) error {
	return a.render(cmd.OutOrStdout(), res, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "%s %d file(s) %s %s:\n", verb, len(res.Files), prep, res.RunID)
		for _, f := range res.Files {
			fmt.Fprintf(tw, "  %s\n", f)
		}
	})
}
