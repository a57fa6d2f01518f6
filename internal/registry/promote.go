package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
)

// blocked is the error of a promotion the policy does not allow (yet).
func blocked(format string, args ...any) error {
	return ferry.Errorf(ferry.EFORBIDDEN, format, args...)
}

// Promote moves a version to target — a stage ("Production") or an alias
// ("@champion") — when the policy allows it, recording the move in the audit
// trail. When the policy requires an approval that does not exist yet, it
// files a pending request and answers EFORBIDDEN saying who must approve;
// a missing check is EFORBIDDEN naming the check, and a missing validation
// EFORBIDDEN naming the gates file and digest the rule requires (see
// ValidationRule). archiveExisting moves the
// target stage's other versions to Archived.
func (s *Service) Promote(ctx context.Context, name string, version int, target, reason string, archiveExisting bool) (Version, error) {
	target, err := normalizeTarget(target)
	if err != nil {
		return Version{}, err
	}
	v, err := s.store.GetVersion(ctx, name, version)
	if err != nil {
		return Version{}, err
	}
	req := s.policy.Requirement(name, target)
	if len(req.Checks) > 0 || req.Validation != nil {
		checks, err := s.store.ListChecks(ctx, name, version)
		if err != nil {
			return Version{}, err
		}
		if req.Validation != nil {
			msg, err := s.checkValidation(ctx, v, target, req.Validation, checks)
			if err != nil {
				return Version{}, err
			}
			if msg != "" {
				_ = s.store.AppendAudit(ctx, s.event(ctx, ActionPromoteBlocked, name, version, v.Stage, target, msg))
				return Version{}, blocked("%s", msg)
			}
		}
		for _, kind := range req.Checks {
			if verdict := latestVerdict(checks, kind); verdict != "pass" {
				msg := fmt.Sprintf("%s version %d cannot move to %s: the policy requires a passing %q check", name, version, target, kind)
				if verdict == "" {
					msg += ", and there is none. Record one (ferry validate, or ferry models check) and try again."
				} else {
					msg += fmt.Sprintf(", and the latest one says %q. Fix the model, re-check it, and try again.", verdict)
				}
				_ = s.store.AppendAudit(ctx, s.event(ctx, ActionPromoteBlocked, name, version, v.Stage, target, msg))
				return Version{}, blocked("%s", msg)
			}
		}
	}
	var approval *Request
	if req.Approval {
		reqs, err := s.store.FindRequests(ctx, name, version, target)
		if err != nil {
			return Version{}, err
		}
		for i := range reqs {
			r := &reqs[i]
			if r.Status == RequestApproved && r.DecidedBy != r.RequestedBy {
				approval = r
			}
		}
		if approval == nil {
			pending := false
			for _, r := range reqs {
				pending = pending || r.Status == RequestPending
			}
			if !pending {
				r := Request{Model: name, Version: version, Target: target, RequestedBy: auth.PrincipalFrom(ctx), RequestedAt: s.millis(), Reason: reason, Status: RequestPending}
				if _, err := s.store.CreateRequest(ctx, r, s.event(ctx, ActionRequest, name, version, v.Stage, target, reason)); err != nil {
					return Version{}, err
				}
			}
			return Version{}, blocked("%s version %d cannot move to %s yet: the policy requires an approval by a principal other than the requester. A request is pending; ask a reviewer to run: ferry models approve %s %d --to %s",
				name, version, target, name, version, cliTarget(target))
		}
	}
	why := reason
	if approval != nil {
		why = strings.TrimSpace(fmt.Sprintf("%s (approved by %s, request %d)", reason, approval.DecidedBy, approval.ID))
	}
	if alias, ok := strings.CutPrefix(target, "@"); ok {
		if _, err := s.store.SetAlias(ctx, name, alias, version, s.event(ctx, ActionSetAlias, name, version, "", target, why)); err != nil {
			return Version{}, err
		}
		return s.store.GetVersion(ctx, name, version)
	}
	return s.store.TransitionStage(ctx, name, version, target, archiveExisting, s.event(ctx, ActionTransition, name, version, v.Stage, target, why))
}

func latestVerdict(checks []Check, kind string) string {
	verdict := ""
	var at int64 = -1
	for _, c := range checks {
		if c.Kind == kind && c.CreatedAt >= at {
			verdict, at = c.Verdict, c.CreatedAt
		}
	}
	return verdict
}

