package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// Policy says what a version needs before it may take a stage or an alias:
//
//	default:
//	  stages:
//	    Staging:    {validation: {gates: gates.yaml}}
//	    Production: {checks: [review], approval: true}
//	  aliases:
//	    champion:   {validation: {gates: gates.yaml, baseline: "@champion"}, approval: true}
//	models:
//	  churn:
//	    stages:
//	      Production: {approval: true}
//	endpoints:
//	  churn: {approval: true}
//	  "prod-*": {approval: true}
//
// Rules for a model replace the default rule of the same target. Endpoint
// rules say which endpoints' rollouts wait for an approval before their
// last step moves all traffic (see EndpointApproval).
type Policy struct {
	Default   Rules                   `yaml:"default"`
	Models    map[string]Rules        `yaml:"models"`
	Endpoints map[string]EndpointRule `yaml:"endpoints"`
	// ChangedAt is when the policy last changed, in ms since the Unix epoch:
	// the latest modification time of the policy file and the gates files
	// it names (0 when they were not read from files). Validations made
	// before it satisfy no rule.
	ChangedAt int64 `yaml:"-"`
}

// Rules map targets to requirements. Alias rules are keyed by alias name,
// or "*" for every alias.
type Rules struct {
	Stages  map[string]Requirement `yaml:"stages"`
	Aliases map[string]Requirement `yaml:"aliases"`
}

// Requirement is what a move needs.
type Requirement struct {
	// Approval requires an approved request, decided by a principal other
	// than the one who asked.
	Approval bool `yaml:"approval"`
	// Checks lists check kinds whose latest record for the version must have
	// the verdict "pass". The kind "validation" is not allowed here: a
	// validation rule must name its gates (Validation).
	Checks []string `yaml:"checks"`
	// Validation requires a passing validation of the version made with the
	// gates file it names; see ValidationRule.
	Validation *ValidationRule `yaml:"validation"`
}

// EndpointRule is what moving an endpoint's traffic needs.
type EndpointRule struct {
	// Approval makes a rollout wait, before the step that moves the
	// endpoint's traffic to its goal (100%), for an approval by a principal
	// other than the one who started it.
	Approval bool `yaml:"approval"`
}

// EndpointApproval reports whether rollouts of endpoint need an approval
// before their last step. The rule keyed by the endpoint's exact name
// wins; otherwise the first glob key (path.Match syntax, in sorted order)
// that matches it; no match needs none.
func (p *Policy) EndpointApproval(endpoint string) bool {
	if p == nil {
		return false
	}
	if r, ok := p.Endpoints[endpoint]; ok {
		return r.Approval
	}
	keys := make([]string, 0, len(p.Endpoints))
	for k := range p.Endpoints {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ok, _ := path.Match(k, endpoint); ok {
			return p.Endpoints[k].Approval
		}
	}
	return false
}

// ValidationCheckKind is the kind of check a validation is recorded as
// (validation.CheckKind).
const ValidationCheckKind = "validation"

// ValidationRule names the validation a move requires. Only a validation
// check recorded on the version with this gates file — same base name, same
// digest of its bytes — after the policy last changed (Policy.ChangedAt), and
// against the Baseline alias's version when that alias points at one,
// satisfies it; the latest such check must pass. A validation made without a
// gates file satisfies no rule.
type ValidationRule struct {
	// Gates is the gates file, relative to the policy file's directory.
	Gates string `yaml:"gates"`
	// Baseline is an alias written "@champion": while it points at a
	// version of the model, the validation must have compared the candidate
	// with that version. "" requires no comparison.
	Baseline string `yaml:"baseline"`
	// Name is the gates file's base name and Digest "sha256:<hex>" of its
	// bytes, computed when the policy is parsed.
	Name   string `yaml:"-"`
	Digest string `yaml:"-"`
}

// String describes the rule for messages: "gates.yaml (sha256:…) against
// @champion".
func (v *ValidationRule) String() string {
	s := fmt.Sprintf("%s (%s)", v.Name, v.Digest)
	if v.Baseline != "" {
		s += " against " + v.Baseline
	}
	return s
}

// LoadPolicy reads a policy file and the gates files its validation rules
// name; unknown fields, unknown stages and missing gates files are errors.
// ChangedAt is the latest modification time of these files.
func LoadPolicy(path string) (*Policy, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: policy: %w", err)
	}
	p, err := ParsePolicy(raw, path)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil {
		p.ChangedAt = max(p.ChangedAt, fi.ModTime().UnixMilli())
	}
	return p, nil
}

