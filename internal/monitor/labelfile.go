package monitor

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/suggest"
)

// The two ways labels travel: a JSON batch
//
//	{"labels": [{"request_id": "r-1", "label": 1, "time": "2024-03-01T12:00:00Z"}]}
//
// and CSV with a header naming request_id and label, and optionally time,
// in any order. A label is a JSON number, string or boolean, kept as text.
// Times are RFC 3339, or "2006-01-02 15:04:05", "2006-01-02T15:04:05" or
// "2006-01-02" in UTC. Every error is EINVALID naming the label (labels[i]
// or the CSV line) and the field.

// labelColumns are the fields of a label, as CSV columns and JSON keys.
var labelColumns = []string{"request_id", "label", "time"}

// ParseLabelsCSV reads labels from CSV. Values are checked as PutLabels
// checks them, so that an error names the line; more than MaxLabels rows is
// ETOOLARGE.
func ParseLabelsCSV(r io.Reader) ([]Label, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, ferry.Errorf(ferry.EINVALID, "labels CSV is empty; the first line must name the columns request_id,label[,time]")
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !isLabelColumn(h) {
			hint := ""
			if s := suggest.Closest(h, labelColumns); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, ferry.Errorf(ferry.EINVALID, "labels CSV line 1: unknown column %q%s; the columns are request_id, label and optionally time", h, hint)
		}
		if _, dup := col[h]; dup {
			return nil, ferry.Errorf(ferry.EINVALID, "labels CSV line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	for _, need := range labelColumns[:2] {
		if _, ok := col[need]; !ok {
			return nil, ferry.Errorf(ferry.EINVALID, "labels CSV line 1: no %s column; the first line must name the columns request_id,label[,time]", need)
		}
	}
	cr.FieldsPerRecord = len(header)
	var out []Label
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(out) == MaxLabels {
			return nil, ferry.Errorf(ferry.ETOOLARGE, "labels CSV line %d: more than %d labels; send at most %d per call", line, MaxLabels, MaxLabels)
		}
		l := Label{RequestID: rec[col["request_id"]], Value: rec[col["label"]]}
		if i, ok := col["time"]; ok {
			if l.Time, err = parseLabelTime(rec[i]); err != nil {
				return nil, ferry.Errorf(ferry.EINVALID, "labels CSV line %d%s: %v", line, idHint(l.RequestID), err)
			}
		}
		if l, err = normalizeLabel(l); err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "labels CSV line %d%s: %v", line, idHint(l.RequestID), err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, ferry.Errorf(ferry.EINVALID, "labels CSV has a header but no labels")
	}
	return out, nil
}

func isLabelColumn(name string) bool {
	for _, c := range labelColumns {
		if c == name {
			return true
		}
	}
	return false
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return ferry.Errorf(ferry.EINVALID, "labels CSV line %d: %v", pe.StartLine, pe.Err)
	}
	return ferry.Errorf(ferry.EINVALID, "labels CSV: %v", err)
}

// ParseLabelsJSON reads a JSON batch of labels, checked as PutLabels checks
// them so that an error names labels[i]; more than MaxLabels is ETOOLARGE.
func ParseLabelsJSON(raw []byte) ([]Label, error) {
	var batch struct {
		Labels []json.RawMessage `json:"labels"`
	}
	if err := strictJSON(raw, &batch, []string{"labels"}); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, `labels JSON: %v; send {"labels": [{"request_id": "...", "label": 1, "time": "2024-03-01T12:00:00Z"}]}`, err)
	}
	if len(batch.Labels) == 0 {
		return nil, ferry.Errorf(ferry.EINVALID, `labels JSON has no labels; send {"labels": [{"request_id": "...", "label": 1}]}`)
	}
	if len(batch.Labels) > MaxLabels {
		return nil, ferry.Errorf(ferry.ETOOLARGE, "labels JSON has %d labels; send at most %d per call", len(batch.Labels), MaxLabels)
	}
	out := make([]Label, len(batch.Labels))
	for i, item := range batch.Labels {
		l, err := parseJSONLabel(item)
		if err == nil {
			l, err = normalizeLabel(l)
		}
		if err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "labels[%d]%s: %v", i, idHint(l.RequestID), err)
		}
		out[i] = l
	}
	return out, nil
}

func parseJSONLabel(raw json.RawMessage) (Label, error) {
	var item struct {
		RequestID json.RawMessage `json:"request_id"`
		Label     json.RawMessage `json:"label"`
		Time      json.RawMessage `json:"time"`
	}
	if err := strictJSON(raw, &item, labelColumns); err != nil {
		return Label{}, err
	}
	var l Label
	var err error
	if l.RequestID, err = jsonScalar(item.RequestID, "request_id", false); err != nil {
		return l, err
	}
	if l.Value, err = jsonScalar(item.Label, "label", true); err != nil {
		return l, err
	}
	if len(item.Time) > 0 && string(item.Time) != "null" {
		var s string
		if json.Unmarshal(item.Time, &s) != nil {
			return l, fmt.Errorf("time must be a string such as \"2024-03-01T12:00:00Z\", not %s", clip(string(item.Time)))
		}
		if l.Time, err = parseLabelTime(s); err != nil {
			return l, err
		}
	}
	return l, nil
}

// jsonScalar is a string or number (and, with bools, a boolean) as text;
// absent or null is "".
func jsonScalar(raw json.RawMessage, field string, bools bool) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("%s: %v", field, err)
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		if bools {
			return fmt.Sprint(v), nil
		}
	}
	want := "a string or a number"
	if bools {
		want = "a number, a string or a boolean"
	}
	return "", fmt.Errorf("%s must be %s, not %s", field, want, clip(string(raw)))
}

// strictJSON decodes one JSON value into v, refusing unknown fields (naming
// the closest known one) and trailing data.
func strictJSON(raw []byte, v any, fields []string) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name = strings.Trim(name, `"`)
			if s := suggest.Closest(name, fields); s != "" {
				return fmt.Errorf("unknown field %q (did you mean %q?)", name, s)
			}
			return fmt.Errorf("unknown field %q", name)
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			if typ.Field == "" {
				return fmt.Errorf("expected a JSON object, got %s", typ.Value)
			}
			return fmt.Errorf("field %s: expected %s, got %s", typ.Field, typ.Type, typ.Value)
		}
		return err
	}
	if d.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

var labelTimeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}

// parseLabelTime parses a label's time; "" is the zero time.
func parseLabelTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range labelTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not a time such as 2024-03-01T12:00:00Z (RFC 3339), 2024-03-01 12:00:00 or 2024-03-01 (UTC)", clip(s))
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}
