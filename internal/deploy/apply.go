package deploy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ml/ferry"
)

// ApplyPlan carries out p — a plan made earlier, as ferry plan -o json
// writes it — exactly as it is, holding the locks of the endpoints it
// read. It refuses with ECONFLICT (SerialConflict) when the serial of any
// of them moved since the plan was made, and with EINVALID a plan that
// records no serials or changes an endpoint whose serial it did not record.
func (s *Service) ApplyPlan(ctx context.Context, p Plan) (Plan, error) {
	if p.Serials == nil {
		return Plan{}, ferry.Errorf(ferry.EINVALID, "the plan records no serials; make it with ferry plan -o json")
	}
	for _, c := range p.Changes {
		if err := checkPlanned(c, p.Serials); err != nil {
			return Plan{}, err
		}
	}
	unlock, err := s.locks.lock(ctx, sortedKeys(p.Serials))
	if err != nil {
		return Plan{}, err
	}
	defer unlock()
	for _, name := range sortedKeys(p.Serials) {
		var now int64
		e, err := s.store.GetEndpoint(ctx, name)
		switch {
		case ferry.ErrorCode(err) == ferry.ENOTFOUND:
		case err != nil:
			return Plan{}, err
		default:
			now = e.Serial
		}
		if now != p.Serials[name] {
			return Plan{}, SerialConflict(name, p.Serials[name], now)
		}
	}
	return s.applyPlan(ctx, p)
}

// checkPlanned checks that c is a change applyPlan can carry out and that
// its endpoint's serial is in serials.
func checkPlanned(c Change, serials map[string]int64) error {
	endpoint := c.Address
	switch {
	case c.Action != Create && c.Action != Update && c.Action != Delete:
		return ferry.Errorf(ferry.EINVALID, "plan: change %s: unknown action %q", c.Address, c.Action)
	case c.Kind == KindEndpoint && c.Endpoint != nil && c.Endpoint.Name == c.Address:
	case c.Kind == KindDeployment && c.Deployment != nil && c.Deployment.EndpointName+"/"+c.Deployment.Name == c.Address:
		endpoint = c.Deployment.EndpointName
	default:
		return ferry.Errorf(ferry.EINVALID, "plan: change %s %s %s does not carry its resource", c.Action, c.Kind, c.Address)
	}
	if _, ok := serials[endpoint]; !ok {
		return ferry.Errorf(ferry.EINVALID, "plan: change %s %s %s: the plan does not record endpoint %s's serial", c.Action, c.Kind, c.Address, endpoint)
	}
	return nil
}

// lockScope takes the locks of the endpoints a plan to desired reads (see
// planScope).
func (s *Service) lockScope(ctx context.Context, desired State, prune bool) (func(), error) {
	var current []Endpoint
	if prune {
		var err error
		if current, err = s.store.ListEndpoints(ctx); err != nil {
			return nil, err
		}
	}
	return s.locks.lock(ctx, planScope(desired, current, prune))
}

// planScope is the endpoints a plan reads, sorted: those desired declares
// or names in a deployment, and with prune every current one.
func planScope(desired State, current []Endpoint, prune bool) []string {
	names := map[string]bool{}
	for _, e := range desired.Endpoints {
		names[e.Name] = true
	}
	for _, d := range desired.Deployments {
		names[d.EndpointName] = true
	}
	if prune {
		for _, e := range current {
			names[e.Name] = true
		}
	}
	return sortedKeys(names)
}

// endpointLocks are per-endpoint locks that a context's cancellation
// interrupts. The zero value is ready; it is safe for concurrent use.
type endpointLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // a full channel is a held lock
}

// lock takes the locks of names, in the order given (sorted, by every
// caller, so two applies never wait for each other) and returns the
// function that releases them; ctx.Err() when ctx ends first.
func (l *endpointLocks) lock(ctx context.Context, names []string) (func(), error) {
	var got []chan struct{}
	unlock := func() {
		for _, c := range got {
			<-c
		}
	}
	for _, n := range names {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[string]chan struct{}{}
		}
		c := l.held[n]
		if c == nil {
			c = make(chan struct{}, 1)
			l.held[n] = c
		}
		l.mu.Unlock()
		select {
		case c <- struct{}{}:
			got = append(got, c)
		case <-ctx.Done():
			unlock()
			return nil, ctx.Err()
		}
	}
	return unlock, nil
}

