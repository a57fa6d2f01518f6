package deploy

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
)

// Rollout strategies.
const (
	StrategyCanary    = "canary"
	StrategyBlueGreen = "blue_green"
)

// States of a rollout. Progressing, paused and awaiting_approval are
// active: an endpoint has at most one active rollout. The others are final.
const (
	RolloutProgressing      = "progressing"
	RolloutPaused           = "paused"
	RolloutAwaitingApproval = "awaiting_approval"
	RolloutSucceeded        = "succeeded"
	RolloutRolledBack       = "rolled_back"
	RolloutAborted          = "aborted"
)

// Defaults of a rollout spec.
var defaultCanarySteps = []int{10, 50, 100}

const defaultStepDuration = 5 * time.Minute

// RolloutStatus is one rollout, as stored: the persisted state of the state
// machine the Controller advances. Times are Unix milliseconds.
type RolloutStatus struct {
	ID int64 `json:"id"`
	// Version is set by the store and incremented by every update; an
	// update made from an older version is ECONFLICT.
	Version    int64  `json:"version"`
	Endpoint   string `json:"endpoint"`
	Deployment string `json:"deployment"` // the canary, or green
	// Baseline is the deployment the canary is compared with: the one
	// with the most traffic when the rollout started.
	Baseline string `json:"baseline"`
	// Stable is the endpoint's traffic when the rollout started (restored
	// by a rollback); Goal the traffic when it succeeds.
	Stable   map[string]int `json:"stable"`
	Goal     map[string]int `json:"goal"`
	Strategy string         `json:"strategy"`
	// Steps are the percentages of the way from Stable to Goal, the last
	// one always 100; a blue_green rollout has the one step [100].
	Steps          []int    `json:"steps"`
	StepDurationMS int64    `json:"step_duration_ms"`
	Analysis       Analysis `json:"analysis"`
	// Step is the index in Steps of the current step.
	Step  int    `json:"step"`
	State string `json:"state"`
	// StepStartedAt is when the current step's traffic was set; 0 while it
	// is not yet (the deployment is not ready, or an approval is missing).
	StepStartedAt int64 `json:"step_started_at,omitempty"`
	// Verdict is the latest analysis.
	Verdict    *Verdict `json:"verdict,omitempty"`
	StartedBy  string   `json:"started_by"`
	ApprovedBy string   `json:"approved_by,omitempty"`
	// Message says what the rollout waits for or why it ended.
	Message string `json:"message,omitempty"`
	Created int64  `json:"created"`
	Updated int64  `json:"updated"`
}

// Active reports whether the rollout is not over.
func (r RolloutStatus) Active() bool { return ActiveState(r.State) }

// ActiveState reports whether state is progressing, paused or
// awaiting_approval.
func ActiveState(state string) bool {
	switch state {
	case RolloutProgressing, RolloutPaused, RolloutAwaitingApproval:
		return true
	}
	return false
}

// StepDuration is StepDurationMS as a duration.
func (r RolloutStatus) StepDuration() time.Duration {
	return time.Duration(r.StepDurationMS) * time.Millisecond
}

// TrafficAt returns the endpoint's traffic at step i: Stable and Goal mixed
// in the proportion Steps[i]/100, rounded to whole percentages that sum to
// 100 (largest remainders first, ties by name). Step -1 is Stable.
func (r RolloutStatus) TrafficAt(i int) map[string]int {
	if i < 0 {
		return maps.Clone(r.Stable)
	}
	return mixTraffic(r.Stable, r.Goal, r.Steps[i])
}

// expectedTraffic is what the endpoint's traffic must be while r is active:
// the current step's once it started, the previous step's before.
func (r RolloutStatus) expectedTraffic() map[string]int {
	if r.StepStartedAt != 0 {
		return r.TrafficAt(r.Step)
	}
	return r.TrafficAt(r.Step - 1)
}

// String is one line: "churn: green 2/3 (50%) progressing".
func (r RolloutStatus) String() string {
	return fmt.Sprintf("%s: %s step %d/%d (%d%%) %s", r.Endpoint, r.Deployment, r.Step+1, len(r.Steps), r.Steps[r.Step], r.State)
}

