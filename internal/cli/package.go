package cli

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/internal/packaging"
)

// packageResult is the output of `ferry models package`.
type packageResult struct {
	Model       string `json:"model"`
	Version     int    `json:"version"`
	ModelDigest string `json:"model_digest"`
	Bundle      string `json:"bundle,omitempty"`
	BundleSHA   string `json:"bundle_sha256,omitempty"`
	Image       string `json:"image,omitempty"`
	ImageDigest string `json:"image_digest,omitempty"`
}

func (m *modelsCmd) packageCmd() *cobra.Command {
	var out, image, binary string
	cmd := &cobra.Command{
		Use:   "package MODEL_URI",
		Short: "Package a model version as a reproducible bundle and/or an OCI image",
		Long: `Package a registered model version (models:/name/3, models:/name@champion,
models:/name/Production) as a .tar.gz bundle — byte-identical every time it
is built from the same version — and, with --image, as an OCI image (a layout
directory, or a .tar archive that docker load and skopeo read) whose layers
hold a static ferry binary and the model, entrypoint "ferry serve /model",
with the model digest and lineage as labels and annotations. No Docker needed.

The version is fetched from --server when given, else from the local data
directory; the bundle and image are written here.`,
		Example: `  ferry models package models:/churn@champion -O churn.tar.gz
  ferry models package models:/churn/3 --image churn-oci/
  ferry models verify churn.tar.gz`,
		Args: exactArgs(1, "MODEL_URI"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" && image == "" {
				return usagef(cmd, "say what to write: -o BUNDLE.tar.gz and/or --image DIR|FILE.tar")
			}
			ctx := cmd.Context()
			return m.withSession(ctx, func(s *session) error { return m.writePackages(cmd, s, args[0], out, image, binary) })
		},
	}
	cmd.Flags().StringVarP(&out, "out", "O", "", "write the bundle to this .tar.gz file")
	cmd.Flags().StringVar(&image, "image", "", "write an OCI image: a layout directory, or a .tar archive")
	cmd.Flags().StringVar(&binary, "binary", "", "static ferry binary for the image (default: this executable; build with CGO_ENABLED=0)")
	return cmd
}

// writePackages packages the version uri names as a bundle at out and/or an
// image at image, and reports what it wrote.
func (m *modelsCmd) writePackages(cmd *cobra.Command, s *session, uri, out, image, binary string) error {
	ctx := cmd.Context()
	v, err := s.remote.Resolve(ctx, uri)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ferry-package-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	pkg, err := s.remote.FetchVersion(ctx, v, filepath.Join(tmp, "model"))
	if err != nil {
		return err
	}
	meta := packaging.Meta{Name: v.Name, Version: v.Version, RunID: v.RunID, GitCommit: v.GitCommit, ModelDigest: v.ModelDigest, Created: time.UnixMilli(v.CreationTime).UTC()}
	bar := m.progress(cmd)
	opts := packaging.Options{Progress: func(done, total int64) { bar.Update("packaging", int(done>>20), int(total>>20)) }}
	res := packageResult{Model: v.Name, Version: v.Version, ModelDigest: v.ModelDigest}
	if out != "" {
		if res.BundleSHA, err = packaging.WriteBundleFile(ctx, out, pkg, meta, opts); err != nil {
			bar.Done()
			return err
		}
		res.Bundle = out
	}
	if image != "" {
		if binary == "" {
			if binary, err = os.Executable(); err != nil {
				return err
			}
		}
		if res.ImageDigest, err = packaging.WriteImage(ctx, image, pkg, meta, binary, opts); err != nil {
			bar.Done()
			return err
		}
		res.Image = image
	}
	bar.Done()
	return m.render(cmd.OutOrStdout(), res, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "Packaged %s version %d (model %s).\n", v.Name, v.Version, v.ModelDigest)
		if res.Bundle != "" {
			fmt.Fprintf(tw, "  bundle: %s (sha256:%s)\n", res.Bundle, strings.TrimPrefix(res.BundleSHA, "sha256:"))
		}
		if res.Image != "" {
			fmt.Fprintf(tw, "  image:  %s (%s)\n", res.Image, res.ImageDigest)
		}
		fmt.Fprintf(tw, "Check it anywhere with: ferry models verify %s\n", cmp.Or(res.Bundle, res.Image))
	})
}

func (m *modelsCmd) verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "verify BUNDLE|IMAGE",
		Short:   "Check every digest of a packaged bundle or OCI image",
		Example: "  ferry models verify churn.tar.gz\n  ferry models verify churn-oci/",
		Args:    exactArgs(1, "BUNDLE|IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := packaging.Verify(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is a valid %s: every file matches its digest.\n", args[0], format)
			return nil
		},
	}
}
