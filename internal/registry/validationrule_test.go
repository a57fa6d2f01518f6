package registry_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/registry"
	"github.com/ferry-ml/ferry/internal/store/sqlite"
)

// gatesPolicy writes gates.yaml and a policy whose @champion rule names it
// into a directory, dated before the test clock, and loads the policy. It
// returns the policy and the gates file's digest.
func gatesPolicy(t *testing.T, rule string) (*registry.Policy, string) {
	t.Helper()
	dir := t.TempDir()
	gates := []byte("thresholds: {roc_auc: \">= 0.7\"}\n")
	policy := filepath.Join(dir, "policy.yaml")
	must(t, os.WriteFile(filepath.Join(dir, "gates.yaml"), gates, 0o644))
	must(t, os.WriteFile(policy, []byte("default:\n  aliases:\n    champion: "+rule+"\n"), 0o644))
	before := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // the env's clock starts in March
	for _, f := range []string{"gates.yaml", "policy.yaml"} {
		must(t, os.Chtimes(filepath.Join(dir, f), before, before))
	}
	p, err := registry.LoadPolicy(policy)
	must(t, err)
	sum := sha256.Sum256(gates)
	return p, "sha256:" + hex.EncodeToString(sum[:])
}

// validationRecord is the details a validation records (the part of
// validation.Report the registry reads).
func validationRecord(t *testing.T, gates, digest string, baseline int) string {
	t.Helper()
	rec := map[string]any{"model": "churn", "verdict": "whatever", "metrics": map[string]float64{"roc_auc": 0.8}}
	if gates != "" {
		rec["policy"], rec["policy_digest"] = gates, digest
	}
	if baseline != 0 {
		rec["baseline"] = map[string]any{"model": "churn", "version": baseline, "uri": "models:/churn@champion"}
	}
	b, err := json.Marshal(rec)
	must(t, err)
	return string(b)
}

// TestValidationCannotBeBypassed: a version failed its gates, was validated
// again without them, and must still not take @champion; only a passing
// validation made with the gates file the rule names — same name, same
// digest — lets it (issue 10.5).
func TestValidationCannotBeBypassed(t *testing.T) {
	policy, digest := gatesPolicy(t, `{validation: {gates: gates.yaml, baseline: "@champion"}}`)
	e := newEnv(t, sqlite.SynchronousNormal, policy)
	ctx, svc := e.ctx, e.svc
	run, _ := e.runWithModel(pkg{})
	e.register("alice", "churn", run)
	other := "sha256:" + strings.Repeat("0", 64)
	steps := []struct {
		name          string
		verdict       string // "" records nothing
		gates, digest string
		baseline      int
		allowed       bool
		mention       []string
	}{
		{name: "no validation", mention: []string{"gates file gates.yaml (" + digest + ")", "there is none", "--policy gates.yaml"}},
		{name: "failed with the gates", verdict: "fail", gates: "gates.yaml", digest: digest, mention: []string{`the latest one says "fail"`, digest}},
		{name: "passed without gates: the bypass", verdict: "pass", mention: []string{"gates file gates.yaml (" + digest + ")", "made without a gates file", `the latest one says "fail"`}},
		{name: "passed with other gates", verdict: "pass", gates: "lenient.yaml", digest: other, mention: []string{"gates.yaml (" + digest + ")", `the latest one says "fail"`}},
		{name: "passed with an edited gates file", verdict: "pass", gates: "gates.yaml", digest: other, mention: []string{`the latest one says "fail"`}},
		{name: "passed with the gates", verdict: "pass", gates: "gates.yaml", digest: digest, allowed: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.verdict != "" {
				_, err := svc.RecordCheck(auth.WithPrincipal(ctx, "ci"), "churn", 1, registry.ValidationCheckKind, st.verdict, validationRecord(t, st.gates, st.digest, st.baseline))
				must(t, err)
			}
			_, err := svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "champion", 1, "")
			if st.allowed {
				must(t, err)
				return
			}
			wantCode(t, err, ferry.EFORBIDDEN)
			for _, m := range st.mention {
				if msg := ferry.ErrorMessage(err); !strings.Contains(msg, m) {
					t.Fatalf("message %q does not mention %q", msg, m)
				}
			}
		})
	}

	// Once @champion points at version 1, a challenger must have been
	// compared with it.
	run2, _ := e.runWithModel(pkg{weights: "[1]"})
	e.register("alice", "churn", run2)
	challenger := []struct {
		name     string
		baseline int
		allowed  bool
		mention  string
	}{
		{"passed with the gates but no baseline", 0, false, "compared with no baseline"},
		{"passed against another version", 2, false, "compared with churn version 2"},
		{"passed against the champion", 1, true, ""},
	}
	for _, st := range challenger {
		t.Run(st.name, func(t *testing.T) {
			_, err := svc.RecordCheck(auth.WithPrincipal(ctx, "ci"), "churn", 2, registry.ValidationCheckKind, "pass", validationRecord(t, "gates.yaml", digest, st.baseline))
			must(t, err)
			_, err = svc.SetAlias(auth.WithPrincipal(ctx, "alice"), "churn", "champion", 2, "")
			if st.allowed {
				must(t, err)
				return
			}
			wantCode(t, err, ferry.EFORBIDDEN)
			if msg := ferry.ErrorMessage(err); !strings.Contains(msg, "against @champion (version 1)") || !strings.Contains(msg, st.mention) {
				t.Fatalf("message %q does not name the baseline and %q", msg, st.mention)
			}
		})
	}
}

// TestValidationBeforePolicyChange: a validation made before the policy (or
// its gates file) last changed satisfies no rule.
func TestValidationBeforePolicyChange(t *testing.T) {
	policy, digest := gatesPolicy(t, `{validation: {gates: gates.yaml}}`)
	policy.ChangedAt = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).UnixMilli() // after every record of the env's clock
	e := newEnv(t, sqlite.SynchronousNormal, policy)
	run, _ := e.runWithModel(pkg{})
	e.register("alice", "churn", run)
	_, err := e.svc.RecordCheck(auth.WithPrincipal(e.ctx, "ci"), "churn", 1, registry.ValidationCheckKind, "pass", validationRecord(t, "gates.yaml", digest, 0))
	must(t, err)
	_, err = e.svc.SetAlias(auth.WithPrincipal(e.ctx, "alice"), "churn", "champion", 1, "")
	wantCode(t, err, ferry.EFORBIDDEN)
	if msg := ferry.ErrorMessage(err); !strings.Contains(msg, "before the policy last changed (2026-06-01T00:00:00Z)") {
		t.Fatalf("message %q", msg)
	}
}