// normalizeTarget canonicalises a promotion target: a stage, in any case
// ("production" → "Production"), or an alias written "@name". Anything else —
// a bare word such as "prod" included — is EINVALID listing both forms, so a
// typo never creates an alias.
func normalizeTarget(target string) (string, error) {
	if alias, ok := strings.CutPrefix(target, "@"); ok {
		return target, ValidateAlias(alias)
	}
	if st, err := NormalizeStage(target); err == nil {
		return st, nil
	}
	return "", invalid("Promotion target %q is neither a stage (staging, production, archived or none) nor an alias (written @name, e.g. @%s).", target, aliasHint(target))
}

// aliasHint is target as an alias name for the example of an error message.
func aliasHint(target string) string {
	if ValidateAlias(target) == nil {
		return target
	}
	return "champion"
}

// cliTarget writes a normalised target as the command line takes it:
// "production", "@champion".
func cliTarget(target string) string {
	if strings.HasPrefix(target, "@") {
		return target
	}
	return strings.ToLower(target)
}

// Decide approves or rejects the pending request to move a version to target.
// Approving one's own request is EFORBIDDEN.
func (s *Service) Decide(ctx context.Context, name string, version int, target string, approve bool, comment string) (Request, error) {
	target, err := normalizeTarget(target)
	if err != nil {
		return Request{}, err
	}
	reqs, err := s.store.FindRequests(ctx, name, version, target)
	if err != nil {
		return Request{}, err
	}
	var pending *Request
	for i := range reqs {
		if reqs[i].Status == RequestPending {
			pending = &reqs[i]
		}
	}
	if pending == nil {
		return Request{}, ferry.Errorf(ferry.ENOTFOUND, "There is no pending request to move %s version %d to %s; it is filed when someone runs: ferry models promote %s %d --to %s",
			name, version, target, name, version, cliTarget(target))
	}
	principal := auth.PrincipalFrom(ctx)
	status, action := RequestRejected, ActionReject
	if approve {
		status, action = RequestApproved, ActionApprove
		if principal == pending.RequestedBy {
			_ = s.store.AppendAudit(ctx, s.event(ctx, ActionPromoteBlocked, name, version, "", target, "self-approval refused"))
			return Request{}, blocked("%s requested this promotion and cannot approve it: the policy requires an approval by another principal.", principal)
		}
	}
	return s.store.DecideRequest(ctx, pending.ID, status, principal, comment, s.millis(), s.event(ctx, action, name, version, "", target, comment))
}

// RecordCheck records the verdict of a check on a version (e.g. a
// validation); promotion rules read the latest one of each kind.
func (s *Service) RecordCheck(ctx context.Context, name string, version int, kind, verdict, details string) (Check, error) {
	if kind == "" || (verdict != "pass" && verdict != "fail") {
		return Check{}, invalid("A check needs a kind and a verdict of pass or fail (got kind %q, verdict %q).", kind, verdict)
	}
	if _, err := s.store.GetVersion(ctx, name, version); err != nil {
		return Check{}, err
	}
	c := Check{Model: name, Version: version, Kind: kind, Verdict: verdict, Details: details, CreatedBy: auth.PrincipalFrom(ctx), CreatedAt: s.millis()}
	return s.store.AddCheck(ctx, c, s.event(ctx, ActionRecordCheck, name, version, "", kind+":"+verdict, ""))
}

// SetAlias points an alias at a version, under the policy's rules for it.
func (s *Service) SetAlias(ctx context.Context, name, alias string, version int, reason string) (Version, error) {
	return s.Promote(ctx, name, version, "@"+alias, reason, false)
}

// DeleteAlias removes an alias.
func (s *Service) DeleteAlias(ctx context.Context, name, alias string) error {
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	return s.store.DeleteAlias(ctx, name, alias, s.event(ctx, ActionDeleteAlias, name, 0, "@"+alias, "", ""))
}

// EndpointApproval reports whether the policy makes rollouts of endpoint
// wait for an approval by another principal before their last step
// (Policy.EndpointApproval); deploy.Service consumes it.
func (s *Service) EndpointApproval(endpoint string) bool {
	return s.policy.EndpointApproval(endpoint)
}
