// Package wirejson holds the JSON scalar types of Ferry's and MLflow's wire
// formats, where proto3's JSON mapping lets int64 values arrive as strings and
// doubles as "NaN", "Infinity" or "-Infinity". The server and the Go client
// share them.
package wirejson

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/ferry-ml/ferry"
)

// Int64 decodes from a JSON number or a numeric string and encodes as a number.
type Int64 int64

// UnmarshalJSON implements json.Unmarshaler. A malformed value is EINVALID.
func (n *Int64) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(bytes.Trim(b, `"`))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			*n = Int64(f)
			return nil
		}
		return ferry.Errorf(ferry.EINVALID, "Invalid integer %s: expected a whole JSON number or a numeric string.", Clip(string(b)))
	}
	*n = Int64(v)
	return nil
}

// Float decodes from a JSON number, a numeric string, "NaN", "Infinity" or
// "-Infinity", and encodes NaN and ±Inf as those strings.
type Float float64

// UnmarshalJSON implements json.Unmarshaler. A malformed value is EINVALID.
func (f *Float) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(bytes.Trim(b, `"`))
	switch s {
	case "NaN", "nan":
		*f = Float(math.NaN())
		return nil
	case "Infinity", "inf", "+Infinity":
		*f = Float(math.Inf(1))
		return nil
	case "-Infinity", "-inf":
		*f = Float(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return ferry.Errorf(ferry.EINVALID, "Invalid number %s: expected a JSON number, a numeric string, \"NaN\", \"Infinity\" or \"-Infinity\".", Clip(string(b)))
	}
	*f = Float(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) { return f.Append(nil), nil }

// Append appends f's JSON encoding to b.
func (f Float) Append(b []byte) []byte {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return append(b, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// ID decodes from a JSON string or an integer and encodes as a string.
type ID string

// UnmarshalJSON implements json.Unmarshaler. A malformed value is EINVALID.
func (s *ID) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = ID(v)
		return nil
	}
	if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
		return ferry.Errorf(ferry.EINVALID, "Invalid ID %s: expected a string.", Clip(string(b)))
	}
	*s = ID(b)
	return nil
}

// Clip shortens s for an error message.
func Clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
