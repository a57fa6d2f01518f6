package cli

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferry-ml/ferry/client"
)

// The ferry monitor commands: what endpoints see in production, and the
// truth about it.

func (a *app) monitorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Monitor endpoints: ground-truth labels, drift and model performance",
		Long: `Ferry monitors what endpoints see in production against what their models
were trained on. The truth about a request often comes days later (was the
transaction fraud? did the customer churn?); send it with ferry monitor labels,
by the request id the endpoint answered in its X-Request-Id header, and Ferry
joins it to the request to measure the model's performance.

Monitors are resources (kind: Monitor) that ferry plan and ferry apply manage
beside endpoints and deployments; list them, read them and see every signal
at a glance with the commands below.`,
		Example: `  ferry monitor labels churn -f labels.csv
  ferry monitor status`,
	}
	cmd.AddCommand(a.monitorLabels(), a.monitorList(), a.monitorGet(), a.monitorStatus())
	return cmd
}

func (a *app) monitorLabels() *cobra.Command {
	var file, format string
	cmd := &cobra.Command{
		Use:   "labels ENDPOINT -f FILE",
		Short: "Send the ground truth of an endpoint's requests",
		Long: `Send labels — the truth about requests the endpoint answered — from a CSV or
JSON file (- for standard input). CSV has a header naming request_id, label and
optionally time (when the truth happened: 2024-03-01T12:00:00Z, 2024-03-01
12:00:00 or 2024-03-01, in UTC); JSON is {"labels": [{"request_id": "...",
"label": 1, "time": "..."}]}. A label is a number or a class. A later label
for a request replaces the one before, so sending a file twice changes nothing
and a correction is just another label. The server checks every label first
and stores none when one is wrong, naming its line. At most 100000 labels a
call.

The format comes from the file's extension (.csv, .json), else --format, else
the content.`,
		Example: `  ferry monitor labels churn -f labels.csv
  ferry monitor labels churn -f labels.json -o json`,
		Args: exactArgs(1, "ENDPOINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usagef(cmd, "name the labels file with -f FILE (.csv or .json; - for standard input)")
			}
			ctype, err := labelsFormat(cmd, file, format)
			if err != nil {
				return err
			}
			body, err := readInput(cmd, file)
			if err != nil {
				return err
			}
			if ctype == "" {
				ctype = client.LabelsCSV
				if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
					ctype = client.LabelsJSON
				}
			}
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				counts, err := c.SendLabels(cmd.Context(), args[0], bytes.NewReader(body), ctype)
				if err != nil {
					return err
				}
				return a.render(cmd.OutOrStdout(), counts, func(tw *tabwriter.Writer) {
					row(tw, "Endpoint:", counts.Endpoint)
					row(tw, "Received:", strconv.Itoa(counts.Received))
					row(tw, "Created:", strconv.Itoa(counts.Created))
					row(tw, "Replaced:", strconv.Itoa(counts.Replaced))
					row(tw, "Unchanged:", strconv.Itoa(counts.Unchanged))
					row(tw, "Labelled requests:", strconv.FormatInt(counts.Total, 10))
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "labels file, .csv or .json; - for standard input")
	f.StringVar(&format, "format", "", "csv or json (default: from the file's extension or content)")
	return cmd
}

// labelsFormat is the content type of a labels file: from --format, else
// from its extension; "" when neither says (the content decides).
func labelsFormat(cmd *cobra.Command, file, format string) (string, error) {
	switch strings.ToLower(format) {
	case "csv":
		return client.LabelsCSV, nil
	case "json":
		return client.LabelsJSON, nil
	case "":
	default:
		return "", usagef(cmd, "--format %q: want csv or json", format)
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".csv":
		return client.LabelsCSV, nil
	case ".json":
		return client.LabelsJSON, nil
	}
	return "", nil
}
