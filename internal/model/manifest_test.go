package model

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry"
)

// mlflowFixture reads testdata/mlflow/<name>/MLmodel, written in MLflow 2.x's
// exact output format (PyYAML safe_dump of Model.to_dict()).
func mlflowFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "mlflow", name, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseManifestMLflow(t *testing.T) {
	tests := []struct {
		name          string
		preferred     string
		dataPath      string // of the preferred flavor
		mlflowVersion string
		created       string
		inputs        int
		firstInput    Spec
		outputs       []Spec
		params        int
		example       *InputExampleInfo
		extraKeys     []string
		check         func(t *testing.T, m *Manifest)
	}{
		{
			name: "xgboost", preferred: FlavorXGBoost, dataPath: "model.json", mlflowVersion: "2.14.2",
			created: "2024-07-25 22:31:01.090420", inputs: 14,
			firstInput: Spec{Name: "mean radius", Type: TypeDouble, Required: true},
			outputs:    []Spec{{Type: TypeLong, Required: true}},
			example:    &InputExampleInfo{ArtifactPath: "input_example.json", Type: "dataframe", PandasOrient: "split"},
			extraKeys:  []string{"model_size_bytes"},
			check: func(t *testing.T, m *Manifest) {
				x, err := m.XGBoost()
				if err != nil {
					t.Fatal(err)
				}
				want := XGBoostFlavor{Data: "model.json", ModelFormat: "json", ModelClass: "xgboost.sklearn.XGBClassifier", XGBVersion: "2.0.3"}
				if x != want {
					t.Errorf("XGBoost() = %+v, want %+v", x, want)
				}
				// The folded YAML line inside "mean concave\n    points" reads as one space.
				if got := m.Signature.Inputs[7].Name; got != "mean concave points" {
					t.Errorf("inputs[7] = %q, want the folded name joined by a space", got)
				}
			},
		},
		{
			name: "xgboost_legacy", preferred: FlavorXGBoost, dataPath: "model.xgb", mlflowVersion: "2.22.0",
			created: "2025-06-11 22:09:41.968097", inputs: 5,
			firstInput: Spec{Name: "age", Type: TypeLong, Required: true},
			outputs:    []Spec{{Type: TypeTensor, Required: true, IsTensor: true, DType: "float32", Shape: []int64{-1}}},
			example:    &InputExampleInfo{ArtifactPath: "input_example.json", Type: "dataframe", PandasOrient: "split", ServingInputPath: "serving_input_example.json"},
			extraKeys:  []string{"is_signature_from_type_hint", "model_size_bytes", "prompts", "type_hint_from_example"},
			check: func(t *testing.T, m *Manifest) {
				x, err := m.XGBoost()
				if err != nil || x.ModelFormat != "xgb" || x.ModelClass != "xgboost.core.Booster" {
					t.Errorf("XGBoost() = %+v, %v", x, err)
				}
				if got := m.Signature.Inputs[4].Type; got != TypeDatetime {
					t.Errorf("inputs[4].Type = %q, want datetime", got)
				}
			},
		},
		{
			name: "lightgbm", preferred: FlavorLightGBM, dataPath: "model.lgb", mlflowVersion: "2.16.2",
			created: "2024-10-02 09:14:27.553104", inputs: 5,
			firstInput: Spec{Name: "site", Type: TypeDouble, Required: true},
			outputs:    []Spec{{Type: TypeTensor, Required: true, IsTensor: true, DType: "float64", Shape: []int64{-1}}},
			example:    &InputExampleInfo{ArtifactPath: "input_example.json", Type: "dataframe", PandasOrient: "split"},
			extraKeys:  []string{"model_size_bytes"},
			check: func(t *testing.T, m *Manifest) {
				l, err := m.LightGBM()
				want := LightGBMFlavor{Data: "model.lgb", ModelClass: "lightgbm.basic.Booster", LGBVersion: "4.5.0"}
				if err != nil || l != want {
					t.Errorf("LightGBM() = %+v, %v; want %+v", l, err, want)
				}
				p, err := m.PyFunc()
				if err != nil || p.LoaderModule != "mlflow.lightgbm" || p.Env != (PythonEnv{Conda: "conda.yaml", Virtualenv: "python_env.yaml"}) {
					t.Errorf("PyFunc() = %+v, %v", p, err)
				}
			},
		},
		{
			name: "onnx", preferred: FlavorONNX, dataPath: "model.onnx", mlflowVersion: "2.14.1",
			created: "2024-06-20 14:02:11.418202", inputs: 1,
			firstInput: Spec{Name: "float_input", Type: TypeTensor, Required: true, IsTensor: true, DType: "float32", Shape: []int64{-1, 4}},
			outputs: []Spec{
				{Name: "label", Type: TypeTensor, Required: true, IsTensor: true, DType: "int64", Shape: []int64{-1}},
				{Name: "probabilities", Type: TypeTensor, Required: true, IsTensor: true, DType: "float32", Shape: []int64{-1, 3}},
			},
			extraKeys: []string{"model_size_bytes"},
			check: func(t *testing.T, m *Manifest) {
				o, err := m.ONNX()
				if err != nil {
					t.Fatal(err)
				}
				if o.Data != "model.onnx" || o.ONNXVersion != "1.16.1" || !reflect.DeepEqual(o.Providers, []string{"CUDAExecutionProvider", "CPUExecutionProvider"}) {
					t.Errorf("ONNX() = %+v", o)
				}
				if !m.Signature.IsTensorBased() {
					t.Error("IsTensorBased() = false for a tensor signature")
				}
			},
		},
		{
			name: "sklearn", preferred: FlavorPyFunc, dataPath: "model.pkl", mlflowVersion: "2.21.3",
			created: "2025-04-01 08:30:00.125000", inputs: 4,
			firstInput: Spec{Name: "sepal length (cm)", Type: TypeDouble, Required: true},
			outputs:    []Spec{{Type: TypeLong, Required: true}},
			example:    &InputExampleInfo{ArtifactPath: "input_example.json", Type: "dataframe", PandasOrient: "split", ServingInputPath: "serving_input_example.json"},
			extraKeys:  []string{"is_signature_from_type_hint", "model_size_bytes", "prompts", "type_hint_from_example"},
			check: func(t *testing.T, m *Manifest) {
				p, err := m.PyFunc()
				if err != nil || p.LoaderModule != "mlflow.sklearn" || p.ModelPath != "model.pkl" || p.PythonVersion != "3.9.19" {
					t.Errorf("PyFunc() = %+v, %v", p, err)
				}
				if m.Metadata["metadata_key"] != "metadata_value" {
					t.Errorf("metadata = %v", m.Metadata)
				}
				if _, err := m.XGBoost(); !errors.Is(err, ErrFlavorNotFound) || ferry.ErrorCode(err) != ferry.ENOTFOUND {
					t.Errorf("XGBoost() on an sklearn model: err = %v, want ErrFlavorNotFound/ENOTFOUND", err)
				}
			},
		},
		{
			name: "pyfunc", preferred: FlavorPyFunc, dataPath: "python_model.pkl", mlflowVersion: "2.17.2",
			created: "2024-11-05 17:45:03.000000", inputs: 4,
			firstInput: Spec{Name: "text", Type: TypeString, Required: true},
			outputs:    []Spec{{Name: "flagged", Type: TypeBoolean, Required: true}, {Name: "score", Type: TypeDouble, Required: true}},
			params:     3,
			example:    &InputExampleInfo{ArtifactPath: "input_example.json", Type: "dataframe", PandasOrient: "split", ServingInputPath: "serving_input_example.json"},
			extraKeys:  []string{"model_size_bytes"},
			check: func(t *testing.T, m *Manifest) {
				p, err := m.PyFunc()
				if err != nil || p.LoaderModule != "mlflow.pyfunc.model" || p.PythonModel != "python_model.pkl" {
					t.Errorf("PyFunc() = %+v, %v", p, err)
				}
				in := m.Signature.Inputs
				if in[1].Type != TypeArray || string(in[1].Composite) != `{"type":"array","items":{"type":"string"}}` {
					t.Errorf("inputs[1] = %+v", in[1])
				}
				if in[2].Type != TypeObject || in[2].Required {
					t.Errorf("inputs[2] = %+v, want an optional object", in[2])
				}
				if in[3].Name != "café_score" {
					t.Errorf("inputs[3].Name = %q, want the \\u00e9 escape decoded", in[3].Name)
				}
				ps := m.Signature.Params
				if ps[0].Name != "threshold" || ps[0].Type != TypeDouble || string(ps[0].Default) != "0.5" || ps[0].Shape != nil {
					t.Errorf("params[0] = %+v", ps[0])
				}
				if ps[1].Type != TypeString || !reflect.DeepEqual(ps[1].Shape, []int64{-1}) || string(ps[1].Default) != `["spam","abuse"]` {
					t.Errorf("params[1] = %+v", ps[1])
				}
				if m.Metadata["reviewed"] != true {
					t.Errorf("metadata = %v", m.Metadata)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := mlflowFixture(t, tt.name)
			m, err := ParseManifest(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("ParseManifest: %v", err)
			}
			if got, err := m.PreferredFlavor(); err != nil || got != tt.preferred {
				t.Errorf("PreferredFlavor() = %q, %v; want %q", got, err, tt.preferred)
			}
			if got, err := flavorDataPath(tt.preferred, m.Flavors[tt.preferred]); err != nil || got != tt.dataPath {
				t.Errorf("data path = %q, %v; want %q", got, err, tt.dataPath)
			}
			if m.MLflowVersion != tt.mlflowVersion || m.ArtifactPath == "" || m.RunID == "" || len(m.ModelUUID) != 32 {
				t.Errorf("manifest fields: %+v", m)
			}
			if got := m.UTCTimeCreated.Format(TimeLayout); got != tt.created {
				t.Errorf("UTCTimeCreated = %s, want %s", got, tt.created)
			}
			if len(m.Signature.Inputs) != tt.inputs {
				t.Fatalf("%d inputs, want %d", len(m.Signature.Inputs), tt.inputs)
			}
			if !reflect.DeepEqual(m.Signature.Inputs[0], tt.firstInput) {
				t.Errorf("inputs[0] = %+v, want %+v", m.Signature.Inputs[0], tt.firstInput)
			}
			if !reflect.DeepEqual(m.Signature.Outputs, tt.outputs) {
				t.Errorf("outputs = %+v, want %+v", m.Signature.Outputs, tt.outputs)
			}
			if len(m.Signature.Params) != tt.params {
				t.Errorf("%d params, want %d", len(m.Signature.Params), tt.params)
			}
			if !reflect.DeepEqual(m.SavedInputExample, tt.example) {
				t.Errorf("SavedInputExample = %+v, want %+v", m.SavedInputExample, tt.example)
			}
			var keys []string
			for k := range m.Extra {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !reflect.DeepEqual(keys, tt.extraKeys) {
				t.Errorf("Extra keys = %v, want %v", keys, tt.extraKeys)
			}
			tt.check(t, m)
		})
	}
}

// TestManifestRoundTripMLflow writes each MLflow manifest back and reads it
// again: nothing is lost, the signature JSON comes out byte for byte as MLflow
// wrote it, and writing is deterministic.
func TestManifestRoundTripMLflow(t *testing.T) {
	for _, name := range []string{"xgboost", "xgboost_legacy", "lightgbm", "onnx", "sklearn", "pyfunc"} {
		t.Run(name, func(t *testing.T) {
			data := mlflowFixture(t, name)
			m, err := ParseManifest(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again, err := m.Marshal()
			if err != nil || !bytes.Equal(out, again) {
				t.Fatalf("Marshal is not deterministic (err %v)", err)
			}
			m2, err := ParseManifest(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(m, m2) {
				t.Errorf("round trip changed the manifest:\nbefore %+v\nafter  %+v\n%s", m, m2, out)
			}
			// Every value of the original YAML survives, signature strings included.
			var orig, back map[string]any
			if err := yaml.Unmarshal(data, &orig); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(out, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(orig, back) {
				t.Errorf("YAML values differ after a round trip:\noriginal %v\nwritten  %v", orig, back)
			}
		})
	}
}

func TestParseManifestErrors(t *testing.T) {
	const ok = "flavors:\n  xgboost:\n    data: model.json\n"
	sig := func(inputs string) string {
		return ok + "signature:\n  inputs: '" + inputs + "'\n  outputs: null\n"
	}
	tests := []struct {
		name  string
		input string
		code  string
		want  string // a substring of the error
	}{
		{"empty", "", ferry.EINVALID, "MLmodel is empty"},
		{"only a comment", "# nothing\n", ferry.EINVALID, "MLmodel is empty"},
		{"malformed YAML", "flavors: [unclosed\n", ferry.EINVALID, "not valid YAML"},
		{"bad indentation", "flavors:\n  xgboost:\n data: x\n    y: z\n", ferry.EINVALID, "not valid YAML"},
		{"tabs", "flavors:\n\txgboost: {}\n", ferry.EINVALID, "not valid YAML"},
		{"top level is a list", "- a\n- b\n", ferry.EINVALID, "must be a YAML mapping of fields, not a list"},
		{"top level is a string", "hello\n", ferry.EINVALID, "not a string"},
		{"flavors as a list", "flavors:\n- xgboost\n- onnx\n", ferry.EINVALID, "line 2: flavors must be a mapping of flavor name to fields, not a list"},
		{"flavors as a string", "flavors: xgboost\n", ferry.EINVALID, "flavors must be a mapping of flavor name to fields, not a string"},
		{"flavor fields as a list", "flavors:\n  xgboost: [a, b]\n", ferry.EINVALID, "flavors.xgboost must be a mapping of fields, not a list"},
		{"run_id as a mapping", ok + "run_id: {a: b}\n", ferry.EINVALID, "run_id must be a string, not a mapping"},
		{"duplicate key", ok + "run_id: a\nrun_id: b\n", ferry.EINVALID, "appears twice"},
		{"bad time", ok + "utc_time_created: yesterday\n", ferry.EINVALID, `utc_time_created "yesterday" is not a time`},
		{"signature as a list", ok + "signature: [a]\n", ferry.EINVALID, "signature must be a mapping"},
		{"signature JSON invalid", sig(`[{"type": "double", "name": "x"`), ferry.EINVALID, "signature inputs is not a JSON list of column or tensor specs"},
		{"signature JSON an object", sig(`{"type": "double"}`), ferry.EINVALID, "signature inputs is not a JSON list"},
		{"signature unknown type", sig(`[{"type": "int", "name": "x"}]`), ferry.EINVALID, `signature inputs[0] ("x"): unknown type "int"`},
		{"signature missing type", sig(`[{"name": "x"}]`), ferry.EINVALID, `signature inputs[0] ("x"): missing type`},
		{"signature type not a string", sig(`[{"type": 3}]`), ferry.EINVALID, "type must be a string"},
		{"signature tensor without spec", sig(`[{"type": "tensor"}]`), ferry.EINVALID, "a tensor needs a tensor-spec"},
		{"signature tensor bad shape", sig(`[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2.5]}}]`), ferry.EINVALID, "shape must be a list of integers"},
		{"signature mixed named", sig(`[{"type": "double", "name": "x"}, {"type": "double"}]`), ferry.EINVALID, "names all of its inputs or none"},
		{"signature mixed tensors", sig(`[{"type": "double", "name": "x"}, {"name": "t", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}]`), ferry.EINVALID, "only columns or only tensors"},
		{"signature duplicate name", sig(`[{"type": "double", "name": "x"}, {"type": "long", "name": "x"}]`), ferry.EINVALID, "the name appears twice"},
		{"signature empty", sig(`[]`), ferry.EINVALID, "an empty schema is not allowed"},
		{"signature array without items", sig(`[{"type": "array", "name": "x"}]`), ferry.EINVALID, `needs "items"`},
		{"signature params invalid", ok + "signature:\n  inputs: null\n  params: '[{\"name\": \"k\"}]'\n", ferry.EINVALID, "a param needs name, type and default"},
		{"data path traversal", "flavors:\n  xgboost:\n    data: ../../etc/passwd\n", ferry.EINVALID, `flavors.xgboost.data "../../etc/passwd": the path leaves the package directory`},
		{"absolute data path", "flavors:\n  onnx:\n    data: /etc/passwd\n", ferry.EINVALID, "the path is absolute"},
		{"data path not a string", "flavors:\n  onnx:\n    data: [a]\n", ferry.EINVALID, "flavors.onnx.data must be a string, not a list"},
		{"input example traversal", ok + "saved_input_example_info:\n  artifact_path: ../x.json\n", ferry.EINVALID, "saved_input_example_info.artifact_path"},
		{"merge key", "base: &b {data: x}\nflavors:\n  onnx:\n    <<: *b\n", ferry.EINVALID, "merge key"},
		{"not UTF-8", "flavors: {}\nrun_id: \xff\xfe\n", ferry.EINVALID, "not UTF-8"},
		{"huge file", "run_id: x\n" + strings.Repeat("# padding\n", MaxManifestSize/10+1), ferry.ETOOLARGE, "larger than 1048576 bytes"},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n", ferry.EINVALID, "too many YAML nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("ParseManifest = %+v, want an error", m)
			}
			var fe *ferry.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v does not wrap a *ferry.Error", err)
			}
			if fe.Code != tt.code {
				t.Errorf("code = %s, want %s (%v)", fe.Code, tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "model: ") {
				t.Errorf("error %q does not start with the package prefix", err)
			}
		})
	}
}

func TestParseManifestLenient(t *testing.T) {
	tests := []struct {
		name  string
		input string
		check func(t *testing.T, m *Manifest)
	}{
		{"no flavors", "run_id: abc\n", func(t *testing.T, m *Manifest) {
			if _, err := m.PreferredFlavor(); !errors.Is(err, ErrFlavorNotFound) || ferry.ErrorCode(err) != ferry.ENOTFOUND {
				t.Errorf("PreferredFlavor() err = %v, want ErrFlavorNotFound", err)
			}
		}},
		{"time without fraction", "flavors: {onnx: {data: m.onnx}}\nutc_time_created: '2022-01-12 05:17:31'\n", func(t *testing.T, m *Manifest) {
			if want := time.Date(2022, 1, 12, 5, 17, 31, 0, time.UTC); !m.UTCTimeCreated.Equal(want) {
				t.Errorf("UTCTimeCreated = %v", m.UTCTimeCreated)
			}
		}},
		{"unquoted ISO time", "flavors: {onnx: {data: m.onnx}}\nutc_time_created: 2022-01-12T05:17:31Z\n", func(t *testing.T, m *Manifest) {
			if m.UTCTimeCreated.Year() != 2022 {
				t.Errorf("UTCTimeCreated = %v", m.UTCTimeCreated)
			}
		}},
		{"MLflow 1.x env and no required", "flavors:\n  python_function:\n    env: conda.yaml\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\nsignature:\n  inputs: '[{\"name\": \"x\", \"type\": \"double\"}]'\n  outputs: '[{\"type\": \"long\"}]'\n", func(t *testing.T, m *Manifest) {
			p, err := m.PyFunc()
			if err != nil || p.Env.Conda != "conda.yaml" {
				t.Errorf("PyFunc() = %+v, %v", p, err)
			}
			if !m.Signature.Inputs[0].Required {
				t.Error("a spec without required must default to required, as in MLflow")
			}
		}},
		{"all-null signature reads as none", "flavors: {onnx: {data: m.onnx}}\nsignature:\n  inputs: null\n  outputs: null\n  params: null\n", func(t *testing.T, m *Manifest) {
			if m.Signature != nil {
				t.Errorf("Signature = %+v, want nil", m.Signature)
			}
		}},
		{"unknown flavor with structured data", "flavors:\n  transformers:\n    data: {components: [model, tokenizer]}\n  python_function:\n    loader_module: mlflow.transformers\n", func(t *testing.T, m *Manifest) {
			if _, ok := m.Flavor("transformers"); !ok {
				t.Error("the transformers flavor is missing")
			}
		}},
		{"null flavor fields", "flavors:\n  custom: null\n  xgboost:\n    data: model.json\n", func(t *testing.T, m *Manifest) {
			if f, ok := m.Flavor("custom"); !ok || len(f) != 0 {
				t.Errorf("Flavor(custom) = %v, %v", f, ok)
			}
		}},
		{"unknown keys kept", "flavors: {onnx: {data: m.onnx}}\nmodel_id: m-0112\nresources: {api_version: '1', databricks: [a]}\n", func(t *testing.T, m *Manifest) {
			if m.Extra["model_id"] != "m-0112" {
				t.Errorf("Extra = %v", m.Extra)
			}
			out, err := m.Marshal()
			if err != nil || !bytes.Contains(out, []byte("resources:\n  api_version: \"1\"\n  databricks:\n  - a\n")) {
				t.Errorf("Marshal = %s, %v", out, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest(strings.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, m)
		})
	}
}

func TestFlavorAccessorErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		get  func(m *Manifest) error
		want string
	}{
		{"ferry format_version not a number", "flavors:\n  ferry:\n    data: m.json\n    format_version: one\n",
			func(m *Manifest) error { _, err := m.Ferry(); return err }, "flavors.ferry.format_version must be an integer"},
		{"onnx providers not a list", "flavors:\n  onnx:\n    data: m.onnx\n    providers: CPU\n",
			func(m *Manifest) error { _, err := m.ONNX(); return err }, "flavors.onnx.providers must be a list of strings"},
		{"pyfunc env a list", "flavors:\n  python_function:\n    loader_module: x\n    env: [a]\n",
			func(m *Manifest) error { _, err := m.PyFunc(); return err }, "flavors.python_function.env must be a string or a mapping"},
		{"xgboost model_format a mapping", "flavors:\n  xgboost:\n    data: m.json\n    model_format: {a: b}\n",
			func(m *Manifest) error { _, err := m.XGBoost(); return err }, "flavors.xgboost.model_format must be a string"},
		{"lightgbm missing", "flavors:\n  xgboost:\n    data: m.json\n",
			func(m *Manifest) error { _, err := m.LightGBM(); return err }, "the model has no lightgbm flavor (it has xgboost)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest(strings.NewReader(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = tt.get(m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			var fe *ferry.Error
			if !errors.As(err, &fe) {
				t.Errorf("error %v does not wrap a *ferry.Error", err)
			}
		})
	}
}

func TestPreferredFlavorOrder(t *testing.T) {
	tests := []struct {
		name    string
		flavors []string
		want    string
	}{
		{"ferry first", []string{FlavorPyFunc, FlavorONNX, FlavorFerry, FlavorXGBoost}, FlavorFerry},
		{"xgboost over lightgbm", []string{FlavorPyFunc, FlavorLightGBM, FlavorXGBoost}, FlavorXGBoost},
		{"lightgbm over onnx", []string{FlavorONNX, FlavorLightGBM}, FlavorLightGBM},
		{"onnx over pyfunc", []string{FlavorPyFunc, FlavorONNX}, FlavorONNX},
		{"pyfunc last", []string{"sklearn", FlavorPyFunc}, FlavorPyFunc},
		{"none servable", []string{"sklearn", "pytorch"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{Flavors: map[string]Flavor{}}
			for _, f := range tt.flavors {
				m.Flavors[f] = Flavor{}
			}
			got, err := m.PreferredFlavor()
			if tt.want == "" {
				if !errors.Is(err, ErrFlavorNotFound) || !strings.Contains(err.Error(), "it has pytorch, sklearn") {
					t.Errorf("PreferredFlavor() = %q, %v; want ErrFlavorNotFound naming the flavors", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("PreferredFlavor() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
