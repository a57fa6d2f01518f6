package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
)

// validationDetails is what a validation rule reads of a validation check's
// details, the validation report as JSON: the gates file it was made with
// and the baseline it compared against.
type validationDetails struct {
	Policy       string `json:"policy"`        // the gates file's base name
	PolicyDigest string `json:"policy_digest"` // sha256:… of its bytes
	Baseline     *struct {
		Model   string `json:"model"`
		Version int    `json:"version"`
	} `json:"baseline"`
}

func parseValidationDetails(details string) validationDetails {
	var d validationDetails
	if json.Unmarshal([]byte(details), &d) != nil {
		return validationDetails{} // e.g. a record made before gates were recorded
	}
	return d
}

// checkValidation judges a move of v to target against rule with the
// version's checks. It returns "" when the latest validation check that the
// rule accepts passed, and otherwise why the move is refused, naming the
// gates file and digest the rule requires and what the latest validation
// used instead.
func (s *Service) checkValidation(ctx context.Context, v Version, target string, rule *ValidationRule, checks []Check) (string, error) {
	baseline := 0 // the version the validation must have compared with; 0 for none
	if alias, ok := strings.CutPrefix(rule.Baseline, "@"); ok {
		n, err := s.store.GetAlias(ctx, v.Name, alias)
		switch {
		case err == nil && n != v.Version:
			baseline = n
		case err != nil && ferry.ErrorCode(err) != ferry.ENOTFOUND:
			return "", err
		}
	}
	var changedAt int64
	if s.policy != nil {
		changedAt = s.policy.ChangedAt
	}
	var accepted, latest *Check
	var why string // why the latest validation is not accepted
	for i := range checks {
		c := &checks[i]
		if c.Kind != ValidationCheckKind {
			continue
		}
		reason := rejectValidation(c, rule, baseline, changedAt)
		if latest == nil || c.CreatedAt >= latest.CreatedAt {
			latest, why = c, reason
		}
		if reason == "" && (accepted == nil || c.CreatedAt >= accepted.CreatedAt) {
			accepted = c
		}
	}
	want := "gates file " + rule.Name + " (" + rule.Digest + ")"
	if baseline != 0 {
		want += fmt.Sprintf(" against %s (version %d)", rule.Baseline, baseline)
	}
	msg := fmt.Sprintf("%s version %d cannot move to %s: the policy requires a passing validation made with %s", v.Name, v.Version, target, want)
	run := fmt.Sprintf("ferry validate models:/%s/%d --dataset DATA --policy %s", v.Name, v.Version, rule.Gates)
	if baseline != 0 {
		run += " --baseline " + rule.Baseline
	}
	switch {
	case accepted != nil && accepted.Verdict == "pass":
		return "", nil
	case accepted != nil:
		later := ""
		if latest != accepted {
			later = fmt.Sprintf(" (a later validation %s, which this rule does not accept)", why)
		}
		return fmt.Sprintf("%s, and the latest one says %q%s. Fix the model, validate it again (%s), and try again.", msg, accepted.Verdict, later, run), nil
	case latest != nil:
		return fmt.Sprintf("%s, and there is none: the latest validation %s. Run: %s", msg, why, run), nil
	}
	return fmt.Sprintf("%s, and there is none. Run: %s", msg, run), nil
}

// rejectValidation says why rule does not accept the validation check c, or
// "" when it does.
func rejectValidation(c *Check, rule *ValidationRule, baseline int, changedAt int64) string {
	d := parseValidationDetails(c.Details)
	switch {
	case d.PolicyDigest == "":
		return "was made without a gates file (ferry validate without --policy)"
	case d.PolicyDigest != rule.Digest || d.Policy != rule.Name:
		return fmt.Sprintf("was made with %s (%s)", d.Policy, d.PolicyDigest)
	case c.CreatedAt < changedAt:
		return fmt.Sprintf("was made before the policy last changed (%s)", time.UnixMilli(changedAt).UTC().Format(time.RFC3339))
	case baseline != 0 && d.Baseline == nil:
		return "compared with no baseline"
	case baseline != 0 && (d.Baseline.Model != c.Model || d.Baseline.Version != baseline):
		return fmt.Sprintf("compared with %s version %d", d.Baseline.Model, d.Baseline.Version)
	}
	return ""
}
