package cli

import (
	"fmt"
	"math"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/internal/serving"
)

// predictResult is the output of `ferry predict`.
type predictResult struct {
	Model      string  `json:"model"`
	Version    string  `json:"version"`
	Input      string  `json:"input"`
	Output     string  `json:"output"`
	Rows       int     `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_second"`
}

func (a *app) predictCommand() *cobra.Command {
	var (
		in, out      string
		batch, limit int
		keep, force  bool
	)
	cmd := &cobra.Command{
		Use:   "predict MODEL_URI|PATH -i INPUT -o OUTPUT",
		Short: "Score a CSV, Parquet or JSON Lines file with a model, in batches",
		Long: `Score every row of a file with a model and write the predictions: a
registered version (models:/name/3, models:/name@champion, fetched from
--server when given, else from the local data directory) or a model package
directory. The scoring runs here.

The input is CSV or TSV (with a header), Parquet or JSON Lines (CSV and JSON
Lines optionally gzipped), read as a stream:
CSV and JSON Lines row by row, Parquet row group by row group, --batch-size
rows at a time, so memory stays bounded whatever the file's size. Columns the
model does not take are ignored (or kept, with --keep-columns); a missing
column, or a value the model's signature does not allow, stops the run with
the column and row named. The output is CSV, Parquet or JSON Lines, by its
extension: one column per model output (a [rows, K] output gives K columns,
named by the signature's outputs when they match), after the input columns
with --keep-columns. It is written to a temporary file and renamed into place
when complete, with the mode your umask gives; an existing output is only
replaced with --force.`,
		Example: `  ferry predict models:/churn@champion -i customers.csv -o scored.parquet
  ferry predict ./model -i new.csv -o predictions.csv --keep-columns
  ferry predict models:/churn/3 -i customers.jsonl -o scores.jsonl --batch-size 50000`,
		Args: exactArgs(1, "MODEL_URI|PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in == "" || out == "" {
				return usagef(cmd, "name the input with -i FILE and the output with -o FILE")
			}
			if batch <= 0 || limit < 0 {
				return usagef(cmd, "--batch-size must be positive and --limit not negative")
			}
			ctx := cmd.Context()
			lm, err := a.loadModel(ctx, args[0], discardLogger())
			if err != nil {
				return err
			}
			defer lm.model.Close()
			bar := a.progress(cmd)
			start := time.Now()
			scored, err := serving.ScoreFile(ctx, lm.model, lm.sig, in, out, serving.ScoreOptions{
				BatchSize: batch, Limit: limit, KeepColumns: keep, Overwrite: force,
				Progress: func(done, total int) { bar.Update("scoring", done, total) },
			})
			bar.Done()
			if err != nil {
				return err
			}
			rows := scored.Rows
			secs := time.Since(start).Seconds()
			res := predictResult{Model: lm.name, Version: lm.version, Input: in, Output: out, Rows: rows, Seconds: secs, RowsPerSec: float64(rows) / math.Max(secs, 1e-9)}
			return a.render(cmd.OutOrStdout(), res, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Scored %d rows of %s with %s version %s in %s (%.0f rows/s).\nPredictions: %s\n",
					rows, in, lm.name, lm.version, time.Duration(secs*float64(time.Second)).Round(time.Millisecond), res.RowsPerSec, out)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&in, "input", "i", "", "file to score: .csv, .tsv, .jsonl or .ndjson (each also gzipped: .csv.gz, .jsonl.gz, ...) or .parquet")
	// -o names the output file here: it shadows the global --output format flag.
	f.StringVarP(&out, "output", "o", "", "file to write: .csv, .parquet or .jsonl")
	f.IntVar(&batch, "batch-size", serving.DefaultBatchSize, "rows per prediction")
	f.IntVar(&limit, "limit", 0, "score at most this many rows (0: all)")
	f.BoolVar(&keep, "keep-columns", false, "write the input columns before the predictions")
	f.BoolVar(&force, "force", false, "replace the output file if it exists")
	return cmd
}
