package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestYAMLTyposAreCaughtBeforeWork writes each YAML file a user writes with a
// typo in it and requires the command to refuse it before doing anything,
// naming the file, the line, the field and the closest valid field.
func TestYAMLTyposAreCaughtBeforeWork(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("d.csv", "x,y\n1,0\n2,1\n3,0\n4,1\n")
	spec := write("train.yaml", "data: d.csv\ntagret: y\n")
	nested := write("split.yaml", "data: d.csv\ntarget: y\nsplit:\n  method: random\n  validaton: 0.3\n")
	gates := write("gates.yaml", "thresholds:\n  roc_auc: \">= 0.5\"\ndata:\n  max_missing_rate_increse: 0.1\n")
	job := write("job.yaml", "type: command\ncommand: echo hi\nenvironment_variable:\n  A: b\n")
	cfg := write("ferry.yaml", "log:\n  levle: debug\n")
	policy := write("policy.yaml", "default:\n  stage:\n    Production: {approval: true}\n")
	withPolicy := write("ferry-policy.yaml", "policy_file: "+policy+"\n")

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"training spec", []string{"train", "-f", spec}, []string{spec, `line 2: unknown field "tagret"; did you mean "target"?`}},
		{"training spec nested", []string{"train", "-f", nested}, []string{nested, `line 5: unknown field "validaton" in split; did you mean "validation"?`}},
		{"unknown trainer param", []string{"train", "--dataset", filepath.Join(dir, "d.csv"), "--target", "y", "--param", "num_round=3"},
			[]string{`unknown field "num_round"; did you mean "num_rounds"?; valid params are objective, num_class, num_rounds`}},
		{"gates file", []string{"validate", "models:/churn/1", "--dataset", filepath.Join(dir, "d.csv"), "--policy", gates},
			[]string{`gates.yaml: line 4: unknown field "max_missing_rate_increse" in data; did you mean "max_missing_rate_increase"?`}},
		{"job spec", []string{"jobs", "submit", "-f", job}, []string{job, `line 3: unknown field "environment_variable"; did you mean "environment_variables"?`}},
		{"config file", []string{"--config", cfg, "runs", "list"}, []string{cfg, `line 2: unknown field "levle" in log; did you mean "level"?`}},
		{"promotion policy", []string{"--config", withPolicy, "models", "list"}, []string{policy, `line 2: unknown field "stage" in default; did you mean "stages"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			code, out, errs := runCLI(t, data, tt.args...)
			if code == 0 {
				t.Fatalf("exit 0, want an error; stdout %s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not contain %q", errs, w)
				}
			}
			if runs, _ := filepath.Glob(filepath.Join(data, "artifacts", "*")); len(runs) > 0 {
				t.Errorf("the typo left artifacts behind: %v", runs)
			}
		})
	}
}
