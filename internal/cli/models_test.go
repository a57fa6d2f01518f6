package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// trainTinyModel trains a small model in data and returns its run ID; the
// run holds the model package under the artifact path "model".
func trainTinyModel(t *testing.T, data string, extra ...string) string {
	t.Helper()
	csv := filepath.Join(t.TempDir(), "toy.csv")
	body := "x1,x2,y\n"
	for i := range 120 {
		body += strconv.Itoa(i%17) + "," + strconv.Itoa((i*7)%13) + "," + strconv.Itoa((i%17)/9) + "\n"
	}
	if err := os.WriteFile(csv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"train", "--dataset", csv, "--target", "y", "--trainer", "logistic", "--seed", "1", "-o", "json"}, extra...)
	code, out, errs := runCLI(t, data, args...)
	if code != 0 {
		t.Fatalf("train: %d %s %s", code, out, errs)
	}
	var res struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.RunID == "" {
		t.Fatalf("train output: %v %s", err, out)
	}
	return res.RunID
}

// runCLIEnv is runCLI with extra environment variables.
func runCLIEnv(t *testing.T, data string, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: append([]string{"HOME=" + t.TempDir()}, environ...)}
	code := Run(context.Background(), append([]string{"--data", data}, args...), env)
	return code, out.String(), errb.String()
}

