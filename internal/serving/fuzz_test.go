package serving

import (
	"net/http"
	"testing"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/httpmw"
	"github.com/ferry-ml/ferry/internal/runtime"
)

// fuzzSchemas are the schemas requests are decoded against: a column
// signature, a tensor signature, and none (unchecked).
func fuzzSchemas() []*Schema {
	return []*Schema{
		NewSchema((&tableModel{}).Metadata(), tableSignature()),
		NewSchema(runtime.Metadata{}, imageSignature()),
		NewSchema(runtime.Metadata{}, nil),
	}
}

// elementsOf counts the capacity the decoded tensors hold.
func elementsOf(ts []runtime.Tensor) int {
	n := 0
	for _, t := range ts {
		n += cap(t.Bool) + cap(t.Int) + cap(t.FP32) + cap(t.FP64) + cap(t.Str)
	}
	return n
}

// checkDecoded fails on an error that is not a *ferry.Error a client can
// act on, and on tensors larger than the body can describe.
func checkDecoded(t *testing.T, body []byte, ts []runtime.Tensor, err error, perByte int) {
	t.Helper()
	if err != nil {
		if code := ferry.ErrorCode(err); code != ferry.EINVALID && code != ferry.ENOTIMPLEMENTED {
			t.Fatalf("error %v has code %s, want EINVALID", err, code)
		}
		return
	}
	if n := elementsOf(ts); n > perByte*(len(body)+1) {
		t.Fatalf("%d-byte body decoded into %d elements", len(body), n)
	}
	for _, tt := range ts {
		if tt.Len() != shapeElems(tt.Shape) {
			t.Fatalf("tensor %q has %d elements for shape %v", tt.Name, tt.Len(), tt.Shape)
		}
	}
}

func FuzzDecodeV2(f *testing.F) {
	for _, seed := range []string{
		okV2,
		`{"inputs":[{"name":"x","shape":[2,1],"datatype":"FP64","data":[[0.25],[1e-7]]},{"name":"n","shape":[2],"datatype":"INT8","data":[1,2]}]}`,
		`{"inputs":[{"name":"pixels","shape":[1,2,2],"datatype":"FP32","data":[[[1,2],[3,4]]]}]}`,
		`{"inputs":[{"name":"x","shape":[1000000000000],"datatype":"FP64","data":[1]}]}`,
		`{"id":"a\u00e9\ud83d\ude00","outputs":[{"name":"score"}],"inputs":[{"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]}]}`,
		`{"inputs":[{"name":"u","shape":[1],"datatype":"UINT64","data":[18446744073709551615]}]}`,
		`{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","data":["\"x\\n"]}]}`,
		`{"inputs":[{"name":"x","shape":[],"datatype":"FP64","data":1}]}`,
	} {
		f.Add([]byte(seed))
	}
	schemas := fuzzSchemas()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseV2(body)
		if err != nil {
			checkDecoded(t, body, nil, err, 1)
			return
		}
		for _, s := range schemas {
			ts, rows, err := decodeInputs(req, s)
			// A missing optional float column is filled per row: allow one
			// element per row per schema input beyond the body's.
			checkDecoded(t, body, ts, err, 1+len(s.Inputs))
			if err == nil && rows < 0 {
				t.Fatalf("rows = %d", rows)
			}
			if err == nil {
				e := &entry{name: "m", version: "1"}
				_ = appendV2Response(nil, e, req, ts)
			}
		}
	})
}

func FuzzDecodeInvocations(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"dataframe_split": {"columns": ["x", "n", "s"], "data": [[1, 2, "a"], [3.5, 4, null]], "index": [0, 1]}}`},
		{"application/json", `{"dataframe_records": [{"x": 1, "n": 2}, {"x": 0.5, "n": -1, "s": "q"}]}`},
		{"application/json", `{"instances": [[1, 2, "a"]]}`},
		{"application/json", `{"inputs": {"x": [1, 2], "n": [3, 4]}}`},
		{"application/json", `{"inputs": [[[1, 2], [3, 4]]], "params": {"k": 1}}`},
		{"application/json; charset=utf-8", `{"instances": [{"pixels": [[1, 2], [3, 4]]}]}`},
		{"text/csv", "x,n,s\n1.5,2,abc\n-1,0,\n"},
		{"text/csv", "s,n,x\n\"a,b\",1,2\n"},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	schemas := fuzzSchemas()
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		for _, s := range schemas {
			ts, rows, err := decodeInvocations(body, ct, newRowDecoder(s, true))
			if se, ok := err.(*httpmw.StatusError); ok && se.Status == http.StatusUnsupportedMediaType {
				continue
			}
			// Left-out optional values become one element each.
			checkDecoded(t, body, ts, err, 1+len(s.Inputs))
			if err == nil {
				outs := make([]runtime.Tensor, 0, len(ts))
				for _, tt := range ts {
					if len(tt.Shape) > 0 && int(tt.Shape[0]) == rows {
						outs = append(outs, tt)
					}
				}
				if _, err := appendPredictions(nil, s, outs, rows); err != nil {
					t.Fatalf("predictions of decoded inputs: %v", err)
				}
			}
			ts, _, err = decodeV1(body, s)
			checkDecoded(t, body, ts, err, 1+len(s.Inputs))
		}
	})
}
