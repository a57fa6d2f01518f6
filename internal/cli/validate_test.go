package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestValidateExitCodes validates a registered model: 0 on a pass, 1 when a
// gate fails, 2 when the baseline cannot be loaded; reports are written and
// the verdict is recorded for the promotion rules.
func TestValidateExitCodes(t *testing.T) {
	data := t.TempDir()
	run := trainTinyModel(t, data)
	if code, out, errs := runCLI(t, data, "models", "register", "toy", "--from", "runs:/"+run+"/model"); code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}
	dir := t.TempDir()
	csv := filepath.Join(dir, "holdout.csv")
	body := "x1,x2,y\n"
	for i := range 90 {
		body += strings.Join([]string{strconv.Itoa(i % 17), strconv.Itoa((i * 5) % 13), strconv.Itoa((i % 17) / 9)}, ",") + "\n"
	}
	os.WriteFile(csv, []byte(body), 0o644)
	easy := filepath.Join(dir, "easy.yaml")
	os.WriteFile(easy, []byte("thresholds: {roc_auc: \">= 0.5\"}\n"), 0o644)
	hard := filepath.Join(dir, "hard.yaml")
	os.WriteFile(hard, []byte("thresholds: {roc_auc: \">= 1.01\"}\n"), 0o644)

	out1 := filepath.Join(dir, "pass")
	code, out, errs := runCLI(t, data, "validate", "models:/toy/1", "--dataset", csv, "--policy", easy, "--out", out1)
	if code != 0 || !strings.HasPrefix(out, "PASS: toy version 1") {
		t.Fatalf("passing validation: exit %d\n%s\n%s", code, out, errs)
	}
	for _, f := range []string{"report.json", "report.md", "report.html"} {
		if st, err := os.Stat(filepath.Join(out1, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	code, out, _ = runCLI(t, data, "validate", "models:/toy/1", "--dataset", csv, "--policy", hard, "--out", filepath.Join(dir, "fail"))
	if code != 1 || !strings.HasPrefix(out, "FAIL: toy version 1") || !strings.Contains(out, "roc_auc") {
		t.Fatalf("failing gate: exit %d\n%s", code, out)
	}
	code, _, errs = runCLI(t, data, "validate", "models:/toy/1", "--dataset", csv, "--baseline", "@champion", "--out", filepath.Join(dir, "err"))
	if code != 2 || !strings.Contains(errs, "The baseline @champion cannot be loaded") {
		t.Fatalf("missing baseline: exit %d, %q; want 2", code, errs)
	}
	// The last recorded verdict (fail) is what the promotion rules see.
	code, out, _ = runCLI(t, data, "models", "history", "toy")
	if code != 0 || !strings.Contains(out, "validation:pass") || !strings.Contains(out, "validation:fail") {
		t.Fatalf("history lacks the recorded verdicts:\n%s", out)
	}
}