// ParsePolicy parses a policy document. name is the policy file's path: it
// is used in errors, and the gates files of validation rules are read
// relative to its directory (their digests computed, ChangedAt set from
// their modification times).
func ParsePolicy(raw []byte, name string) (*Policy, error) {
	var p Policy
	if err := yamlfile.Decode(raw, name, &p); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "policy %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	gates := gatesReader{dir: filepath.Dir(name), digests: map[string]gatesFile{}}
	check := func(where string, r Rules) error {
		for st, req := range r.Stages {
			if _, err := NormalizeStage(st); err != nil {
				return ferry.Errorf(ferry.EINVALID, "policy %s: %s: %s", name, where, ferry.ErrorMessage(err))
			}
			if err := gates.requirement(&req); err != nil {
				return ferry.Errorf(ferry.EINVALID, "policy %s: %s.stages.%s: %s", name, where, st, err)
			}
			r.Stages[st] = req
		}
		for a, req := range r.Aliases {
			if a != "*" {
				if err := ValidateAlias(a); err != nil {
					return ferry.Errorf(ferry.EINVALID, "policy %s: %s: %s", name, where, ferry.ErrorMessage(err))
				}
			}
			if err := gates.requirement(&req); err != nil {
				return ferry.Errorf(ferry.EINVALID, "policy %s: %s.aliases.%s: %s", name, where, a, err)
			}
			r.Aliases[a] = req
		}
		return nil
	}
	if err := check("default", p.Default); err != nil {
		return nil, err
	}
	for m, r := range p.Models {
		if err := check("models."+m, r); err != nil {
			return nil, err
		}
	}
	for k := range p.Endpoints {
		if _, err := path.Match(k, ""); err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "policy %s: endpoints: %q is not a name or a glob pattern", name, k)
		}
	}
	p.ChangedAt = gates.changedAt
	return &p, nil
}

// gatesReader reads the gates files a policy's validation rules name, each
// once.
type gatesReader struct {
	dir       string
	digests   map[string]gatesFile // by path
	changedAt int64                // the latest modification time read
}

type gatesFile struct{ name, digest string }

// requirement checks req and fills its validation rule's gates name and
// digest.
func (g *gatesReader) requirement(req *Requirement) error {
	for _, c := range req.Checks {
		if c == ValidationCheckKind {
			return errors.New(`"checks: [validation]" does not say which gates a validation must use, so any validation — even one made without gates — would do. Name the gates file instead: validation: {gates: gates.yaml} (optionally with baseline: "@champion")`)
		}
	}
	v := req.Validation
	if v == nil {
		return nil
	}
	if v.Gates == "" {
		return errors.New("validation: name the gates file: validation: {gates: gates.yaml}")
	}
	if v.Baseline != "" {
		alias, ok := strings.CutPrefix(v.Baseline, "@")
		if !ok {
			return fmt.Errorf("validation: baseline %q is not an alias: write it @name, e.g. \"@champion\"", v.Baseline)
		}
		if err := ValidateAlias(alias); err != nil {
			return fmt.Errorf("validation: baseline: %s", ferry.ErrorMessage(err))
		}
	}
	path := v.Gates
	if !filepath.IsAbs(path) {
		path = filepath.Join(g.dir, path)
	}
	f, ok := g.digests[path]
	if !ok {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("validation: gates file %s cannot be read: %w", v.Gates, err)
		}
		if fi, err := os.Stat(path); err == nil {
			g.changedAt = max(g.changedAt, fi.ModTime().UnixMilli())
		}
		sum := sha256.Sum256(raw)
		f = gatesFile{name: filepath.Base(path), digest: "sha256:" + hex.EncodeToString(sum[:])}
		g.digests[path] = f
	}
	v.Name, v.Digest = f.name, f.digest
	return nil
}

// Requirement returns what moving a version of model to target needs; target
// is a stage name or "@alias".
func (p *Policy) Requirement(model, target string) Requirement {
	if p == nil {
		return Requirement{}
	}
	find := func(r Rules) (Requirement, bool) {
		if alias, ok := strings.CutPrefix(target, "@"); ok {
			if req, ok := r.Aliases[alias]; ok {
				return req, true
			}
			req, ok := r.Aliases["*"]
			return req, ok
		}
		for st, req := range r.Stages {
			if strings.EqualFold(st, target) {
				return req, true
			}
		}
		return Requirement{}, false
	}
	if r, ok := p.Models[model]; ok {
		if req, ok := find(r); ok {
			return req
		}
	}
	req, _ := find(p.Default)
	return req
}

// String describes a requirement for messages.
func (r Requirement) String() string {
	var parts []string
	if r.Validation != nil {
		parts = append(parts, "a passing validation with "+r.Validation.String())
	}
	if len(r.Checks) > 0 {
		checks := append([]string(nil), r.Checks...)
		sort.Strings(checks)
		parts = append(parts, "passing "+strings.Join(checks, ", ")+" check(s)")
	}
	if r.Approval {
		parts = append(parts, "an approval by another principal")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " and ")
}