func mixTraffic(from, to map[string]int, p int) map[string]int {
	if p >= 100 {
		return maps.Clone(to)
	}
	names := map[string]bool{}
	for n := range from {
		names[n] = true
	}
	for n := range to {
		names[n] = true
	}
	type share struct {
		name string
		rem  int
	}
	out := map[string]int{}
	var rems []share
	sum := 0
	for _, n := range sortedKeys(names) {
		x := from[n]*(100-p) + to[n]*p // in hundredths of a percent
		out[n] = x / 100
		sum += x / 100
		rems = append(rems, share{n, x % 100})
	}
	sort.SliceStable(rems, func(i, j int) bool { return rems[i].rem > rems[j].rem })
	for i := 0; sum < 100 && i < len(rems); i++ {
		out[rems[i].name]++
		sum++
	}
	for n, v := range out {
		if v == 0 && !inTraffic(from, n) && !inTraffic(to, n) {
			delete(out, n)
		}
	}
	return out
}

func inTraffic(t map[string]int, n string) bool {
	_, ok := t[n]
	return ok
}

// sameTraffic compares two splits, a missing deployment counting as 0.
func sameTraffic(a, b map[string]int) bool {
	for n, v := range a {
		if b[n] != v {
			return false
		}
	}
	for n, v := range b {
		if a[n] != v {
			return false
		}
	}
	return true
}

func trafficSum(t map[string]int) int {
	s := 0
	for _, v := range t {
		s += v
	}
	return s
}

// rolloutPlan is a deployment's rollout spec with defaults filled in and
// its fields parsed.
type rolloutPlan struct {
	strategy string
	steps    []int
	duration time.Duration
	analysis Analysis
}

// parseRollout checks r and fills in defaults: strategy canary, steps
// [10, 50, 100] (100 appended when missing), step_duration 5m, the
// analysis defaults. A nil r is all defaults.
func parseRollout(r *Rollout) (rolloutPlan, error) {
	if r == nil {
		r = &Rollout{Strategy: StrategyCanary}
	}
	p := rolloutPlan{strategy: r.Strategy, duration: defaultStepDuration}
	switch r.Strategy {
	case StrategyCanary:
		p.steps = append([]int(nil), r.Steps...)
		if len(p.steps) == 0 {
			p.steps = append(p.steps, defaultCanarySteps...)
		}
		last := 0
		for _, s := range p.steps {
			if s <= last || s > 100 {
				return p, ferry.Errorf(ferry.EINVALID, "rollout steps must increase within 1..100")
			}
			last = s
		}
		if last != 100 {
			p.steps = append(p.steps, 100)
		}
	case StrategyBlueGreen:
		if len(r.Steps) > 0 {
			return p, ferry.Errorf(ferry.EINVALID, "rollout strategy blue_green switches all traffic at once: remove steps")
		}
		p.steps = []int{100}
	default:
		return p, ferry.Errorf(ferry.EINVALID, "rollout strategy %q: want canary or blue_green", r.Strategy)
	}
	if r.StepDuration != "" {
		d, err := time.ParseDuration(r.StepDuration)
		if err != nil || d < 0 {
			return p, ferry.Errorf(ferry.EINVALID, "rollout step_duration %q: want a duration such as 5m or 30s", r.StepDuration)
		}
		p.duration = d
	}
	a, err := parseAnalysis(r.Analysis)
	if err != nil {
		return p, err
	}
	p.analysis = a
	return p, nil
}

// rolloutDeployment is the deployment a traffic change from cur to want
// rolls out: the one among those whose spec has a rollout that gains the
// most traffic (ties by name); "" when none does, or when cur has no
// traffic to protect (it sums to 0) — then the traffic is set directly.
func rolloutDeployment(cur, want map[string]int, deps map[string]Deployment) string {
	if trafficSum(cur) == 0 {
		return ""
	}
	best, gain := "", 0
	for _, n := range sortedKeys(want) {
		d, ok := deps[n]
		if g := want[n] - cur[n]; ok && d.Rollout != nil && g > gain {
			best, gain = n, g
		}
	}
	return best
}

// baselineOf is the deployment other than canary with the most traffic in
// t (ties by name).
func baselineOf(t map[string]int, canary string) string {
	best := ""
	for _, n := range sortedKeys(t) {
		if n != canary && (best == "" || t[n] > t[best]) {
			best = n
		}
	}
	return best
}

func stepsString(steps []int) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, "→")
}
