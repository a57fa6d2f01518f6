package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// DefaultSchedulerTick is how often the Scheduler looks for due monitors.
const DefaultSchedulerTick = 30 * time.Second

// MonitorLister lists the stored monitors.
type MonitorLister interface {
	ListMonitors(ctx context.Context) ([]Monitor, error)
}

// DeploymentLister lists an endpoint's deployments; deploy.Service is one.
type DeploymentLister interface {
	ListDeployments(ctx context.Context, endpoint string) ([]deploy.Deployment, error)
}

// Leader is a lease that one server at a time holds (the shape of
// deploy.Leader); sqlstore's Lease is one.
type Leader interface {
	Lead(ctx context.Context) (held bool, err error)
}

// MonitorEvaluator evaluates a monitor on one deployment over a range;
// Evaluator is one.
type MonitorEvaluator interface {
	Evaluate(ctx context.Context, m Monitor, deployment string, from, to time.Time) (Report, error)
}

// SchedulerOptions configure a Scheduler. Monitors, Deployments and
// Evaluator are required.
type SchedulerOptions struct {
	Monitors    MonitorLister
	Deployments DeploymentLister
	Evaluator   MonitorEvaluator
	// Leader, when set, is held while evaluating: with several replicas
	// only the leader evaluates.
	Leader Leader
	// Tick is Run's period; 0: DefaultSchedulerTick.
	Tick time.Duration
	Now  func() time.Time // nil: time.Now
	Log  *slog.Logger
}

// Scheduler evaluates each monitor when its cron schedule is due, over the
// monitor's window ending at the due time, on every deployment it watches.
//
// It remembers the last due time it ran per monitor in memory only: a
// monitor first seen (at start, after this server became leader, or when
// created) runs at its next due time, never for due times before; due times
// missed while running (a long pause) collapse into one run at the latest.
// So a restart or a change of leader skips at most the due times that fell
// in between. It is safe for concurrent use.
type Scheduler struct {
	opts SchedulerOptions
	log  *slog.Logger

	mu   sync.Mutex
	last map[string]time.Time // monitor name → the last due time handled
}

// NewScheduler returns a Scheduler.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	if opts.Tick <= 0 {
		opts.Tick = DefaultSchedulerTick
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{opts: opts, log: log, last: map[string]time.Time{}}
}

// Run calls Step every Tick until ctx ends, logging its errors.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		if _, err := s.Step(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "monitor scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run is one evaluation the Scheduler made.
type Run struct {
	Monitor    string
	Deployment string
	Due        time.Time
	Report     Report
	Err        error
}

// Step makes one pass at the clock's time: when this server leads, every
// monitor whose schedule is due since its last run is evaluated once, for
// its latest due time, on each deployment it watches. It returns the runs
// made. Errors of single monitors and deployments are joined; the others
// still run. A monitor whose evaluation failed is not retried for that due
// time.
func (s *Scheduler) Step(ctx context.Context) ([]Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Leader != nil {
		held, err := s.opts.Leader.Lead(ctx)
		if err != nil || !held {
			// Another server evaluates meanwhile; what it ran is unknown here.
			clear(s.last)
			return nil, err
		}
	}
	now := s.opts.Now()
	ms, err := s.opts.Monitors.ListMonitors(ctx)
	if err != nil {
		return nil, fmt.Errorf("monitor scheduler: %w", err)
	}
	var runs []Run
	var errs []error
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		m = m.Normalize()
		seen[m.Name] = true
		due, ok, err := s.due(m, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		s.last[m.Name] = due
		rs, err := s.evaluate(ctx, m, due)
		runs = append(runs, rs...)
		errs = append(errs, err)
	}
	for name := range s.last {
		if !seen[name] {
			delete(s.last, name)
		}
	}
	return runs, errors.Join(errs...)
}

// due returns m's latest due time in (last run, now] and whether there is
// one; a monitor first seen starts its count now.
func (s *Scheduler) due(m Monitor, now time.Time) (time.Time, bool, error) {
	sched, err := m.Cron()
	if err != nil {
		return time.Time{}, false, err
	}
	last, ok := s.last[m.Name]
	if !ok {
		s.last[m.Name] = now
		return time.Time{}, false, nil
	}
	due := sched.Next(last)
	if due.After(now) {
		return time.Time{}, false, nil
	}
	for next := sched.Next(due); !next.After(now); next = sched.Next(due) {
		due = next
	}
	return due, true, nil
}

// evaluate runs m for the window ending at due on each deployment it
// watches.
func (s *Scheduler) evaluate(ctx context.Context, m Monitor, due time.Time) ([]Run, error) {
	deps := []string{m.Deployment}
	if m.Deployment == "" {
		ds, err := s.opts.Deployments.ListDeployments(ctx, m.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("monitor %s: %w", m.Name, err)
		}
		deps = deps[:0]
		for _, d := range ds {
			deps = append(deps, d.Name)
		}
	}
	from := due.Add(-m.EvalWindow())
	var runs []Run
	var errs []error
	for _, d := range deps {
		rep, err := s.opts.Evaluator.Evaluate(ctx, m, d, from, due)
		if err != nil {
			err = fmt.Errorf("monitor %s on %s/%s at %s: %w", m.Name, m.Endpoint, d, due.UTC().Format(time.RFC3339), err)
			errs = append(errs, err)
		}
		s.log.InfoContext(ctx, "monitor evaluated", "monitor", m.Name, "endpoint", m.Endpoint, "deployment", d, "due", due, "breached", len(rep.Breached()), "err", err)
		runs = append(runs, Run{Monitor: m.Name, Deployment: d, Due: due, Report: rep, Err: err})
	}
	return runs, errors.Join(errs...)
}
