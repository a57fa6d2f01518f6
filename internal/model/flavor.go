package model

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry"
)

// Names of the flavors Ferry knows.
const (
	FlavorFerry    = "ferry"
	FlavorXGBoost  = "xgboost"
	FlavorLightGBM = "lightgbm"
	FlavorONNX     = "onnx"
	FlavorPyFunc   = "python_function"
)

// isKnownFlavor reports the flavors whose fields this package interprets.
func isKnownFlavor(name string) bool {
	switch name {
	case FlavorFerry, FlavorXGBoost, FlavorLightGBM, FlavorONNX, FlavorPyFunc:
		return true
	}
	return false
}

// preference returns the order PreferredFlavor picks in: Ferry's native
// format, then the formats Ferry serves in-process, then a Python process.
func preference() []string {
	return []string{FlavorFerry, FlavorXGBoost, FlavorLightGBM, FlavorONNX, FlavorPyFunc}
}

// KnownFlavor is a typed flavor that can be written into a Manifest.
type KnownFlavor interface {
	// FlavorName is the key under flavors, e.g. "xgboost".
	FlavorName() string
	// Fields returns the flavor's MLmodel fields.
	Fields() Flavor
}

// SetFlavor stores f under its name, replacing any flavor of that name.
func (m *Manifest) SetFlavor(f KnownFlavor) {
	if m.Flavors == nil {
		m.Flavors = map[string]Flavor{}
	}
	m.Flavors[f.FlavorName()] = f.Fields()
}

// FerryFlavor is Ferry's own flavor: a model trained by a built-in trainer and
// served natively.
type FerryFlavor struct {
	// Trainer names the built-in trainer, e.g. "logistic" or "gbt".
	Trainer string
	// Data is the model file relative to the package, e.g. "model.json".
	Data string
	// FormatVersion is the package format; Builder.Finish sets FormatVersion when 0.
	FormatVersion int
}

// FlavorName returns "ferry".
func (FerryFlavor) FlavorName() string { return FlavorFerry }

// Fields returns the flavor's MLmodel fields, empty strings left out.
func (f FerryFlavor) Fields() Flavor {
	return withStrings(Flavor{"format_version": int64(f.FormatVersion)}, "trainer", f.Trainer, "data", f.Data)
}

// withStrings adds the non-empty values of key, value pairs to f.
func withStrings(f Flavor, kv ...string) Flavor {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			f[kv[i]] = kv[i+1]
		}
	}
	return f
}

// XGBoostFlavor is the flavor mlflow.xgboost writes.
type XGBoostFlavor struct {
	// Data is the booster file: model.xgb, model.json or model.ubj.
	Data string
	// ModelFormat is "xgb" (legacy binary), "json" or "ubj"; MLflow before 2.x
	// wrote none (binary).
	ModelFormat string
	// ModelClass is e.g. xgboost.core.Booster or xgboost.sklearn.XGBClassifier.
	ModelClass string
	XGBVersion string
}

// FlavorName returns "xgboost".
func (XGBoostFlavor) FlavorName() string { return FlavorXGBoost }

// Fields returns the flavor's MLmodel fields, empty strings left out.
func (f XGBoostFlavor) Fields() Flavor {
	return withStrings(Flavor{"code": nil}, "data", f.Data, "model_format", f.ModelFormat, "model_class", f.ModelClass, "xgb_version", f.XGBVersion)
}

// LightGBMFlavor is the flavor mlflow.lightgbm writes.
type LightGBMFlavor struct {
	// Data is the booster's text model file, model.lgb (or model.pkl for the
	// scikit-learn API classes, which Ferry does not read).
	Data       string
	ModelClass string
	LGBVersion string
}

// FlavorName returns "lightgbm".
func (LightGBMFlavor) FlavorName() string { return FlavorLightGBM }

// Fields returns the flavor's MLmodel fields, empty strings left out.
func (f LightGBMFlavor) Fields() Flavor {
	return withStrings(Flavor{"code": nil}, "data", f.Data, "model_class", f.ModelClass, "lgb_version", f.LGBVersion)
}

// ONNXFlavor is the flavor mlflow.onnx writes.
type ONNXFlavor struct {
	// Data is the graph file, model.onnx.
	Data        string
	ONNXVersion string
	// Providers are onnxruntime execution providers in order of preference.
	Providers []string
}

// FlavorName returns "onnx".
func (ONNXFlavor) FlavorName() string { return FlavorONNX }

