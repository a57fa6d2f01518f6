package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
)

// StatsSource reports what one deployment of an endpoint answered since a
// time (the router's in-memory statistics satisfy it).
type StatsSource interface {
	Stats(endpoint, deployment string, since time.Time) Stats
}

// Readiness reports whether a deployment can take traffic now.
type Readiness interface {
	// Serves reports whether d, as specified (its pinned model version
	// and settings), has a backend ready for requests: a backend still
	// serving an earlier spec of d does not count.
	Serves(d Deployment) bool
}

// Leader is a lease that one server at a time holds. Lead tries to take it
// or to keep it, and is cheap when already held; held is false when
// another server has it or it was lost.
type Leader interface {
	Lead(ctx context.Context) (held bool, err error)
}

// QualitySource scores a deployment's predictions since a time (higher is
// better), once labels arrive; ok is false without enough of them.
type QualitySource interface {
	Quality(endpoint, deployment string, since time.Time) (score float64, ok bool)
}

// ControllerPrincipal is the principal the Controller's changes are
// audited with.
const ControllerPrincipal = "ferry-rollout-controller"

// DefaultTick is how often Run advances the rollouts.
const DefaultTick = time.Second

// ControllerOptions configure a Controller.
type ControllerOptions struct {
	// Now is the clock steps are timed by; nil: time.Now.
	Now func() time.Time
	// Tick is Run's period; 0: DefaultTick.
	Tick time.Duration
	// Log receives the rollouts' events; nil: discarded.
	Log *slog.Logger
	// Quality, when set, adds the quality check to the analysis.
	Quality QualitySource
}

// Controller advances every active rollout, in the server that holds the
// leader lease: it sets each step's traffic once the deployment is ready,
// waits the step's duration, analyses the deployment against the baseline
// (Analysis) and goes on, waits for an approval, or rolls back. All its
// state is in the store: a new Controller over the same store continues
// where the last one stopped.
type Controller struct {
	svc    *Service
	stats  StatsSource
	ready  Readiness
	leader Leader
	opts   ControllerOptions
}

// NewController returns a Controller over svc. leader nil means always
// leader (one server).
func NewController(svc *Service, stats StatsSource, ready Readiness, leader Leader, opts ControllerOptions) *Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tick <= 0 {
		opts.Tick = DefaultTick
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Controller{svc: svc, stats: stats, ready: ready, leader: leader, opts: opts}
}

