package job

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
)

// specDir makes a directory with a src/ folder and a data.csv file, the
// paths the specs below refer to.
func specDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.csv"), []byte("x,y\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const fullSpec = `$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
name: train-churn
display_name: Train churn
experiment_name: churn
description: Trains the churn model.
code: ./src
command: python train.py --lr ${{inputs.lr}} --data ${{ inputs.data }} --out ${{outputs.model}}
inputs:
  lr: 0.1
  epochs: 10
  data: {type: uri_file, path: ./data.csv}
  remote: {type: uri_folder, path: "s3://bucket/prefix"}
outputs:
  model: {type: uri_folder}
  plots:
environment_variables: {SEED: 7, MODE: fast}
limits: {timeout: 600}
retries: {max: 2, backoff: 500ms}
tags: {team: growth}
`

func TestParseSpec(t *testing.T) {
	dir := specDir(t)
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(fullSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"path", s.Path, path},
		{"name", s.Name, "train-churn"},
		{"run name", s.RunName(), "Train churn"},
		{"experiment", s.ExperimentName, "churn"},
		{"code", s.Code, filepath.Join(dir, "src")},
		{"literal input", s.Inputs["lr"], Input{Value: "0.1", Path: "0.1"}},
		{"file input", s.Inputs["data"], Input{Type: URIFile, Value: "./data.csv", Path: filepath.Join(dir, "data.csv")}},
		{"uri input", s.Inputs["remote"], Input{Type: URIFolder, Value: "s3://bucket/prefix", Path: "s3://bucket/prefix"}},
		{"outputs", len(s.Outputs), 2},
		{"null output is a folder", s.Outputs["plots"], Output{Type: URIFolder}},
		{"env", s.Env["SEED"] + s.Env["MODE"], "7fast"},
		{"timeout", s.Timeout, 10 * time.Minute},
		{"retries", s.Retries, RetryPolicy{Max: 2, Backoff: 500 * time.Millisecond}},
		{"tags", s.Tags["team"], "growth"},
		{"params", s.Params()["data"] + " " + s.Params()["lr"], "./data.csv 0.1"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Fatalf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
	cmd, err := s.Render(map[string]string{"model": "/out/model", "plots": "/out/plots"})
	want := "python train.py --lr 0.1 --data " + filepath.Join(dir, "data.csv") + " --out /out/model"
	if err != nil || cmd != want {
		t.Fatalf("Render = %q, %v; want %q", cmd, err, want)
	}
	if _, err := s.Render(nil); err == nil || !strings.Contains(err.Error(), "${{outputs.model}}") {
		t.Fatalf("Render without output dirs: %v", err)
	}
}

func TestParseSpecDefaults(t *testing.T) {
	dir := t.TempDir()
	s, err := ParseSpec([]byte("type: command\ncommand: echo hi\n"), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.ExperimentName != DefaultExperiment || s.Code != dir || s.Timeout != 0 || s.Retries != (RetryPolicy{Backoff: DefaultBackoff}) || s.RunName() != "" {
		t.Fatalf("defaults: %+v", s)
	}
}

func TestParseSpecTimeouts(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Duration
	}{
		{"seconds", "600", 10 * time.Minute},
		{"quoted seconds", `"90"`, 90 * time.Second},
		{"fractional seconds", "1.5", 1500 * time.Millisecond},
		{"duration", "10m", 10 * time.Minute},
		{"compound duration", "1h30m", 90 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSpec([]byte("type: command\ncommand: x\nlimits: {timeout: "+tt.value+"}\n"), t.TempDir(), nil)
			if err != nil || s.Timeout != tt.want {
				t.Fatalf("timeout %s: got %v, %v; want %v", tt.value, s.Timeout, err, tt.want)
			}
		})
	}
}

