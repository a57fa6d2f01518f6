package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/model"
	"github.com/ferry-ml/ferry/internal/suggest"
	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// Spec is a training request, the content of train.yaml:
//
//	experiment_name: flights
//	name: gbdt-baseline
//	data: data:/flights/1            # or a path to CSV, Parquet or JSONL
//	target: delay
//	task: binary                     # binary, multiclass or regression
//	positive_when: "> 15"            # binary label from a numeric target
//	features: [date:month, date:weekday, date:hour, distance, origin, destination]
//	trainer: gbdt                    # gbdt, logistic or linear
//	params: {num_rounds: 100, learning_rate: 0.1, max_depth: 6}
//	split: {method: time, column: date, cut: 2001-05-01}
//	metrics: [auc, logloss, accuracy]
//	seed: 42
type Spec struct {
	Name           string            `yaml:"name" json:"name,omitempty"`
	ExperimentName string            `yaml:"experiment_name" json:"experiment_name,omitempty"`
	Data           string            `yaml:"data" json:"data"`
	Target         string            `yaml:"target" json:"target"`
	Task           string            `yaml:"task" json:"task,omitempty"`
	PositiveWhen   string            `yaml:"positive_when" json:"positive_when,omitempty"`
	Features       []string          `yaml:"features" json:"features,omitempty"`
	Trainer        string            `yaml:"trainer" json:"trainer,omitempty"`
	Params         map[string]any    `yaml:"params" json:"params,omitempty"`
	Split          SplitSpec         `yaml:"split" json:"split"`
	Metrics        []string          `yaml:"metrics" json:"metrics,omitempty"`
	Seed           uint64            `yaml:"seed" json:"seed,omitempty"`
	Tags           map[string]string `yaml:"tags" json:"tags,omitempty"`
}

// SplitSpec says how rows are split into training and validation.
type SplitSpec struct {
	Method     string  `yaml:"method" json:"method,omitempty"`         // random (default), time or group
	Validation float64 `yaml:"validation" json:"validation,omitempty"` // random and group: validation fraction, default 0.2
	Column     string  `yaml:"column" json:"column,omitempty"`         // time and group: the column
	Cut        string  `yaml:"cut" json:"cut,omitempty"`               // time: rows before it train, the rest validate
}

// Trainers built in.
const (
	TrainerGBDT     = "gbdt"
	TrainerLogistic = "logistic"
	TrainerLinear   = "linear"
)

// LoadSpec reads a spec from a YAML file; unknown fields are errors naming
// the line. Relative data paths are relative to the file.
func LoadSpec(path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var s Spec
	if err := yamlfile.Decode(raw, path, &s); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "%v", err)
	}
	if s.Data != "" && !strings.Contains(s.Data, ":/") && !strings.HasPrefix(s.Data, "/") {
		s.Data = filepath.Join(filepath.Dir(path), s.Data)
	}
	return &s, nil
}

// Normalize fills defaults and checks the spec, reporting every problem at once.
func (s *Spec) Normalize() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if s.Data == "" {
		add("data: name the training data, a path or data:/name/version")
	}
	if s.Target == "" {
		add("target: name the column to predict")
	}
	if s.Trainer == "" {
		s.Trainer = TrainerGBDT
	}
	switch s.Trainer {
	case TrainerGBDT, TrainerLogistic, TrainerLinear:
	default:
		add("trainer: %q is not a built-in trainer; use gbdt, logistic or linear", s.Trainer)
	}
	if s.Task == "" && s.PositiveWhen != "" {
		s.Task = model.TaskBinary
	}
	switch s.Task {
	case "", model.TaskBinary, model.TaskMulticlass, model.TaskRegression:
	default:
		add("task: %q is not a task; use binary, multiclass or regression", s.Task)
	}
	if s.Trainer == TrainerLinear && s.Task != "" && s.Task != model.TaskRegression {
		add("trainer linear fits regression; for classification use logistic or gbdt")
	}
	if s.Trainer == TrainerLogistic && s.Task == model.TaskRegression {
		add("trainer logistic fits classification; for regression use linear or gbdt")
	}
	if s.Split.Method == "" {
		s.Split.Method = "random"
	}
	switch s.Split.Method {
	case "random", "group":
		if s.Split.Validation == 0 {
			s.Split.Validation = 0.2
		}
		if s.Split.Validation <= 0 || s.Split.Validation >= 1 {
			add("split.validation: %v must be between 0 and 1", s.Split.Validation)
		}
		if s.Split.Method == "group" && s.Split.Column == "" {
			add("split.column: a group split needs the column that names the groups")
		}
	case "time":
		if s.Split.Column == "" || s.Split.Cut == "" {
			add("split: a time split needs column (a timestamp) and cut (e.g. 2001-05-01)")
		}
	default:
		add("split.method: %q is not a split; use random, time or group", s.Split.Method)
	}
	if s.ExperimentName == "" {
		s.ExperimentName = "Default"
	}
	if len(probs) > 0 {
		return ferry.Errorf(ferry.EINVALID, "invalid training spec:\n  %s", strings.Join(probs, "\n  "))
	}
	return nil
}

// decodeParams decodes spec params into dst (a pointer to a params struct
// with json tags). An unknown name is EINVALID naming the closest param and
// listing the valid ones.
func decodeParams(params map[string]any, dst any) error {
	if len(params) == 0 {
		return nil
	}
	valid := paramNames(reflect.TypeOf(dst).Elem())
	names := slices.Sorted(maps.Keys(params))
	for _, name := range names {
		if slices.Contains(valid, name) {
			continue
		}
		msg := fmt.Sprintf("params: unknown field %q", name)
		if c := suggest.Closest(name, valid); c != "" {
			msg += fmt.Sprintf("; did you mean %q?", c)
		}
		return ferry.Errorf(ferry.EINVALID, "%s; valid params are %s", msg, strings.Join(valid, ", "))
	}
	b, err := json.Marshal(params)
	if err != nil {
		return ferry.Errorf(ferry.EINVALID, "params: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return ferry.Errorf(ferry.EINVALID, "params.%s: expected a %s, got %s", te.Field, te.Type, te.Value)
		}
		return ferry.Errorf(ferry.EINVALID, "params: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// paramNames lists the JSON names of a params struct's fields, in order.
func paramNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && t.Field(i).IsExported() {
			names = append(names, name)
		}
	}
	return names
}
