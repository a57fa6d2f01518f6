package registry_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/registry"
)

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		mention []string
	}{
		{"unknown top-level field", "defaults:\n  stages: {}\n", []string{"policy.yaml", "defaults"}},
		{"unknown requirement field", "default:\n  stages:\n    Production: {approvals: 2}\n", []string{"approvals"}},
		{"unknown rules field", "default:\n  stage:\n    Production: {approval: true}\n", []string{"stage"}},
		{"unknown stage", "default:\n  stages:\n    Prod: {approval: true}\n", []string{"default", "Prod"}},
		{"unknown stage in a model's rules", "models:\n  churn:\n    stages:\n      Live: {}\n", []string{"models.churn", "Live"}},
		{"reserved alias", "default:\n  aliases:\n    latest: {approval: true}\n", []string{"latest"}},
		{"version-like alias", "models:\n  churn:\n    aliases:\n      v2: {}\n", []string{"models.churn", "v2"}},
		{"wrong type", "default:\n  stages:\n    Production: {approval: sure}\n", []string{"policy.yaml"}},
		{"checks not a list", "default:\n  stages:\n    Production: {checks: validation}\n", []string{"policy.yaml"}},
		{"not yaml", "default: [\n", []string{"policy.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := registry.ParsePolicy([]byte(tt.doc), "policy.yaml")
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Fatalf("ParsePolicy = %+v, %v; want EINVALID", p, err)
			}
			for _, m := range tt.mention {
				if msg := ferry.ErrorMessage(err); !strings.Contains(msg, m) {
					t.Fatalf("message %q does not mention %q", msg, m)
				}
			}
		})
	}
}

func TestPolicyRequirement(t *testing.T) {
	p, err := registry.ParsePolicy([]byte(`
default:
  stages:
    staging:    {checks: [review]}
    Production: {checks: [review], approval: true}
  aliases:
    "*":      {approval: true}
    shadow:   {}
    champion: {checks: [review], approval: true}
models:
  churn:
    stages:
      Production: {approval: true}
    aliases:
      "*": {checks: [smoke]}
  fraud:
    aliases:
      champion: {approval: true}
`), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		model, target string
		approval      bool
		checks        string
	}{
		{"default stage, canonical name", "other", "Production", true, "review"},
		{"stage names are case-insensitive", "other", "Staging", false, "review"},
		{"stage without a rule", "other", "Archived", false, ""},
		{"specific alias beats *", "other", "@champion", true, "review"},
		{"empty rule beats *", "other", "@shadow", false, ""},
		{"* covers other aliases", "other", "@canary", true, ""},
		{"model rule replaces the default one", "churn", "Production", true, ""},
		{"model without a rule for the target falls back", "churn", "Staging", false, "review"},
		{"model * beats default specific alias", "churn", "@champion", false, "smoke"},
		{"model specific alias", "fraud", "@champion", true, ""},
		{"model falls back to default *", "fraud", "@canary", true, ""},
		{"model falls back to default stages", "fraud", "Production", true, "review"},
		{"a bare name is not an alias", "other", "champion", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Requirement(tt.model, tt.target)
			if r.Approval != tt.approval || strings.Join(r.Checks, ",") != tt.checks {
				t.Fatalf("Requirement(%s, %s) = %+v, want approval=%v checks=%q", tt.model, tt.target, r, tt.approval, tt.checks)
			}
		})
	}
	t.Run("nil policy requires nothing", func(t *testing.T) {
		var none *registry.Policy
		if r := none.Requirement("churn", "Production"); r.Approval || len(r.Checks) != 0 {
			t.Fatalf("nil policy: %+v", r)
		}
	})
	t.Run("empty document", func(t *testing.T) {
		empty, err := registry.ParsePolicy(nil, "empty.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if r := empty.Requirement("churn", "Production"); r.Approval || len(r.Checks) != 0 {
			t.Fatalf("empty policy: %+v", r)
		}
	})
}

