package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
	"github.com/ferry-ml/ferry/internal/deploy"
)

// StoredMonitor is a Monitor as the store holds it: normalized, with the
// serial counting its changes and the time of the last one.
type StoredMonitor struct {
	Monitor
	Serial    int64     `json:"serial"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MonitorEvent is one audited change to a monitor.
type MonitorEvent struct {
	Time      int64  `json:"time"` // Unix milliseconds
	Principal string `json:"principal"`
	// Action is create_monitor, update_monitor or delete_monitor.
	Action  string `json:"action"`
	Monitor string `json:"monitor"`
	Detail  string `json:"detail,omitempty"`
}

// KindMonitor is the kind of the deploy.Changes that PlanMonitors adds to a
// plan; their Resource is the monitor's JSON.
const KindMonitor = "monitor"

// PutMonitor validates m, checks that its endpoint exists (when the
// service has Endpoints), and stores it normalized, audited with the
// principal of ctx. Storing a monitor equal to the stored one changes
// nothing and returns the stored one.
func (s *Service) PutMonitor(ctx context.Context, m Monitor) (StoredMonitor, error) {
	if err := m.Validate(); err != nil {
		return StoredMonitor{}, err
	}
	m = m.Normalize()
	if s.endpoints != nil {
		if _, err := s.endpoints.GetEndpoint(ctx, m.Endpoint); err != nil {
			if ferry.ErrorCode(err) == ferry.ENOTFOUND {
				return StoredMonitor{}, ferry.Errorf(ferry.EINVALID, "monitor %s: endpoint %s does not exist", m.Name, m.Endpoint)
			}
			return StoredMonitor{}, err
		}
	}
	action := "create_monitor"
	switch cur, err := s.store.GetMonitor(ctx, m.Name); {
	case err == nil:
		if len(diffMonitors(cur.Monitor, m)) == 0 {
			return cur, nil
		}
		action = "update_monitor"
	case ferry.ErrorCode(err) != ferry.ENOTFOUND:
		return StoredMonitor{}, err
	}
	now := s.now()
	return s.store.PutMonitor(ctx, m, now, s.monitorEvent(ctx, now, action, m.Name, "endpoint "+m.Endpoint))
}

// GetMonitor returns one monitor; ENOTFOUND when there is none.
func (s *Service) GetMonitor(ctx context.Context, name string) (StoredMonitor, error) {
	return s.store.GetMonitor(ctx, name)
}

// StoredMonitors returns every monitor as stored, by name.
func (s *Service) StoredMonitors(ctx context.Context) ([]StoredMonitor, error) {
	return s.store.ListMonitors(ctx)
}

// ListMonitors returns every monitor's spec, normalized, by name (the
// scheduler's MonitorLister).
func (s *Service) ListMonitors(ctx context.Context) ([]Monitor, error) {
	stored, err := s.store.ListMonitors(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Monitor, len(stored))
	for i, m := range stored {
		out[i] = m.Monitor
	}
	return out, nil
}

// DeleteMonitor deletes one monitor, audited; ENOTFOUND when there is none.
func (s *Service) DeleteMonitor(ctx context.Context, name string) error {
	return s.store.DeleteMonitor(ctx, name, s.monitorEvent(ctx, s.now(), "delete_monitor", name, ""))
}

// MonitorAudit returns the audited changes to monitor ("" for all), oldest
// first.
func (s *Service) MonitorAudit(ctx context.Context, name string) ([]MonitorEvent, error) {
	return s.store.ListMonitorAudit(ctx, name)
}

func (s *Service) monitorEvent(ctx context.Context, now time.Time, action, name, detail string) MonitorEvent {
	return MonitorEvent{Time: now.UnixMilli(), Principal: auth.PrincipalFrom(ctx), Action: action, Monitor: name, Detail: detail}
}

// Plan returns p with the changes that take the stored monitors to desired
// appended (see PlanMonitors).
func (s *Service) Plan(ctx context.Context, p deploy.Plan, desired []Monitor, prune bool) (deploy.Plan, error) {
	current, err := s.ListMonitors(ctx)
	if err != nil {
		return deploy.Plan{}, err
	}
	return PlanMonitors(p, desired, current, prune)
}

// Apply carries out the monitor changes of p (those of KindMonitor), in
// their order, and returns nil or the first error; the changes made before
// it stay.
func (s *Service) Apply(ctx context.Context, p deploy.Plan) error {
	for _, c := range p.Changes {
		if c.Kind != KindMonitor {
			continue
		}
		if c.Action == deploy.Delete {
			if err := s.DeleteMonitor(ctx, c.Address); err != nil && ferry.ErrorCode(err) != ferry.ENOTFOUND {
				return err
			}
			continue
		}
		var m Monitor
		if err := json.Unmarshal(c.Resource, &m); err != nil || m.Name != c.Address {
			return ferry.Errorf(ferry.EINVALID, "plan: change %s monitor %s does not carry its monitor", c.Action, c.Address)
		}
		if _, err := s.PutMonitor(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// SplitPlan splits p into its deploy changes and its monitor changes, each
// with its own counts; the deploy part keeps p's serials and time.
func SplitPlan(p deploy.Plan) (dep, mon deploy.Plan) {
	dep = deploy.Plan{Serials: p.Serials, Time: p.Time, Unchanged: p.Unchanged}
	for _, c := range p.Changes {
		if c.Kind == KindMonitor {
			mon.Changes = append(mon.Changes, c)
		} else {
			dep.Changes = append(dep.Changes, c)
		}
	}
	count(&dep)
	count(&mon)
	return dep, mon
}

// JoinPlan appends mon's changes to dep and recounts.
func JoinPlan(dep, mon deploy.Plan) deploy.Plan {
	dep.Changes = append(slices.Clip(dep.Changes), mon.Changes...)
	dep.Unchanged += mon.Unchanged
	count(&dep)
	return dep
}

func count(p *deploy.Plan) {
	p.Add, p.Change, p.Destroy = 0, 0, 0
	for _, c := range p.Changes {
		switch c.Action {
		case deploy.Create:
			p.Add++
		case deploy.Update:
			p.Change++
		case deploy.Delete:
			p.Destroy++
		}
	}
	if p.Changes == nil {
		p.Changes = []deploy.Change{}
	}
}

// PlanMonitors returns p with the changes that take the monitors current to
// desired appended: creates and updates in name order, then — with prune
// only — deletes of the monitors desired does not name. Both are compared
// normalized, field by field (FieldDiff.Field is the JSON path, such as
// schedule.cron). Every desired monitor must be valid and named once;
// otherwise the error is EINVALID.
func PlanMonitors(p deploy.Plan, desired, current []Monitor, prune bool) (deploy.Plan, error) {
	cur := map[string]Monitor{}
	for _, m := range current {
		cur[m.Name] = m.Normalize()
	}
	want := map[string]Monitor{}
	for _, m := range desired {
		if err := m.Validate(); err != nil {
			return deploy.Plan{}, err
		}
		if _, dup := want[m.Name]; dup {
			return deploy.Plan{}, ferry.Errorf(ferry.EINVALID, "monitor %s is declared twice", m.Name)
		}
		want[m.Name] = m.Normalize()
	}
	var mon deploy.Plan
	for _, name := range sortedNames(want) {
		m := want[name]
		raw, err := json.Marshal(m)
		if err != nil {
			return deploy.Plan{}, fmt.Errorf("plan monitor %s: %w", name, err)
		}
		c := deploy.Change{Kind: KindMonitor, Address: name, Resource: raw}
		old, ok := cur[name]
		switch {
		case !ok:
			c.Action = deploy.Create
		default:
			if c.Diffs = diffMonitors(old, m); len(c.Diffs) == 0 {
				mon.Unchanged++
				continue
			}
			c.Action = deploy.Update
		}
		mon.Changes = append(mon.Changes, c)
	}
	if prune {
		for _, name := range sortedNames(cur) {
			if _, ok := want[name]; ok {
				continue
			}
			raw, err := json.Marshal(cur[name])
			if err != nil {
				return deploy.Plan{}, fmt.Errorf("plan monitor %s: %w", name, err)
			}
			mon.Changes = append(mon.Changes, deploy.Change{Action: deploy.Delete, Kind: KindMonitor, Address: name, Resource: raw})
		}
	}
	return JoinPlan(p, mon), nil
}

func sortedNames(ms map[string]Monitor) []string {
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// diffMonitors returns the leaves of a's and b's JSON that differ, by path.
func diffMonitors(a, b Monitor) []deploy.FieldDiff {
	fa, fb := flatten(a.Normalize()), flatten(b.Normalize())
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var out []deploy.FieldDiff
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if fa[k] != fb[k] {
			out = append(out, deploy.FieldDiff{Field: k, Old: fa[k], New: fb[k]})
		}
	}
	return out
}

// flatten renders m's JSON as leaf path → JSON value; objects are walked,
// arrays are leaves.
func flatten(m Monitor) map[string]string {
	raw, _ := json.Marshal(m) // a Monitor always marshals
	var v any
	_ = json.Unmarshal(raw, &v)
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if obj, ok := v.(map[string]any); ok && (len(obj) > 0 || prefix == "") {
			for k, child := range obj {
				walk(strings.TrimPrefix(prefix+"."+k, "."), child)
			}
			return
		}
		b, _ := json.Marshal(v)
		out[prefix] = string(b)
	}
	walk("", v)
	return out
}
