package collect

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// tagSafe makes a column name usable in a parquet struct tag.
var tagSafe = strings.NewReplacer(",", "_", `"`, "_", "`", "_")

// encode writes the rows of s as one Parquet file: request_id, time
// (TIMESTAMP, microseconds, UTC), endpoint, deployment, model_version and
// row (the row's index within its request), all required, then one optional
// column per feature and output: DOUBLE, INT64, BOOLEAN or BYTE_ARRAY
// (UTF-8 string). NaN doubles and empty strings are written as nulls.
func encode(s *segment, endpoint, deployment string) ([]byte, error) {
	var fields []reflect.StructField
	add := func(name string, typ reflect.Type, tag string) {
		fields = append(fields, reflect.StructField{
			Name: "F" + strconv.Itoa(len(fields)), Type: typ,
			Tag: reflect.StructTag(`parquet:"` + tagSafe.Replace(name) + tag + `"`),
		})
	}
	add("request_id", reflect.TypeFor[string](), "")
	add("time", reflect.TypeFor[time.Time](), ",timestamp(microsecond)")
	add("endpoint", reflect.TypeFor[string](), "")
	add("deployment", reflect.TypeFor[string](), "")
	add("model_version", reflect.TypeFor[string](), "")
	add("row", reflect.TypeFor[int64](), "")
	for _, c := range s.cols {
		switch c.kind {
		case kindDouble:
			add(c.name, reflect.TypeFor[*float64](), ",optional")
		case kindInt:
			add(c.name, reflect.TypeFor[*int64](), ",optional")
		case kindBool:
			add(c.name, reflect.TypeFor[*bool](), ",optional")
		default:
			add(c.name, reflect.TypeFor[*string](), ",optional")
		}
	}
	schema := parquet.SchemaOf(reflect.New(reflect.StructOf(fields)).Elem().Interface())
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema, parquet.Compression(&parquet.Snappy))
	ep, dep := parquet.ByteArrayValue([]byte(endpoint)), parquet.ByteArrayValue([]byte(deployment))
	const chunk = 4096
	rows := make([]parquet.Row, 0, min(chunk, s.rows))
	width := 6 + len(s.cols)
	vals := make([]parquet.Value, 0, min(chunk, s.rows)*width)
	for start := 0; start < s.rows; start += chunk {
		rows, vals = rows[:0], vals[:0]
		for r := start; r < min(start+chunk, s.rows); r++ {
			at := len(vals)
			vals = append(vals,
				parquet.ByteArrayValue([]byte(s.reqID[r])).Level(0, 0, 0),
				parquet.Int64Value(s.times[r]).Level(0, 0, 1),
				ep.Level(0, 0, 2), dep.Level(0, 0, 3),
				parquet.ByteArrayValue([]byte(s.versions[r])).Level(0, 0, 4),
				parquet.Int64Value(s.row[r]).Level(0, 0, 5))
			for k, c := range s.cols {
				col := 6 + k
				if c.isNull(r) {
					vals = append(vals, parquet.NullValue().Level(0, 0, col))
					continue
				}
				var v parquet.Value
				switch c.kind {
				case kindDouble:
					v = parquet.DoubleValue(c.f[r])
				case kindInt:
					v = parquet.Int64Value(c.i[r])
				case kindBool:
					v = parquet.BooleanValue(c.b[r])
				default:
					v = parquet.ByteArrayValue([]byte(c.s[r]))
				}
				vals = append(vals, v.Level(0, 1, col))
			}
			rows = append(rows, parquet.Row(vals[at:len(vals):len(vals)]))
		}
		if _, err := w.WriteRows(rows); err != nil {
			return nil, fmt.Errorf("collect: encoding parquet: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("collect: encoding parquet: %w", err)
	}
	return buf.Bytes(), nil
}