func TestParseSpecOverrides(t *testing.T) {
	dir := specDir(t)
	if err := os.WriteFile(filepath.Join(dir, "other.csv"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := "type: command\ncommand: run ${{inputs.lr}} ${{inputs.data}}\ninputs: {lr: 0.1, data: {type: uri_file, path: data.csv}}\n"
	s, err := ParseSpec([]byte(spec), dir, []string{"inputs.lr=0.2", "inputs.data=other.csv", "limits.timeout=5m",
		"environment_variables.SEED=7", "experiment_name=churn", "inputs.extra=yes: no"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Inputs["lr"].Value != "0.2" || s.Inputs["data"].Path != filepath.Join(dir, "other.csv") || s.Inputs["data"].Type != URIFile ||
		s.Timeout != 5*time.Minute || s.Env["SEED"] != "7" || s.ExperimentName != "churn" || s.Inputs["extra"].Value != "yes: no" {
		t.Fatalf("overrides not applied: %+v", s)
	}
}

func TestParseSpecErrors(t *testing.T) {
	dir := specDir(t)
	tests := []struct {
		name string
		spec string
		sets []string
		want []string // each must appear in the error
	}{
		{"unknown field", "type: command\ncommand: x\ncompute: gpu-cluster\n", nil, []string{`line 3: unknown field "compute"`}},
		{"unknown nested field", "type: command\ncommand: x\nlimits: {timeout: 5, max_nodes: 2}\n", nil, []string{`unknown field "max_nodes"`}},
		{"unknown input field", "type: command\ncommand: x\ninputs: {d: {type: uri_file, path: data.csv, format: csv}}\n", nil, []string{`inputs.d: unknown field "format"`}},
		{"unknown input reference", "type: command\ncommand: train --lr ${{inputs.lr2}}\ninputs: {lr: 0.1}\n", nil, []string{"${{inputs.lr2}} names no input (declared: lr)"}},
		{"unknown output reference", "type: command\ncommand: train --out ${{outputs.model}}\n", nil, []string{"${{outputs.model}} names no output (none are declared)"}},
		{"unsupported reference", "type: command\ncommand: echo ${{search_space.lr}}\n", nil, []string{"unsupported reference ${{search_space.lr}}"}},
		{"missing command", "type: command\n", nil, []string{"command: required"}},
		{"missing type", "command: x\n", nil, []string{"type: required"}},
		{"other type", "type: sweep\ncommand: x\n", nil, []string{`unsupported type "sweep"`}},
		{"bad timeout", "type: command\ncommand: x\nlimits: {timeout: soon}\n", nil, []string{`limits.timeout: "soon" is neither seconds (600) nor a duration`}},
		{"zero timeout", "type: command\ncommand: x\nlimits: {timeout: 0}\n", nil, []string{"limits.timeout: must be positive"}},
		{"negative timeout", "type: command\ncommand: x\nlimits: {timeout: -5m}\n", nil, []string{"limits.timeout: must be positive"}},
		{"bad retries", "type: command\ncommand: x\nretries: {max: many, backoff: later}\n", nil, []string{"retries.max: must be a whole number", `retries.backoff: "later"`}},
		{"missing input file", "type: command\ncommand: x\ninputs: {d: {type: uri_file, path: nope.csv}}\n", nil, []string{"inputs.d.path: nope.csv does not exist"}},
		{"folder input is a file", "type: command\ncommand: x\ninputs: {d: {type: uri_folder, path: data.csv}}\n", nil, []string{"is not a directory; use type uri_file"}},
		{"input without type", "type: command\ncommand: x\ninputs: {d: {path: data.csv}}\n", nil, []string{"inputs.d.type: required"}},
		{"null input", "type: command\ncommand: x\ninputs: {d: }\n", nil, []string{"inputs.d: needs a value"}},
		{"bad output type", "type: command\ncommand: x\noutputs: {m: {type: uri_file}}\n", nil, []string{`outputs.m.type: unsupported type "uri_file"`}},
		{"missing code", "type: command\ncommand: x\ncode: ./missing\n", nil, []string{"code: directory ./missing does not exist"}},
		{"reserved env", "type: command\ncommand: x\nenvironment_variables: {MLFLOW_RUN_ID: x, FERRY_TOKEN: y}\n", nil, []string{"environment_variables.MLFLOW_RUN_ID: set by Ferry", "environment_variables.FERRY_TOKEN: set by Ferry"}},
		{"bad set", "type: command\ncommand: x\n", []string{"inputs.lr"}, []string{`--set "inputs.lr": want FIELD=VALUE`}},
		{"set below a value", "type: command\ncommand: x\n", []string{"command.x=1"}, []string{"--set command.x: command is not a mapping"}},
		{"empty", "", nil, []string{"the spec is empty"}},
		{"not yaml", "type: [command\n", nil, []string{"not valid YAML"}},
		{"all problems at once", "command: train ${{inputs.x}}\nlimits: {timeout: soon}\nfoo: 1\n", nil,
			[]string{`unknown field "foo"`, "type: required", "${{inputs.x}} names no input", "limits.timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tt.spec), dir, tt.sets)
			var ve *ValidationError
			if !errors.As(err, &ve) || ferry.ErrorCode(err) != ferry.EINVALID {
				t.Fatalf("got %v, want a *ValidationError with code EINVALID", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadSpecNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte("type: command\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSpec(path, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "invalid job spec "+path+": command: required") {
		t.Fatalf("got %v", err)
	}
	if _, err := LoadSpec(filepath.Join(t.TempDir(), "missing.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestRetryDelay(t *testing.T) {
	p := RetryPolicy{Max: 20, Backoff: time.Second}
	for _, tt := range []struct {
		attempt int
		want    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {15, maxBackoff}} {
		if got := p.Delay(tt.attempt); got != tt.want {
			t.Errorf("Delay(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}
