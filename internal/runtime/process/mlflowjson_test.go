package process

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/runtime"
)

func TestMLflowResponseWithoutSignature(t *testing.T) {
	p := newMLflowProtocol(nil)
	tests := []struct {
		name, body string
		want       []runtime.Tensor
		err        string
	}{
		{"integers", `{"predictions": [1, 0, 1]}`, []runtime.Tensor{{Name: "prediction", Datatype: runtime.INT64, Shape: []int64{3}, Int: []int64{1, 0, 1}}}, ""},
		{"integers and floats", `{"predictions": [1, 0.5]}`, []runtime.Tensor{{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{1, 0.5}}}, ""},
		{"strings with a null", `{"predictions": ["a", null]}`, []runtime.Tensor{{Name: "prediction", Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"a", ""}}}, ""},
		{"records typed by values", `{"predictions": [{"label": "yes", "p": 0.9}, {"label": "no", "p": 0.1}]}`, []runtime.Tensor{
			{Name: "label", Datatype: runtime.BYTES, Shape: []int64{2}, Str: []string{"yes", "no"}},
			{Name: "p", Datatype: runtime.FP64, Shape: []int64{2}, FP64: []float64{0.9, 0.1}},
		}, ""},
		{"empty", `{"predictions": []}`, []runtime.Tensor{{Name: "prediction", Datatype: runtime.FP64, Shape: []int64{0}, FP64: []float64{}}}, ""},
		{"no predictions", `{"outputs": [1]}`, nil, "no 'predictions'"},
		{"mixed types", `{"predictions": [1, "a"]}`, nil, "values of different types"},
		{"a scalar", `{"predictions": 3}`, nil, "not a list or an object"},
		{"ragged rows", `{"predictions": [[1, 2], [3]]}`, nil, "row 1 is not a list of 2 values"},
		{"trailing data", `{"predictions": [1]} x`, nil, "after the JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.response([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("response = %+v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("response = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	t.Run("NaN from numpy", func(t *testing.T) {
		got, err := p.response([]byte(`{"predictions": [NaN, 1.5, Infinity]}`))
		if err != nil || got[0].Datatype != runtime.FP64 || !math.IsNaN(got[0].FP64[0]) || !math.IsInf(got[0].FP64[2], 1) {
			t.Errorf("response = %+v, %v", got, err)
		}
	})
}

func TestMLflowRequestForms(t *testing.T) {
	matrix := runtime.Tensor{Name: "pixels", Datatype: runtime.FP32, Shape: []int64{2, 2}, FP32: []float32{1, 2, 3, 4}}
	tensorSig := &model.Signature{Inputs: []model.Spec{{Type: model.TypeTensor, IsTensor: true, DType: "float32", Shape: []int64{-1, 2}}}}
	namedSig := &model.Signature{Inputs: []model.Spec{{Name: "pixels", Type: model.TypeTensor, IsTensor: true, DType: "float32", Shape: []int64{-1, 2}}}}
	tests := []struct {
		name   string
		sig    *model.Signature
		inputs []runtime.Tensor
		want   string
	}{
		{"columns", nil, []runtime.Tensor{
			{Name: "x", Datatype: runtime.FP64, Shape: []int64{2, 1}, FP64: []float64{1.5, math.NaN()}},
			{Name: "ok", Datatype: runtime.BOOL, Shape: []int64{2}, Bool: []bool{true, false}},
		}, `{"dataframe_split":{"columns":["x","ok"],"data":[[1.5,true],[NaN,false]]}}`},
		{"an unnamed tensor", tensorSig, []runtime.Tensor{matrix}, `{"inputs":[[1,2],[3,4]]}`},
		{"a named tensor", namedSig, []runtime.Tensor{matrix}, `{"inputs":{"pixels":[[1,2],[3,4]]}}`},
		{"no signature, not columns", nil, []runtime.Tensor{matrix}, `{"inputs":[[1,2],[3,4]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, body, err := newMLflowProtocol(tt.sig).request(tt.inputs)
			if err != nil || path != "/invocations" || string(body) != tt.want {
				t.Errorf("request = %s %s, %v; want %s", path, body, err, tt.want)
			}
		})
	}
}
