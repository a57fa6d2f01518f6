package process

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/runtime"
)

func TestEncodeInferRequest(t *testing.T) {
	in := []runtime.Tensor{
		{Name: "f", Datatype: runtime.FP32, Shape: []int64{2, 2}, FP32: []float32{0.1, float32(math.NaN()), float32(math.Inf(1)), -2}},
		{Name: "d", Datatype: runtime.FP64, Shape: []int64{1}, FP64: []float64{math.Inf(-1)}},
		{Name: "i", Datatype: runtime.INT64, Shape: []int64{2}, Int: []int64{-3, 9007199254740993}},
		{Name: "b", Datatype: runtime.BOOL, Shape: []int64{1}, Bool: []bool{true}},
		{Name: `s"q`, Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"é\n", `"`}},
		{Name: "e", Datatype: runtime.FP64, Shape: []int64{0}},
	}
	got, err := encodeInferRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"inputs":[` +
		`{"name":"f","shape":[2,2],"datatype":"FP32","data":[0.1,NaN,Infinity,-2]},` +
		`{"name":"d","shape":[1],"datatype":"FP64","data":[-Infinity]},` +
		`{"name":"i","shape":[2],"datatype":"INT64","data":[-3,9007199254740993]},` +
		`{"name":"b","shape":[1],"datatype":"BOOL","data":[true]},` +
		`{"name":"s\"q","shape":[2],"datatype":"BYTES","data":["é\n","\""]},` +
		`{"name":"e","shape":[0],"datatype":"FP64","data":[]}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := encodeInferRequest([]runtime.Tensor{{Name: "x", Datatype: "FP16"}}); err == nil {
		t.Error("unknown datatype encoded")
	}
}

func TestDecodeInferResponse(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		body string
		want []runtime.Tensor
		err  string
	}{
		{"flat", `{"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[2],"data":[0.5,-1]}]}`,
			[]runtime.Tensor{{Name: "y", Datatype: runtime.FP32, Shape: []int64{2}, FP32: []float32{0.5, -1}}}, ""},
		{"nested row-major", `{"outputs":[{"name":"y","datatype":"INT64","shape":[2,2],"data":[[1,2],[3,4]]}]}`,
			[]runtime.Tensor{{Name: "y", Datatype: runtime.INT64, Shape: []int64{2, 2}, Int: []int64{1, 2, 3, 4}}}, ""},
		{"narrow ints travel as INT32", `{"outputs":[{"name":"y","datatype":"UINT8","shape":[1],"data":[255]}]}`,
			[]runtime.Tensor{{Name: "y", Datatype: runtime.INT32, Shape: []int64{1}, Int: []int64{255}}}, ""},
		{"whole float for int", `{"outputs":[{"name":"y","datatype":"INT64","shape":[1],"data":[3.0]}]}`,
			[]runtime.Tensor{{Name: "y", Datatype: runtime.INT64, Shape: []int64{1}, Int: []int64{3}}}, ""},
		{"bool and bytes", `{"outputs":[{"name":"b","datatype":"BOOL","shape":[1],"data":[false]},{"name":"s","datatype":"BYTES","shape":[1],"data":["NaN"]}]}`,
			[]runtime.Tensor{{Name: "b", Datatype: runtime.BOOL, Shape: []int64{1}, Bool: []bool{false}}, {Name: "s", Datatype: runtime.BYTES, Shape: []int64{1}, Str: []string{"NaN"}}}, ""},
		{"empty", `{"outputs":[{"name":"y","datatype":"FP64","shape":[0,3],"data":[]}]}`,
			[]runtime.Tensor{{Name: "y", Datatype: runtime.FP64, Shape: []int64{0, 3}, FP64: []float64{}}}, ""},
		{"shape mismatch", `{"outputs":[{"name":"y","datatype":"FP64","shape":[3],"data":[1,2]}]}`, nil, "has 2 values; its shape [3] holds 3"},
		{"unknown datatype", `{"outputs":[{"name":"y","datatype":"COMPLEX","shape":[1],"data":[1]}]}`, nil, `unknown datatype "COMPLEX"`},
		{"fraction for int", `{"outputs":[{"name":"y","datatype":"INT32","shape":[1],"data":[1.5]}]}`, nil, "not an integer"},
		{"string for bool", `{"outputs":[{"name":"y","datatype":"BOOL","shape":[1],"data":["x"]}]}`, nil, "not a boolean"},
		{"not JSON", `<html>`, nil, "not a V2 inference response"},
		{"negative dimension", `{"outputs":[{"name":"y","datatype":"FP64","shape":[-1],"data":[]}]}`, nil, "negative dimension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeInferResponse([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("non-finite numbers", func(t *testing.T) {
		body := `{"outputs":[{"name":"NaN Infinity","datatype":"FP64","shape":[6],"data":[NaN,Infinity,-Infinity,"NaN","-Inf",null]}]}`
		got, err := decodeInferResponse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		d := got[0].FP64
		if got[0].Name != "NaN Infinity" || !math.IsNaN(d[0]) || !math.IsInf(d[1], 1) || !math.IsInf(d[2], -1) || !math.IsNaN(d[3]) || !math.IsInf(d[4], -1) || !math.IsNaN(d[5]) {
			t.Errorf("got %q %v", got[0].Name, d)
		}
		_ = nan
	})
}

func TestQuoteNonFinite(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[1,2]`, `[1,2]`},
		{`[NaN,-Infinity,Infinity]`, `["NaN","-Infinity","Infinity"]`},
		{`{"a":"NaN \"Infinity\"","b":NaN}`, `{"a":"NaN \"Infinity\"","b":"NaN"}`},
		{`["\\",NaN]`, `["\\","NaN"]`},
	}
	for _, tt := range tests {
		if got := string(quoteNonFinite([]byte(tt.in))); got != tt.want {
			t.Errorf("quoteNonFinite(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
