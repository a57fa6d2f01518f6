package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
)

// render writes v as JSON or YAML, or as the table that table writes, as the
// --output flag says. JSON and YAML use the API's field names.
func (a *app) render(w io.Writer, v any, table func(tw *tabwriter.Writer)) error {
	switch a.output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	case "yaml":
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var generic any
		if err := dec.Decode(&generic); err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(yamlNumbers(generic)); err != nil {
			return err
		}
		return enc.Close()
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		table(tw)
		return tw.Flush()
	}
	return fmt.Errorf("unknown output format %q: use table, json or yaml", a.output)
}

// yamlNumbers turns the json.Numbers of a decoded JSON value into int64s
// where they are integers and float64s otherwise, so that YAML shows
// 1796685216762, not 1.796685216762e+12.
func yamlNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = yamlNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = yamlNumbers(e)
		}
	}
	return v
}

// row writes tab-separated cells and a newline.
func row(tw io.Writer, cells ...string) {
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// millis formats a Unix time in milliseconds for a table; 0 is "-".
func millis(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05")
}

// duration formats the time between two Unix times in milliseconds.
func duration(start, end int64) string {
	if start == 0 || end == 0 {
		return "-"
	}
	return (time.Duration(end-start) * time.Millisecond).Round(time.Millisecond).String()
}

// number formats a metric value compactly.
func number(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// short abbreviates a run ID for tables.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