// Fields returns the flavor's MLmodel fields, empty strings left out.
func (f ONNXFlavor) Fields() Flavor {
	fl := withStrings(Flavor{"code": nil}, "data", f.Data, "onnx_version", f.ONNXVersion)
	if f.Providers != nil {
		p := make([]any, len(f.Providers))
		for i, s := range f.Providers {
			p[i] = s
		}
		fl["providers"] = p
	}
	return fl
}

// PyFuncFlavor is MLflow's python_function flavor, which every MLflow Python
// model carries and Ferry serves through a Python process.
type PyFuncFlavor struct {
	// LoaderModule is e.g. mlflow.sklearn, mlflow.xgboost or, for custom
	// models, mlflow.pyfunc.model.
	LoaderModule string
	// Data, ModelPath and PythonModel name the model file; which one depends
	// on the loader (data for xgboost/lightgbm/onnx, model_path for sklearn,
	// python_model for custom models).
	Data        string
	ModelPath   string
	PythonModel string
	// PythonVersion is the Python the model was saved with, e.g. 3.10.12.
	PythonVersion string
	// Env names the environment files.
	Env PythonEnv
	// Code is the directory of code the model depends on; "" for none.
	Code string
}

// PythonEnv names a python_function model's environment files. MLflow 1.x
// wrote env as a single conda file name.
type PythonEnv struct {
	Conda      string // conda.yaml
	Virtualenv string // python_env.yaml
}

// FlavorName returns "python_function".
func (PyFuncFlavor) FlavorName() string { return FlavorPyFunc }

// Fields returns the flavor's MLmodel fields, empty strings left out.
func (f PyFuncFlavor) Fields() Flavor {
	fl := withStrings(Flavor{}, "loader_module", f.LoaderModule, "data", f.Data, "model_path", f.ModelPath,
		"python_model", f.PythonModel, "python_version", f.PythonVersion, "code", f.Code)
	if f.Env != (PythonEnv{}) {
		env := map[string]any{}
		if f.Env.Conda != "" {
			env["conda"] = f.Env.Conda
		}
		if f.Env.Virtualenv != "" {
			env["virtualenv"] = f.Env.Virtualenv
		}
		fl["env"] = env
	}
	return fl
}

// Ferry returns the ferry flavor. Errors wrap ErrFlavorNotFound (ENOTFOUND)
// when there is none, or EINVALID when a field has the wrong type.
func (m *Manifest) Ferry() (FerryFlavor, error) {
	r, err := m.reader(FlavorFerry)
	if err != nil {
		return FerryFlavor{}, err
	}
	f := FerryFlavor{Trainer: r.str("trainer"), Data: r.str("data"), FormatVersion: r.integer("format_version")}
	return f, r.err
}

// XGBoost returns the xgboost flavor; errors as for Ferry.
func (m *Manifest) XGBoost() (XGBoostFlavor, error) {
	r, err := m.reader(FlavorXGBoost)
	if err != nil {
		return XGBoostFlavor{}, err
	}
	f := XGBoostFlavor{Data: r.str("data"), ModelFormat: r.str("model_format"), ModelClass: r.str("model_class"), XGBVersion: r.str("xgb_version")}
	return f, r.err
}

// LightGBM returns the lightgbm flavor; errors as for Ferry.
func (m *Manifest) LightGBM() (LightGBMFlavor, error) {
	r, err := m.reader(FlavorLightGBM)
	if err != nil {
		return LightGBMFlavor{}, err
	}
	f := LightGBMFlavor{Data: r.str("data"), ModelClass: r.str("model_class"), LGBVersion: r.str("lgb_version")}
	return f, r.err
}

// ONNX returns the onnx flavor; errors as for Ferry.
func (m *Manifest) ONNX() (ONNXFlavor, error) {
	r, err := m.reader(FlavorONNX)
	if err != nil {
		return ONNXFlavor{}, err
	}
	f := ONNXFlavor{Data: r.str("data"), ONNXVersion: r.str("onnx_version"), Providers: r.strings("providers")}
	return f, r.err
}

