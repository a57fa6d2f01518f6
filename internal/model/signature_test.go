package model

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

func TestCheckColumns(t *testing.T) {
	named := &Signature{Inputs: []Spec{
		{Name: "age", Type: TypeLong, Required: true},
		{Name: "income", Type: TypeDouble, Required: true},
		{Name: "segment", Type: TypeString, Required: true},
		{Name: "note", Type: TypeString, Required: false},
		{Name: "extra", Type: TypeAny, Required: false},
	}}
	tests := []struct {
		name  string
		sig   *Signature
		names []string
		types map[string]string
		want  *SchemaError // nil: no error
	}{
		{name: "exact", sig: named, names: []string{"age", "income", "segment"}},
		{name: "any order with optional", sig: named, names: []string{"note", "segment", "income", "age"}},
		{name: "types match", sig: named, names: []string{"age", "income", "segment"},
			types: map[string]string{"age": TypeLong, "income": TypeDouble, "segment": TypeString}},
		{name: "numeric widening", sig: named, names: []string{"age", "income", "segment"},
			types: map[string]string{"age": TypeInteger, "income": TypeLong}},
		{name: "any accepts anything", sig: named, names: []string{"age", "income", "segment", "extra"},
			types: map[string]string{"extra": TypeBinary}},
		{name: "missing column", sig: named, names: []string{"age", "segment"},
			want: &SchemaError{Missing: []string{"income"}}},
		{name: "extra column", sig: named, names: []string{"age", "income", "segment", "zip"},
			want: &SchemaError{Unexpected: []string{"zip"}}},
		{name: "mistyped column", sig: named, names: []string{"age", "income", "segment"},
			types: map[string]string{"age": TypeDouble, "segment": TypeLong},
			want:  &SchemaError{Mismatched: []ColumnMismatch{{Name: "age", Got: TypeDouble, Want: TypeLong}, {Name: "segment", Got: TypeLong, Want: TypeString}}}},
		{name: "everything wrong", sig: named, names: []string{"zip", "age", "zip"},
			types: map[string]string{"age": TypeString},
			want:  &SchemaError{Missing: []string{"income", "segment"}, Unexpected: []string{"zip"}, Mismatched: []ColumnMismatch{{Name: "age", Got: TypeString, Want: TypeLong}}}},
		{name: "nil signature", sig: nil, names: []string{"anything"}},
		{name: "outputs only", sig: &Signature{Outputs: []Spec{{Type: TypeLong, Required: true}}}, names: []string{"x"}},
		{name: "unnamed count matches", sig: &Signature{Inputs: []Spec{{Type: TypeDouble, Required: true}, {Type: TypeDouble, Required: true}}}, names: []string{"a", "b"}},
		{name: "unnamed count differs", sig: &Signature{Inputs: []Spec{{Type: TypeDouble, Required: true}, {Type: TypeDouble, Required: true}}}, names: []string{"a"},
			want: &SchemaError{GotColumns: 1, WantColumns: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sig.CheckColumns(tt.names, tt.types)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckColumns = %v, want nil", err)
				}
				return
			}
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("CheckColumns = %v, want a *SchemaError", err)
			}
			if !reflect.DeepEqual(se, tt.want) {
				t.Errorf("CheckColumns = %+v, want %+v", se, tt.want)
			}
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Errorf("code = %s, want EINVALID", ferry.ErrorCode(err))
			}
			for _, n := range append(append([]string{}, tt.want.Missing...), tt.want.Unexpected...) {
				if !strings.Contains(err.Error(), `"`+n+`"`) {
					t.Errorf("error %q does not name column %q", err, n)
				}
			}
		})
	}
}

func TestCheckColumnsMessage(t *testing.T) {
	sig := &Signature{Inputs: []Spec{{Name: "age", Type: TypeLong, Required: true}, {Name: "income", Type: TypeDouble, Required: true}}}
	err := sig.CheckColumns([]string{"age", "zip"}, map[string]string{"age": TypeString})
	want := `model: input does not match the model signature: missing column "income"; unexpected column "zip"; column "age" is string, want long`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	if msg := ferry.ErrorMessage(err); msg != strings.TrimPrefix(want, "model: ") {
		t.Errorf("ErrorMessage = %q", msg)
	}
}