func TestRequirementString(t *testing.T) {
	tests := []struct {
		r    registry.Requirement
		want string
	}{
		{registry.Requirement{}, "nothing"},
		{registry.Requirement{Approval: true}, "an approval by another principal"},
		{registry.Requirement{Checks: []string{"validation", "bias"}}, "passing bias, validation check(s)"},
		{registry.Requirement{Checks: []string{"review"}, Approval: true}, "passing review check(s) and an approval by another principal"},
		{registry.Requirement{Validation: &registry.ValidationRule{Gates: "g/gates.yaml", Baseline: "@champion", Name: "gates.yaml", Digest: "sha256:ab"}, Approval: true},
			"a passing validation with gates.yaml (sha256:ab) against @champion and an approval by another principal"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Fatalf("String() = %q", got)
			}
		})
	}
}

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(good, []byte("default:\n  stages:\n    Production: {approval: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("default:\n  stages:\n    Prod: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		ok   bool
	}{
		{"good", good, true},
		{"unknown stage names the file", bad, false},
		{"missing file", filepath.Join(dir, "nope.yaml"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := registry.LoadPolicy(tt.path)
			if tt.ok {
				if err != nil || !p.Requirement("m", "Production").Approval {
					t.Fatalf("LoadPolicy = %+v, %v", p, err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tt.path == bad && !strings.Contains(ferry.ErrorMessage(err), tt.path) {
				t.Fatalf("message %q does not name the file", ferry.ErrorMessage(err))
			}
		})
	}
}

// TestValidationRuleParse: a validation rule names its gates file, whose
// name and digest are read relative to the policy file; "checks:
// [validation]", which names no gates, is refused (issue 10.5).
func TestValidationRuleParse(t *testing.T) {
	dir := t.TempDir()
	gates := []byte("thresholds: {roc_auc: \">= 0.6\"}\n")
	if err := os.MkdirAll(filepath.Join(dir, "ci"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ci", "gates.yaml"), gates, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(gates)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	write := func(t *testing.T, doc string) string {
		t.Helper()
		path := filepath.Join(dir, "policy.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("gates resolved next to the policy", func(t *testing.T) {
		p, err := registry.LoadPolicy(write(t, "default:\n  aliases:\n    champion: {validation: {gates: ci/gates.yaml, baseline: \"@champion\"}, approval: true}\n"))
		if err != nil {
			t.Fatal(err)
		}
		r := p.Requirement("churn", "@champion")
		if v := r.Validation; v == nil || v.Name != "gates.yaml" || v.Digest != digest || v.Baseline != "@champion" || !r.Approval {
			t.Fatalf("requirement = %+v (validation %+v), want gates.yaml %s", r, r.Validation, digest)
		}
		if p.ChangedAt == 0 || p.ChangedAt > time.Now().UnixMilli() {
			t.Fatalf("ChangedAt = %d", p.ChangedAt)
		}
	})
	errs := []struct {
		name, doc string
		mention   []string
	}{
		{"checks: [validation]", "default:\n  stages:\n    Staging: {checks: [review, validation]}\n", []string{"default.stages.Staging", "checks: [validation]", "validation: {gates: gates.yaml}"}},
		{"checks: [validation] on an alias", "models:\n  churn:\n    aliases:\n      champion: {checks: [validation]}\n", []string{"models.churn.aliases.champion", "gates"}},
		{"no gates file named", "default:\n  stages:\n    Staging: {validation: {baseline: \"@champion\"}}\n", []string{"name the gates file"}},
		{"missing gates file", "default:\n  stages:\n    Staging: {validation: {gates: nope.yaml}}\n", []string{"nope.yaml", "cannot be read"}},
		{"baseline not an alias", "default:\n  stages:\n    Staging: {validation: {gates: ci/gates.yaml, baseline: champion}}\n", []string{"@name"}},
		{"unknown validation field", "default:\n  stages:\n    Staging: {validation: {gates: ci/gates.yaml, digest: abc}}\n", []string{"digest"}},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			p, err := registry.LoadPolicy(write(t, tt.doc))
			if ferry.ErrorCode(err) != ferry.EINVALID {
				t.Fatalf("LoadPolicy = %+v, %v; want EINVALID", p, err)
			}
			for _, m := range tt.mention {
				if msg := ferry.ErrorMessage(err); !strings.Contains(msg, m) {
					t.Fatalf("message %q does not mention %q", msg, m)
				}
			}
		})
	}
}

func TestEndpointApproval(t *testing.T) {
	p, err := registry.ParsePolicy([]byte("endpoints:\n  churn: {approval: true}\n  \"prod-*\": {approval: true}\n  prod-lab: {approval: false}\n"), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		endpoint string
		want     bool
	}{{"churn", true}, {"prod-fraud", true}, {"prod-lab", false}, {"staging", false}} {
		t.Run(tt.endpoint, func(t *testing.T) {
			if got := p.EndpointApproval(tt.endpoint); got != tt.want {
				t.Errorf("EndpointApproval(%s) = %v, want %v", tt.endpoint, got, tt.want)
			}
		})
	}
	var none *registry.Policy
	if none.EndpointApproval("churn") {
		t.Error("no policy requires an approval")
	}
	if _, err := registry.ParsePolicy([]byte("endpoints:\n  \"[\": {approval: true}\n"), "policy.yaml"); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("a bad glob: %v", err)
	}
	if _, err := registry.ParsePolicy([]byte("endpoints:\n  churn: {aproval: true}\n"), "policy.yaml"); err == nil || !strings.Contains(err.Error(), "approval") {
		t.Errorf("a typo: %v", err)
	}
}
