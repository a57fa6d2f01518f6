package native

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// numericColumn reads a numeric column from a number tensor.
func numericColumn(t *runtime.Tensor) (*dataset.Column, error) {
	var v []float64
	switch t.Datatype {
	case runtime.FP64:
		v = t.FP64 // not modified: frames are read-only
	case runtime.FP32, runtime.INT32, runtime.INT64, runtime.BOOL:
		n := t.Len()
		v = make([]float64, n)
		for i := range v {
			v[i] = t.Float(i)
		}
	default:
		return nil, invalidf("input %q is %s; it is a numeric column: send FP64 (or FP32, INT32, INT64), with NaN for a missing value", t.Name, t.Datatype)
	}
	return dataset.NewNumeric(t.Name, v), nil
}

// categoricalColumn reads a categorical column from strings, or from numbers
// taken as their text. "" and NaN are missing.
func categoricalColumn(t *runtime.Tensor) (*dataset.Column, error) {
	var v []string
	switch t.Datatype {
	case runtime.BYTES:
		v = t.Str
	case runtime.INT32, runtime.INT64:
		v = make([]string, len(t.Int))
		for i, x := range t.Int {
			v[i] = strconv.FormatInt(x, 10)
		}
	case runtime.FP32, runtime.FP64:
		n := t.Len()
		v = make([]string, n)
		for i := range v {
			v[i] = numberText(t.Float(i))
		}
	case runtime.BOOL:
		v = make([]string, len(t.Bool))
		for i, b := range t.Bool {
			v[i] = strconv.FormatBool(b)
		}
	default:
		return nil, invalidf("input %q is %s; it is a categorical column: send BYTES", t.Name, t.Datatype)
	}
	return dataset.NewCategorical(t.Name, v), nil
}

// numberText is the category a number stands for: its text as the trainer
// formats numbers read into a categorical feature (fmt's %v: 3 → "3",
// 2.5 → "2.5"), "" (missing) for NaN.
func numberText(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return fmt.Sprint(x)
}

// timestampColumn reads a timestamp column from text or Unix seconds.
func timestampColumn(t *runtime.Tensor) (*dataset.Column, error) {
	col := &dataset.Column{Name: t.Name, Kind: dataset.KindTimestamp}
	switch t.Datatype {
	case runtime.BYTES:
		col.Time = make([]int64, len(t.Str))
		for i, s := range t.Str {
			ns, err := parseTime(s)
			if err != nil {
				return nil, invalidf("input %q row %d: %s", t.Name, i+1, err)
			}
			col.Time[i] = ns
		}
	case runtime.INT32, runtime.INT64:
		col.Time = make([]int64, len(t.Int))
		for i, s := range t.Int {
			if s < dataset.MinTime.Unix() || s > dataset.MaxTime.Unix() {
				return nil, invalidf("input %q row %d: %d Unix seconds is out of the range of timestamps (years 1678 to 2261)", t.Name, i+1, s)
			}
			col.Time[i] = s * int64(time.Second)
		}
	default:
		return nil, invalidf("input %q is %s; it is a timestamp column: send BYTES (RFC 3339, e.g. \"2024-05-01T13:45:00Z\", or \"2024-05-01 13:45:00\") or INT64 Unix seconds", t.Name, t.Datatype)
	}
	return col, nil
}

// parseTime parses a timestamp given as text (the forms dataset.ParseTime
// takes) to Unix nanoseconds; "" is missing (dataset.MissingTime).
func parseTime(s string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return dataset.MissingTime, nil
	}
	t, ok := dataset.ParseTime(s)
	if !ok {
		return 0, fmt.Errorf("%q is not a timestamp (use RFC 3339, e.g. \"2024-05-01T13:45:00Z\", or \"2024-05-01 13:45:00\" or \"2024-05-01\")", clip(s))
	}
	if t.Before(dataset.MinTime) || t.After(dataset.MaxTime) {
		return 0, fmt.Errorf("%q is out of the range of timestamps (years 1678 to 2261)", clip(s))
	}
	return t.UnixNano(), nil
}

// clip shortens s for a message.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	r := []rune(s)
	if len(r) <= most {
		return s
	}
	return string(r[:most]) + "…"
}