// Run calls Step every tick until ctx ends, logging its errors.
func (c *Controller) Run(ctx context.Context) {
	t := time.NewTicker(c.opts.Tick)
	defer t.Stop()
	for {
		if err := c.Step(ctx); err != nil && ctx.Err() == nil {
			c.opts.Log.Error("rollout controller", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step makes one pass: when this server leads, every active rollout moves
// as far as it can now. Errors of single rollouts are joined; the others
// still move.
func (c *Controller) Step(ctx context.Context) error {
	if c.leader != nil {
		held, err := c.leader.Lead(ctx)
		if err != nil || !held {
			return err
		}
	}
	ctx = auth.WithPrincipal(ctx, ControllerPrincipal)
	rs, err := c.svc.store.ListRollouts(ctx, "", true)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		if err := c.advance(ctx, r.ID); err != nil {
			errs = append(errs, fmt.Errorf("rollout %d of %s: %w", r.ID, r.Endpoint, err))
		}
	}
	return errors.Join(errs...)
}

// advance moves one rollout as far as it can now.
func (c *Controller) advance(ctx context.Context, id int64) error {
	c.svc.rolloutMu.Lock()
	defer c.svc.rolloutMu.Unlock()
	r, err := c.svc.store.GetRollout(ctx, id)
	if err != nil {
		return err
	}
	for range len(r.Steps) + 1 {
		if r.State != RolloutProgressing {
			return nil
		}
		moved, err := c.next(ctx, &r)
		if err != nil || !moved {
			return err
		}
	}
	return nil
}

// next makes the one move r can make now and reports whether it made one
// after which another may follow at once.
func (c *Controller) next(ctx context.Context, r *RolloutStatus) (bool, error) {
	s := c.svc
	now := c.opts.Now()
	d, err := s.store.GetDeployment(ctx, r.Endpoint, r.Deployment)
	if ferry.ErrorCode(err) == ferry.ENOTFOUND {
		return false, c.abort(ctx, r, fmt.Sprintf("deployment %s was deleted", r.Deployment))
	} else if err != nil {
		return false, err
	}
	e, err := s.store.GetEndpoint(ctx, r.Endpoint)
	if ferry.ErrorCode(err) == ferry.ENOTFOUND {
		return false, c.abort(ctx, r, "the endpoint was deleted")
	} else if err != nil {
		return false, err
	}
	if want := r.expectedTraffic(); !sameTraffic(e.Traffic, want) {
		return false, c.abort(ctx, r, fmt.Sprintf("the endpoint's traffic was changed outside the rollout: %s, not %s", trafficString(e.Traffic), trafficString(want)))
	}
	step := fmt.Sprintf("step %d/%d", r.Step+1, len(r.Steps))

	if r.StepStartedAt == 0 { // set the step's traffic
		if !c.ready.Serves(d) {
			return false, c.note(ctx, r, fmt.Sprintf("waiting for %s to be ready", r.Deployment))
		}
		if r.Steps[r.Step] == 100 && s.needsApproval(r.Endpoint) && r.ApprovedBy == "" {
			r.State = RolloutAwaitingApproval
			r.Message = fmt.Sprintf("the policy requires an approval before all traffic moves: a principal other than %s runs ferry endpoints rollout promote %s", r.StartedBy, r.Endpoint)
			c.opts.Log.Info("rollout awaits approval", "endpoint", r.Endpoint, "deployment", r.Deployment, "rollout", r.ID)
			return false, s.saveRollout(ctx, r, "rollout_await_approval", step)
		}
		t := r.TrafficAt(r.Step)
		if _, err := s.SetTraffic(ctx, r.Endpoint, t, fmt.Sprintf("rollout %d %s", r.ID, step)); err != nil {
			return false, err
		}
		r.StepStartedAt = now.UnixMilli()
		r.Message = ""
		c.opts.Log.Info("rollout step", "endpoint", r.Endpoint, "deployment", r.Deployment, "rollout", r.ID, "step", r.Step+1, "traffic", trafficString(t))
		return true, s.saveRollout(ctx, r, "rollout_step", step+": "+trafficString(t))
	}

	started := time.UnixMilli(r.StepStartedAt)
	if now.Before(started.Add(r.StepDuration())) {
		return false, nil
	}
	v := c.analyse(r, started, now)
	switch {
	case v.Pending:
		if r.Verdict == nil || !r.Verdict.Pending || r.Verdict.Step != r.Step {
			r.Verdict = &v
			return false, s.saveRollout(ctx, r, "", "")
		}
		return false, nil
	case !v.Passed:
		r.Verdict = &v
		msg := fmt.Sprintf("%s failed the %s check at %s: %s", r.Deployment, v.Check, step, v.Detail)
		if err := s.restoreStable(ctx, r, msg); err != nil {
			return false, err
		}
		c.opts.Log.Warn("rollout rolled back", "endpoint", r.Endpoint, "deployment", r.Deployment, "rollout", r.ID, "check", v.Check, "detail", v.Detail)
		return false, s.saveRollout(ctx, r, "rollout_rollback", msg)
	case r.Step == len(r.Steps)-1:
		r.Verdict = &v
		r.State = RolloutSucceeded
		r.Message = ""
		c.opts.Log.Info("rollout succeeded", "endpoint", r.Endpoint, "deployment", r.Deployment, "rollout", r.ID)
		return false, s.saveRollout(ctx, r, "rollout_succeed", step+" "+v.Detail)
	default:
		r.Verdict = &v
		r.Step++
		r.StepStartedAt = 0
		return true, s.saveRollout(ctx, r, "rollout_pass", step+" "+v.Detail)
	}
}

// analyse compares the deployment with the baseline over the step's
// window. When the baseline takes no traffic in the step (a blue_green
// switch, a canary's last step), its window reaches one step duration
// further back, to before the switch.
func (c *Controller) analyse(r *RolloutStatus, started, now time.Time) Verdict {
	canary := c.stats.Stats(r.Endpoint, r.Deployment, started)
	var base Stats
	baseSince := started
	if r.TrafficAt(r.Step)[r.Baseline] == 0 {
		baseSince = started.Add(-r.StepDuration())
	}
	if r.Baseline != "" {
		base = c.stats.Stats(r.Endpoint, r.Baseline, baseSince)
	}
	var q quality
	if c.opts.Quality != nil && r.Baseline != "" {
		cq, cok := c.opts.Quality.Quality(r.Endpoint, r.Deployment, started)
		bq, bok := c.opts.Quality.Quality(r.Endpoint, r.Baseline, baseSince)
		q = quality{canary: cq, base: bq, ok: cok && bok}
	}
	return analyse(r.Analysis, r.Step, canary, base, q, now.UnixMilli())
}

// note records what r waits for, once.
func (c *Controller) note(ctx context.Context, r *RolloutStatus, msg string) error {
	if r.Message == msg {
		return nil
	}
	r.Message = msg
	return c.svc.saveRollout(ctx, r, "", "")
}

// abort ends r without touching the traffic.
func (c *Controller) abort(ctx context.Context, r *RolloutStatus, msg string) error {
	r.State = RolloutAborted
	r.Message = msg
	c.opts.Log.Warn("rollout aborted", "endpoint", r.Endpoint, "deployment", r.Deployment, "rollout", r.ID, "reason", msg)
	return c.svc.saveRollout(ctx, r, "rollout_abort", msg)
}
