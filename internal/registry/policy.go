package registry

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/yamlfile"
)

// Policy says what a version needs before it may take a stage or an alias:
//
//	default:
//	  stages:
//	    Staging:    {checks: [validation]}
//	    Production: {checks: [validation], approval: true}
//	  aliases:
//	    champion:   {approval: true}
//	models:
//	  churn:
//	    stages:
//	      Production: {approval: true}
//
// Rules for a model replace the default rule of the same target.
type Policy struct {
	Default Rules            `yaml:"default"`
	Models  map[string]Rules `yaml:"models"`
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
	// the verdict "pass".
	Checks []string `yaml:"checks"`
}

// LoadPolicy reads a policy file; unknown fields and unknown stages are errors.
func LoadPolicy(path string) (*Policy, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: policy: %w", err)
	}
	return ParsePolicy(raw, path)
}

// ParsePolicy parses a policy document; name is used in errors.
func ParsePolicy(raw []byte, name string) (*Policy, error) {
	var p Policy
	if err := yamlfile.Decode(raw, name, &p); err != nil {
		return nil, ferry.Errorf(ferry.EINVALID, "policy %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	check := func(where string, r Rules) error {
		for st := range r.Stages {
			if _, err := NormalizeStage(st); err != nil {
				return ferry.Errorf(ferry.EINVALID, "policy %s: %s: %s", name, where, ferry.ErrorMessage(err))
			}
		}
		for a := range r.Aliases {
			if a == "*" {
				continue
			}
			if err := ValidateAlias(a); err != nil {
				return ferry.Errorf(ferry.EINVALID, "policy %s: %s: %s", name, where, ferry.ErrorMessage(err))
			}
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
	return &p, nil
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
