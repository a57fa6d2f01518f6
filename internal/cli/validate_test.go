package cli

import (
	"crypto/sha256"
	"encoding/hex"
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

// TestValidateCannotBeBypassed: under a policy whose @champion rule names
// gates.yaml, a version that failed those gates and was validated again
// without --policy (or with easier gates) cannot take @champion; the refusal
// names the gates file and its digest. Once it passes gates.yaml itself, it
// can (issue 10.5).
func TestValidateCannotBeBypassed(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	gates := filepath.Join(dir, "gates.yaml")
	hard := []byte("thresholds: {roc_auc: \">= 1.01\"}\n")
	must(t, os.WriteFile(gates, hard, 0o644))
	easy := filepath.Join(dir, "easy.yaml")
	must(t, os.WriteFile(easy, []byte("thresholds: {roc_auc: \">= 0.5\"}\n"), 0o644))
	policy := filepath.Join(dir, "policy.yaml")
	must(t, os.WriteFile(policy, []byte("default:\n  aliases:\n    champion: {validation: {gates: gates.yaml}}\n"), 0o644))
	cfg := filepath.Join(dir, "ferry.yaml")
	must(t, os.WriteFile(cfg, []byte("policy_file: "+policy+"\n"), 0o644))
	ferry := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, data, append([]string{"--config", cfg}, args...)...)
	}
	run := trainTinyModel(t, data, "--config", cfg)
	if code, out, errs := ferry("models", "register", "toy", "--from", "runs:/"+run+"/model"); code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}
	csv := filepath.Join(dir, "holdout.csv")
	body := "x1,x2,y\n"
	for i := range 90 {
		body += strings.Join([]string{strconv.Itoa(i % 17), strconv.Itoa((i * 5) % 13), strconv.Itoa((i % 17) / 9)}, ",") + "\n"
	}
	must(t, os.WriteFile(csv, []byte(body), 0o644))
	sum := sha256.Sum256(hard)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	code, out, _ := ferry("validate", "models:/toy/1", "--dataset", csv, "--policy", gates, "--out", filepath.Join(dir, "r1"))
	if code != 1 || !strings.HasPrefix(out, "FAIL: toy version 1") || !strings.Contains(out, "gates: gates.yaml ("+digest+")") {
		t.Fatalf("validation with the policy's gates: exit %d\n%s", code, out)
	}
	code, out, _ = ferry("validate", "models:/toy/1", "--dataset", csv, "--out", filepath.Join(dir, "r2"))
	if code != 0 || !strings.HasPrefix(out, "PASS: toy version 1") || !strings.Contains(out, "no promotion rule accepts this record") {
		t.Fatalf("validation without --policy: exit %d\n%s", code, out)
	}
	code, out, _ = ferry("validate", "models:/toy/1", "--dataset", csv, "--policy", easy, "--out", filepath.Join(dir, "r3"))
	if code != 0 || !strings.HasPrefix(out, "PASS: toy version 1") {
		t.Fatalf("validation with easier gates: exit %d\n%s", code, out)
	}
	code, out, errs := ferry("models", "promote", "toy", "1", "--to", "@champion")
	if code != 1 || !strings.Contains(errs, "requires a passing validation made with gates file gates.yaml ("+digest+")") ||
		!strings.Contains(errs, `the latest one says "fail"`) {
		t.Fatalf("promotion after the bypass: exit %d\n%s%s", code, out, errs)
	}

	// The gates file is what counts, not its path: once gates.yaml passes,
	// the version may take @champion.
	must(t, os.WriteFile(gates, []byte("thresholds: {roc_auc: \">= 0.5\"}\n"), 0o644))
	if code, out, _ = ferry("validate", "models:/toy/1", "--dataset", csv, "--policy", gates, "--out", filepath.Join(dir, "r4")); code != 0 {
		t.Fatalf("validation with the new gates: exit %d\n%s", code, out)
	}
	if code, out, errs = ferry("models", "promote", "toy", "1", "--to", "@champion"); code != 0 {
		t.Fatalf("promotion after a passing validation: exit %d\n%s%s", code, out, errs)
	}
}
