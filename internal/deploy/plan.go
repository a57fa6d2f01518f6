package deploy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ferry-ml/ferry"
)

// State is a set of endpoints and deployments: what the files declare, or
// what the store holds.
type State struct {
	Endpoints   []Endpoint   `json:"endpoints"`
	Deployments []Deployment `json:"deployments"`
}

// Actions of a Change.
const (
	Create = "create"
	Update = "update"
	Delete = "delete"
)

// Kinds of resource a Change is about.
const (
	KindEndpoint   = "endpoint"
	KindDeployment = "deployment"
)

// FieldDiff is one changed field, its values rendered as JSON; "" is absent.
type FieldDiff struct {
	Field string `json:"field"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
}

// Change is one step of a plan. Address is the endpoint's name or
// ENDPOINT/DEPLOYMENT. Endpoint or Deployment is the desired resource
// (the current one for a delete).
type Change struct {
	Action     string      `json:"action"`
	Kind       string      `json:"kind"`
	Address    string      `json:"address"`
	Diffs      []FieldDiff `json:"diffs,omitempty"`
	Endpoint   *Endpoint   `json:"endpoint,omitempty"`
	Deployment *Deployment `json:"deployment,omitempty"`
	// Resource is the desired resource of a kind other packages plan
	// (a monitor: internal/monitor), as JSON; deploy ignores it.
	Resource json.RawMessage `json:"resource,omitempty"`
	// Rollout, on an endpoint update, says that its traffic moves by a
	// rollout rather than at once: "canary 10→50→100 of green".
	Rollout string `json:"rollout,omitempty"`
	// Drift, when set, is a change made outside apply that this change
	// undoes (Service.Plan sets it from the audit trail).
	Drift *Drift `json:"drift,omitempty"`
}

// Plan is the ordered changes that take the current state to the desired
// one: endpoint creates, deployment creates and updates, endpoint updates,
// deployment deletes, endpoint deletes — an order in which every step is
// valid on its own (traffic names only existing deployments).
type Plan struct {
	Changes   []Change `json:"changes"`
	Add       int      `json:"add"`
	Change    int      `json:"change"`
	Destroy   int      `json:"destroy"`
	Unchanged int      `json:"unchanged"`
	// Serials are the serials of the endpoints the plan read (see
	// planScope), 0 for one that did not exist; ApplyPlan refuses the plan
	// once any of them moved.
	Serials map[string]int64 `json:"serials"`
	// Time is when Service.Plan made the plan, in Unix milliseconds.
	Time int64 `json:"time,omitempty"`
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

// Summary is Terraform's last line: "Plan: 2 to add, 1 to change, 0 to
// destroy." or "No changes."
func (p Plan) Summary() string {
	if p.Empty() {
		return "No changes."
	}
	return fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", p.Add, p.Change, p.Destroy)
}

// String renders the plan as Terraform does: one line per change
// ("+ create endpoint churn", "~ update deployment churn/green:
// instance_count 1 → 2", "- delete deployment churn/blue"), each followed
// by its drift ("  (drift: set by alice 3m ago via ferry endpoints
// traffic)"), then Summary.
func (p Plan) String() string {
	var b strings.Builder
	sym := map[string]string{Create: "+", Update: "~", Delete: "-"}
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s %s %s %s", sym[c.Action], c.Action, c.Kind, c.Address)
		if c.Action == Update {
			parts := make([]string, len(c.Diffs))
			for i, d := range c.Diffs {
				parts[i] = fmt.Sprintf("%s %s → %s", d.Field, orNone(d.Old), orNone(d.New))
			}
			b.WriteString(": " + strings.Join(parts, ", "))
		}
		if c.Rollout != "" {
			b.WriteString(" (by rollout: " + c.Rollout + ")")
		}
		if c.Drift != nil {
			b.WriteString("  (drift: " + c.Drift.describe(p.Time) + ")")
		}
		b.WriteByte('\n')
	}
	b.WriteString(p.Summary() + "\n")
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// ComputePlan compares desired with current (both as given; defaults are
// filled in here) and returns the changes. Resources only in current are
// deleted when prune is set and otherwise kept. The state after the plan
// must be valid: names unique, every deployment's endpoint present, traffic
// and mirror_traffic naming only deployments of their endpoint; otherwise
// the error is EINVALID.
//
// The plan's Serials are those of current's endpoints in planScope.
func ComputePlan(desired, current State, prune bool) (Plan, error) {
	p := Plan{Serials: map[string]int64{}}
	curE := map[string]Endpoint{}
	for _, e := range current.Endpoints {
		curE[e.Name] = e.Normalize()
	}
	curD := map[string]Deployment{}
	for _, d := range current.Deployments {
		curD[d.EndpointName+"/"+d.Name] = d.Normalize()
	}
	wantE := map[string]Endpoint{}
	for _, e := range desired.Endpoints {
		if err := e.Validate(nil); err != nil {
			return Plan{}, err
		}
		if _, dup := wantE[e.Name]; dup {
			return Plan{}, ferry.Errorf(ferry.EINVALID, "endpoint %s is declared twice", e.Name)
		}
		wantE[e.Name] = e.Normalize()
	}
	wantD := map[string]Deployment{}
	for _, d := range desired.Deployments {
		if err := d.Validate(); err != nil {
			return Plan{}, err
		}
		key := d.EndpointName + "/" + d.Name
		if _, dup := wantD[key]; dup {
			return Plan{}, ferry.Errorf(ferry.EINVALID, "deployment %s is declared twice", key)
		}
		wantD[key] = d.Normalize()
	}

	// The state after the plan, to validate references.
	afterE := map[string]Endpoint{}
	afterD := map[string]map[string]bool{}
	for n, e := range curE {
		if !prune {
			afterE[n] = e
		}
	}
	for n, e := range wantE {
		afterE[n] = e
	}
	addD := func(d Deployment) {
		if afterD[d.EndpointName] == nil {
			afterD[d.EndpointName] = map[string]bool{}
		}
		afterD[d.EndpointName][d.Name] = true
	}
	for _, d := range curD {
		if !prune {
			addD(d)
		}
	}
	for _, d := range wantD {
		addD(d)
	}
	for _, key := range sortedKeys(wantD) {
		if d := wantD[key]; !hasEndpoint(afterE, d.EndpointName) {
			return Plan{}, ferry.Errorf(ferry.EINVALID, "deployment %s: endpoint %s is neither declared nor deployed", key, d.EndpointName)
		}
	}
	for _, n := range sortedKeys(afterE) {
		deps := afterD[n]
		if deps == nil {
			deps = map[string]bool{}
		}
		if err := afterE[n].Validate(deps); err != nil {
			return Plan{}, err
		}
	}
	for _, key := range sortedKeys(curD) {
		if d := curD[key]; !hasEndpoint(afterE, d.EndpointName) && !prune {
			return Plan{}, ferry.Errorf(ferry.EINVALID, "deployment %s would lose its endpoint", key)
		}
	}

	for _, n := range planScope(desired, current.Endpoints, prune) {
		p.Serials[n] = curE[n].Serial
	}

	var creates, depChanges, updates, depDeletes, deletes []Change
	for _, n := range sortedKeys(wantE) {
		e := wantE[n]
		old, ok := curE[n]
		switch {
		case !ok:
			creates = append(creates, Change{Action: Create, Kind: KindEndpoint, Address: n, Endpoint: &e})
		default:
			if diffs := diff(old, e); len(diffs) > 0 {
				updates = append(updates, Change{Action: Update, Kind: KindEndpoint, Address: n, Diffs: diffs, Endpoint: &e,
					Rollout: rolloutNote(old, e, endpointDeployments(n, wantD, curD))})
			} else {
				p.Unchanged++
			}
		}
	}
	for _, key := range sortedKeys(wantD) {
		d := wantD[key]
		old, ok := curD[key]
		switch {
		case !ok:
			depChanges = append(depChanges, Change{Action: Create, Kind: KindDeployment, Address: key, Deployment: &d})
		default:
			if diffs := diff(old, d); len(diffs) > 0 {
				depChanges = append(depChanges, Change{Action: Update, Kind: KindDeployment, Address: key, Diffs: diffs, Deployment: &d})
			} else {
				p.Unchanged++
			}
		}
	}
	if prune {
		for _, key := range sortedKeys(curD) {
			if _, ok := wantD[key]; !ok {
				d := curD[key]
				depDeletes = append(depDeletes, Change{Action: Delete, Kind: KindDeployment, Address: key, Deployment: &d})
			}
		}
		for _, n := range sortedKeys(curE) {
			if _, ok := wantE[n]; !ok {
				e := curE[n]
				deletes = append(deletes, Change{Action: Delete, Kind: KindEndpoint, Address: n, Endpoint: &e})
			}
		}
	}
	for _, group := range [][]Change{creates, depChanges, updates, depDeletes, deletes} {
		for _, c := range group {
			switch c.Action {
			case Create:
				p.Add++
			case Update:
				p.Change++
			case Delete:
				p.Destroy++
			}
			p.Changes = append(p.Changes, c)
		}
	}
	return p, nil
}

func hasEndpoint(m map[string]Endpoint, name string) bool {
	_, ok := m[name]
	return ok
}

// diff compares two resources field by field, through their JSON form,
// ignoring what the store sets (serial, model_version).
func diff(old, new any) []FieldDiff {
	a, b := flatten(old), flatten(new)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []FieldDiff
	for _, k := range sortedKeys(keys) {
		if k == "serial" || k == "model_version" {
			continue
		}
		if a[k] != b[k] {
			out = append(out, FieldDiff{Field: k, Old: a[k], New: b[k]})
		}
	}
	return out
}

// flatten renders v's JSON form as dotted paths to scalar and list values.
func flatten(v any) map[string]string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("deploy: marshal %T: %v", v, err)) // resources are plain data
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(fmt.Sprintf("deploy: unmarshal %T: %v", v, err))
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if obj, ok := v.(map[string]any); ok {
			for k, x := range obj {
				walk(joinPath(prefix, k), x)
			}
			return
		}
		s, _ := json.Marshal(v)
		out[prefix] = string(s)
	}
	walk("", m)
	return out
}

func joinPath(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}