// PyFunc returns the python_function flavor; errors as for Ferry.
func (m *Manifest) PyFunc() (PyFuncFlavor, error) {
	r, err := m.reader(FlavorPyFunc)
	if err != nil {
		return PyFuncFlavor{}, err
	}
	f := PyFuncFlavor{
		LoaderModule: r.str("loader_module"), Data: r.str("data"), ModelPath: r.str("model_path"),
		PythonModel: r.str("python_model"), PythonVersion: r.str("python_version"), Code: r.str("code"),
	}
	switch env := r.f["env"].(type) {
	case nil:
	case string:
		f.Env.Conda = env
	case map[string]any:
		sub := fieldReader{name: FlavorPyFunc + ".env", f: env}
		f.Env = PythonEnv{Conda: sub.str("conda"), Virtualenv: sub.str("virtualenv")}
		if r.err == nil {
			r.err = sub.err
		}
	default:
		r.fail("env", env, "a string or a mapping")
	}
	return f, r.err
}

func (m *Manifest) reader(name string) (*fieldReader, error) {
	f, ok := m.Flavors[name]
	if !ok {
		return nil, flavorNotFound("the model has no %s flavor (it has %s)", name, m.flavorList())
	}
	return &fieldReader{name: name, f: f}, nil
}

func (m *Manifest) flavorList() string {
	names := make([]string, 0, len(m.Flavors))
	for n := range m.Flavors {
		names = append(names, clip(n))
	}
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// PreferredFlavor returns the flavor Ferry serves the model through: the first
// of ferry, xgboost, lightgbm, onnx and python_function that the manifest has.
// The error wraps ErrFlavorNotFound (ENOTFOUND) when it has none of them.
func (m *Manifest) PreferredFlavor() (string, error) {
	for _, name := range preference() {
		if _, ok := m.Flavors[name]; ok {
			return name, nil
		}
	}
	return "", flavorNotFound("the model has no flavor Ferry can serve (it has %s; want one of %s)", m.flavorList(), strings.Join(preference(), ", "))
}

// fieldReader reads typed fields of a flavor, remembering the first error.
type fieldReader struct {
	name string
	f    map[string]any
	err  error
}

func (r *fieldReader) fail(key string, v any, want string) {
	if r.err == nil {
		r.err = invalidf("%s: flavors.%s.%s must be %s, not a %s", ManifestFile, r.name, key, want, typeName(v))
	}
}

// str reads a string field; numbers and booleans are taken as their text,
// null and absent as "".
func (r *fieldReader) str(key string) string {
	switch v := r.f[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		r.fail(key, v, "a string")
		return ""
	}
}

func (r *fieldReader) integer(key string) int {
	switch v := r.f[key].(type) {
	case nil:
		return 0
	case int:
		return v
	case int64:
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v)
		}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= math.MaxInt32 {
			return int(v)
		}
	case string:
		if i, err := strconv.Atoi(v); err == nil {
			return i
		}
	}
	r.fail(key, r.f[key], "an integer")
	return 0
}

func (r *fieldReader) strings(key string) []string {
	switch v := r.f[key].(type) {
	case nil:
		return nil
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				r.fail(key, v, "a list of strings")
				return nil
			}
			out = append(out, s)
		}
		return out
	default:
		r.fail(key, v, "a list of strings")
		return nil
	}
}

var errNoData = errors.New("model: flavor names no data file")

func isNoData(err error) bool { return errors.Is(err, errNoData) }

// flavorDataPath returns the flavor's data file as a cleaned, slash-separated
// path relative to the package, rejecting absolute paths and paths that leave
// the package. It looks, in order, at data (xgboost, lightgbm, onnx, ferry and
// their python_function), model_path (python_function of sklearn),
// pickled_model (sklearn), model_data (pytorch) and python_model (custom
// pyfunc); the error wraps errNoData when the flavor has none of them. In
// flavors Ferry does not know, fields that are not strings are passed over.
func flavorDataPath(name string, f Flavor) (string, error) {
	for _, k := range [...]string{"data", "model_path", "pickled_model", "model_data", "python_model"} {
		v, ok := f[k]
		if !ok || v == nil {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			if !isKnownFlavor(name) {
				continue // another flavor's convention; not Ferry's to judge
			}
			return "", invalidf("%s: flavors.%s.%s must be a string, not a %s", ManifestFile, clip(name), k, typeName(v))
		}
		if s == "" {
			continue
		}
		p, err := cleanRelPath(s)
		if err != nil {
			return "", invalidf("%s: flavors.%s.%s %q: %s", ManifestFile, clip(name), k, clip(s), err)
		}
		return p, nil
	}
	return "", &codedError{fe: ferry.Errorf(ferry.ENOTFOUND, "flavor %q names no data file", clip(name)), sentinel: errNoData}
}