// TestModelsPromotionRoundTrip registers a trained model, aliases it, and
// promotes it to Production under a policy that requires another
// principal's approval: blocked at first, self-approval refused, approved by
// a reviewer, promoted; the history lists every step with who did it.
func TestModelsPromotionRoundTrip(t *testing.T) {
	data := t.TempDir()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("default:\n  stages:\n    Production: {approval: true}\n  aliases:\n    champion: {approval: true}\n"), 0o644)
	cfg := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(cfg, []byte("policy_file: "+policy+"\n"), 0o644)
	models := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, data, append([]string{"--config", cfg, "models"}, args...)...)
	}
	run := trainTinyModel(t, data, "--config", cfg)

	code, out, errs := models("register", "churn", "--from", "runs:/"+run+"/model", "--description", "logistic baseline", "--as", "ana")
	if code != 0 || !strings.Contains(out, "Registered churn version 1 (models:/churn/1) from runs:/"+run+"/model, digest sha256:") ||
		!strings.Contains(out, "Next: ferry models promote churn 1 --to staging") {
		t.Fatalf("register: %d %q %q", code, out, errs)
	}
	// The same source again is a new version, as in MLflow (issue 10.1).
	code, out, errs = models("register", "churn", "--from", "runs:/"+run+"/model", "--as", "ana")
	if code != 0 || !strings.Contains(out, "Registered churn version 2 (models:/churn/2) from runs:/"+run+"/model") {
		t.Fatalf("register twice: %d %q %q", code, out, errs)
	}

	code, out, errs = models("alias", "churn", "challenger", "1", "--as", "ana", "--reason", "first candidate")
	if code != 0 || out != "models:/churn@challenger now points at version 1.\n" {
		t.Fatalf("alias: %d %q %q", code, out, errs)
	}

	// Blocked: the policy wants another principal's approval.
	code, out, errs = models("promote", "churn", "1", "--to", "production", "--as", "ana")
	if code != 1 || out != "" || !strings.Contains(errs, "churn version 1 cannot move to Production yet: the policy requires an approval by a principal other than the requester") ||
		!strings.Contains(errs, "ask a reviewer to run: ferry models approve churn 1 --to production") {
		t.Fatalf("blocked promote: %d %q %q", code, out, errs)
	}
	code, _, errs = models("approve", "churn", "1", "--to", "production", "--as", "ana")
	if code != 1 || !strings.Contains(errs, "ana requested this promotion and cannot approve it") {
		t.Fatalf("self-approval: %d %q", code, errs)
	}
	// FERRY_PRINCIPAL names the reviewer when --as is absent.
	code, out, errs = runCLIEnv(t, data, []string{"FERRY_PRINCIPAL=bo"}, "--config", cfg, "models", "approve", "churn", "1", "--to", "production", "--comment", "looks good")
	if code != 0 || !strings.Contains(out, "Approved the request by ana to move churn version 1 to Production.") ||
		!strings.Contains(out, "Now promote it with: ferry models promote churn 1 --to production") {
		t.Fatalf("approve: %d %q %q", code, out, errs)
	}
	code, out, errs = models("promote", "churn", "1", "--to", "production", "--as", "ana", "--reason", "beats the baseline")
	if code != 0 || !strings.Contains(out, "churn version 1 is now in Production.") {
		t.Fatalf("promote after approval: %d %q %q", code, out, errs)
	}
	// @champion has its own rule.
	code, _, errs = models("promote", "churn", "1", "--to", "@champion", "--as", "ana")
	if code != 1 || !strings.Contains(errs, "cannot move to @champion yet") {
		t.Fatalf("champion: %d %q", code, errs)
	}
	code, out, _ = models("reject", "churn", "1", "--to", "@champion", "--as", "bo", "--comment", "not yet")
	if code != 0 || !strings.Contains(out, "Rejected the request by ana to move churn version 1 to @champion.") {
		t.Fatalf("reject: %d %q", code, out)
	}

	code, out, errs = models("history", "churn", "-o", "json")
	if code != 0 {
		t.Fatalf("history: %d %q", code, errs)
	}
	var events []struct {
		Principal, Action, To, Reason string
		Version                       int
	}
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("history json: %v %s", err, out)
	}
	var steps []string
	for _, e := range events {
		steps = append(steps, e.Principal+" "+e.Action+" "+strings.SplitN(e.To, ":", 2)[0])
	}
	want := []string{
		"ana create_model churn", "ana create_version sha256", "ana create_version sha256", "ana set_alias @challenger", "ana request_promotion Production",
		"ana promotion_blocked Production", "bo approve Production", "ana transition_stage Production",
		"ana request_promotion @champion", "bo reject @champion",
	}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Fatalf("history:\n  %s\nwant\n  %s", strings.Join(steps, "\n  "), strings.Join(want, "\n  "))
	}
	if events[7].Reason != "beats the baseline (approved by bo, request 1)" {
		t.Errorf("transition reason %q", events[7].Reason)
	}
	code, out, _ = models("history", "churn")
	for _, s := range []string{"WHO", "promotion_blocked", "self-approval refused", "looks good", "first candidate"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Fatalf("history table lacks %q:\n%s", s, out)
		}
	}

	code, out, _ = models("lineage", "models:/churn@challenger")
	for _, s := range []string{"models:/churn/1 (Production)", "Run:", run, "Dataset:", "toy sha256:", "Commit:", "ferry runs get " + run} {
		if code != 0 || !strings.Contains(out, s) {
			t.Fatalf("lineage lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = models("list")
	if code != 0 || !strings.Contains(out, "churn") || !strings.Contains(out, "v1 Production") || !strings.Contains(out, "@challenger=v1") {
		t.Fatalf("list:\n%s", out)
	}
	code, out, _ = models("get", "churn", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "name: churn") || !strings.Contains(out, "challenger: 1") {
		t.Fatalf("get yaml:\n%s", out)
	}
	code, out, _ = models("versions", "churn")
	if code != 0 || !strings.Contains(out, "Production") || !strings.Contains(out, "@challenger") || !strings.Contains(out, "ana") {
		t.Fatalf("versions:\n%s", out)
	}
	code, out, _ = models("check", "churn", "1", "--verdict", "pass", "--details", `{"auc": 0.9}`)
	if code != 0 || out != "Recorded a validation check of churn version 1: pass.\n" {
		t.Fatalf("check: %d %q", code, out)
	}
	code, out, _ = models("alias", "churn", "challenger", "--delete")
	if code != 0 || !strings.Contains(out, "Deleted alias @challenger of churn") {
		t.Fatalf("delete alias: %d %q", code, out)
	}
	// The promoted version is packaged and the bundle verifies.
	bundle := filepath.Join(t.TempDir(), "churn.tar.gz")
	if code, out, errs := models("package", "models:/churn/Production", "-O", bundle); code != 0 {
		t.Fatalf("package: %d %s %s", code, out, errs)
	}
	if code, out, errs := models("verify", bundle); code != 0 || !strings.Contains(out, "every file matches its digest") {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
}

func TestModelsErrors(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"promote without target", []string{"models", "promote", "churn", "1"}, 2, "say where to with --to"},
		{"version that is not a number", []string{"models", "promote", "churn", "one", "--to", "staging"}, 2, `VERSION must be a version number such as 3, not "one"`},
		{"register without source", []string{"models", "register", "churn"}, 2, "--from runs:/<run_id>/model"},
		{"alias without version", []string{"models", "alias", "churn", "champion"}, 2, "alias takes 3 argument(s): NAME ALIAS VERSION (got 2)"},
		{"lineage of a run URI", []string{"models", "lineage", "runs:/abc/model"}, 2, "MODEL_URI is models:/NAME/VERSION"},
		{"bad details", []string{"models", "check", "churn", "1", "--verdict", "pass", "--details", "{"}, 2, "--details must be JSON"},
		{"unknown model", []string{"models", "get", "nope"}, 1, "Registered Model with name=nope not found"},
		{"unknown model's history", []string{"models", "history", "nope"}, 1, "Registered Model with name=nope not found"},
		{"unknown run", []string{"models", "register", "churn", "--from", "runs:/0123456789abcdef0123456789abcdef/model"}, 1, "Run with id=0123456789abcdef0123456789abcdef not found"},
		{"approve without a request", []string{"models", "approve", "churn", "1", "--to", "production"}, 1, "There is no pending request to move churn version 1 to Production"},
		{"invalid alias", []string{"models", "alias", "churn", "latest", "1"}, 1, "Alias name 'latest' is reserved"},
		{"unknown version in a URI", []string{"models", "lineage", "models:/churn/3"}, 1, "not found"},
		// A typo is not an alias (issue 10.4).
		{"promote to prod", []string{"models", "promote", "churn", "1", "--to", "prod"}, 1, `Promotion target "prod" is neither a stage (staging, production, archived or none) nor an alias (written @name, e.g. @prod)`},
		{"approve to champion", []string{"models", "approve", "churn", "1", "--to", "champion"}, 1, "nor an alias (written @name"},
		{"a run ID prefix too short", []string{"models", "register", "churn", "--from", "runs:/0123456/model"}, 1, "at least 8 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, data, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tt.code, tt.want)
			}
		})
	}
}

func TestModelsHelp(t *testing.T) {
	code, out, _ := runCLI(t, t.TempDir(), "models", "--help")
	for _, s := range []string{"X-Ferry-Principal", "--as", "promote", "approve", "lineage", "history", "ferry models register churn --from runs:/<run_id>/model"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Fatalf("models --help lacks %q:\n%s", s, out)
		}
	}
}