type applyingKey struct{}

// applying is the state of one apply, carried in its context to the
// Service's writes: the serial each endpoint must have for the next write.
type applying struct {
	serials map[string]int64
}

// withApplying returns ctx marking the writes made with it as an apply's:
// audited via ViaApply, conditional on serials (copied), which each write
// moves on.
func withApplying(ctx context.Context, serials map[string]int64) context.Context {
	a := &applying{serials: make(map[string]int64, len(serials))}
	for k, v := range serials {
		a.serials[k] = v
	}
	return context.WithValue(ctx, applyingKey{}, a)
}

// expectSerial is the serial a write to endpoint must find: the apply's
// when ctx carries one that read the endpoint, otherwise seen.
func expectSerial(ctx context.Context, endpoint string, seen int64) int64 {
	if a, ok := ctx.Value(applyingKey{}).(*applying); ok {
		if n, ok := a.serials[endpoint]; ok {
			return n
		}
	}
	return seen
}

// noteSerial records the serial a write of the apply in ctx left.
func noteSerial(ctx context.Context, endpoint string, serial int64) {
	if a, ok := ctx.Value(applyingKey{}).(*applying); ok {
		a.serials[endpoint] = serial
	}
}

// applyingVia is ViaApply for a write of an apply, else "".
func applyingVia(ctx context.Context) string {
	if _, ok := ctx.Value(applyingKey{}).(*applying); ok {
		return ViaApply
	}
	return ""
}

// Drift is a change made outside apply — ferry endpoints traffic, a
// rollout, a direct API call — to a resource a plan changes: the last
// audit event of that resource, when apply did not make it.
type Drift struct {
	Principal string `json:"principal"`
	Action    string `json:"action"`
	Time      int64  `json:"time"` // Unix milliseconds
	Via       string `json:"via,omitempty"`
}

// describe renders d for a plan made at now (Unix milliseconds; 0:
// unknown): "set by alice 3m ago via ferry endpoints traffic".
func (d Drift) describe(now int64) string {
	verb, _, _ := strings.Cut(d.Action, "_")
	verb = map[string]string{"set": "set", "create": "created", "update": "updated", "delete": "deleted"}[verb]
	if verb == "" {
		verb = "changed"
	}
	s := verb + " by " + d.Principal
	if now > 0 && d.Time > 0 && now >= d.Time {
		s += " " + age(time.Duration(now-d.Time)*time.Millisecond) + " ago"
	}
	if d.Via != "" {
		s += " via " + d.Via
	}
	return s
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// markDrift sets the Drift of each of p's changes from the audit trail.
func (s *Service) markDrift(ctx context.Context, p *Plan) error {
	trails := map[string][]AuditEvent{}
	for i := range p.Changes {
		c := &p.Changes[i]
		endpoint, deployment := c.Address, ""
		if c.Kind == KindDeployment {
			endpoint, deployment, _ = strings.Cut(c.Address, "/")
		}
		trail, ok := trails[endpoint]
		if !ok {
			var err error
			if trail, err = s.store.ListDeployAudit(ctx, endpoint); err != nil {
				return err
			}
			trails[endpoint] = trail
		}
		for j := len(trail) - 1; j >= 0; j-- {
			// A rollout's own events change the rollout, not the
			// deployment's fields (its traffic moves are set_traffic).
			if ev := trail[j]; ev.Deployment == deployment && !strings.HasPrefix(ev.Action, "rollout_") {
				if ev.Via != ViaApply {
					c.Drift = &Drift{Principal: ev.Principal, Action: ev.Action, Time: ev.Time, Via: ev.Via}
				}
				break
			}
		}
	}
	return nil
}