func TestCheckColumnsTensor(t *testing.T) {
	sig := &Signature{Inputs: []Spec{{Name: "x", Type: TypeTensor, IsTensor: true, Required: true, DType: "float32", Shape: []int64{-1, 4}}}}
	err := sig.CheckColumns([]string{"x"}, nil)
	if err == nil || ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), "tensors") {
		t.Errorf("CheckColumns on tensors = %v, want an EINVALID error", err)
	}
}

// TestSchemaJSON checks that specs are written as MLflow writes them: key
// order, Python's separators and \u escapes.
func TestSchemaJSON(t *testing.T) {
	tests := []struct {
		name  string
		specs []Spec
		want  string
	}{
		{"named columns", []Spec{{Name: "a", Type: TypeDouble, Required: true}, {Name: "b", Type: TypeString, Required: false}},
			`[{"type": "double", "name": "a", "required": true}, {"type": "string", "name": "b", "required": false}]`},
		{"unnamed column", []Spec{{Type: TypeLong, Required: true}}, `[{"type": "long", "required": true}]`},
		{"unnamed tensor", []Spec{{Type: TypeTensor, IsTensor: true, Required: true, DType: "float64", Shape: []int64{-1}}},
			`[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]`},
		{"named tensor", []Spec{{Name: "img", Type: TypeTensor, IsTensor: true, Required: true, DType: "uint8", Shape: []int64{-1, 28, 28}}},
			`[{"name": "img", "type": "tensor", "tensor-spec": {"dtype": "uint8", "shape": [-1, 28, 28]}}]`},
		{"composite", []Spec{{Name: "tags", Type: TypeArray, Required: true, Composite: json.RawMessage(`{"type":"array","items":{"type":"string"}}`)}},
			`[{"type": "array", "items": {"type": "string"}, "name": "tags", "required": true}]`},
		{"escapes", []Spec{{Name: "café \"q\" <b>&\n😀", Type: TypeDouble, Required: true}},
			`[{"type": "double", "name": "caf\u00e9 \"q\" <b>&\n\ud83d\ude00", "required": true}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schemaJSON(tt.specs)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("schemaJSON =\n%s\nwant\n%s", got, tt.want)
			}
			back, err := parseSchema("inputs", got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.specs) {
				t.Errorf("parse(schemaJSON) = %+v, want %+v", back, tt.specs)
			}
		})
	}
}

func TestSignatureValidate(t *testing.T) {
	col := func(name, typ string) Spec { return Spec{Name: name, Type: typ, Required: true} }
	tests := []struct {
		name string
		sig  *Signature
		want string // "" for valid
	}{
		{"valid", &Signature{Inputs: []Spec{col("a", TypeDouble)}, Outputs: []Spec{col("", TypeLong)}}, ""},
		{"nil", nil, ""},
		{"empty inputs", &Signature{Inputs: []Spec{}}, "an empty schema is not allowed"},
		{"unknown type", &Signature{Inputs: []Spec{col("a", "decimal")}}, `unknown type "decimal"`},
		{"two unnamed tensors", &Signature{Inputs: []Spec{
			{Type: TypeTensor, IsTensor: true, DType: "float32", Shape: []int64{-1}},
			{Type: TypeTensor, IsTensor: true, DType: "float32", Shape: []int64{-1}}}}, "several tensors must all be named"},
		{"tensor without dtype", &Signature{Inputs: []Spec{{Name: "t", Type: TypeTensor, IsTensor: true, Shape: []int64{-1}}}}, "needs a dtype"},
		{"negative shape", &Signature{Inputs: []Spec{{Name: "t", Type: TypeTensor, IsTensor: true, DType: "int8", Shape: []int64{-2}}}}, "is negative"},
		{"param without name", &Signature{Params: []ParamSpec{{Type: TypeDouble}}}, "a param needs a name"},
		{"param bad shape", &Signature{Params: []ParamSpec{{Name: "k", Type: TypeLong, Shape: []int64{3}}}}, "shape must be null"},
		{"param duplicate", &Signature{Params: []ParamSpec{{Name: "k", Type: TypeLong}, {Name: "k", Type: TypeLong}}}, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sig.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || ferry.ErrorCode(err) != ferry.EINVALID {
				t.Errorf("Validate = %v, want EINVALID containing %q", err, tt.want)
			}
		})
	}
}
