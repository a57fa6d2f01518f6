// Package router serves deployed endpoints: /endpoints/NAME/… goes to one
// of the endpoint's deployments, chosen by the endpoint's traffic split
// among the deployments that are ready (or named by the x-ferry-deployment
// header), with a share copied to a shadow deployment (mirror_traffic). The
// Router keeps one Backend per deployment, built by the deployment's
// Target, and reconciles them with the store (Refresh): new deployments are
// loaded, changed ones replaced once the replacement is ready, deleted ones
// closed after their last request. Every server replica runs its own Router
// over the same store.
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
)

// Header is the request header that pins a deployment and the response
// header naming the deployment that answered.
const Header = "x-ferry-deployment"

// Backend serves one deployment: the single-model routes of `ferry serve`
// relative to the endpoint (/v2/models/ENDPOINT/infer, /v2/models/ENDPOINT,
// /v2/models/ENDPOINT/ready, /v2/health/ready, /invocations,
// /v1/models/ENDPOINT:predict), the model served under the endpoint's name.
//
// A Backend may also implement Logs(n int) []string (its recent log
// lines), Restart(ctx context.Context) error (reload or restart in place)
// and Err() error (why it is not ready, nil when it is or is still
// loading); the Router uses them when present.
type Backend interface {
	http.Handler
	Ready() bool
	Close(ctx context.Context) error
}

// Target builds the Backend of one deployment (d.ModelVersion is the pinned
// models:/NAME/VERSION). It should return quickly; a Backend may load in the
// background and report Ready() false until loaded.
type Target func(ctx context.Context, endpoint string, d deploy.Deployment) (Backend, error)

// Source is where the Router reads endpoints and deployments;
// deploy.Service satisfies it.
type Source interface {
	ListEndpoints(ctx context.Context) ([]deploy.Endpoint, error)
	ListDeployments(ctx context.Context, endpoint string) ([]deploy.Deployment, error)
}

type logger interface{ Logs(n int) []string }
type restarter interface {
	Restart(ctx context.Context) error
}
type failer interface{ Err() error }

// Options configure a Router. The zero value routes with the defaults.
type Options struct {
	Log *slog.Logger
	// Registerer receives the router's metrics; nil: a private registry.
	Registerer prometheus.Registerer
	// Seed, when not 0, makes the traffic split and the mirror sampling a
	// deterministic sequence (tests); 0 draws per request at random.
	Seed int64
	// RefreshInterval is Run's period; default 1s.
	RefreshInterval time.Duration
	// MirrorTimeout bounds one mirrored request; default the shadow's
	// request_timeout_ms.
	MirrorTimeout time.Duration
	// MirrorWorkers send mirrored requests (default 4) from a queue of
	// MirrorQueue (default 256); a mirrored request that finds the queue
	// full is dropped and counted.
	MirrorWorkers, MirrorQueue int
	// FirstWait bounds how long a request waits for a deployment that is
	// loading for the first time when no other can answer (a fresh server,
	// a command in local mode): from the backend's creation; default 60s,
	// negative: never wait.
	FirstWait time.Duration
	// Now is the clock of Stats; nil: time.Now.
	Now func() time.Time
}

// Router routes /endpoints/NAME/… to deployments. All methods are safe
// for concurrent use.
type Router struct {
	src     Source
	targets map[string]Target
	opts    Options
	log     *slog.Logger
	m       *metrics
	rngMu   sync.Mutex
	rng     *rand.Rand // nil: per-request random

	ctx     context.Context // ends at Close: mirror workers, background closes
	cancel  context.CancelFunc
	mirrorq chan *mirrorJob
	workers sync.WaitGroup
	closing sync.WaitGroup // backends being closed

	refreshMu sync.Mutex
	// changes wakes Run for a refresh before its next tick (Changed).
	changes chan struct{}
	// lastMiss is when a request for an unknown endpoint or deployment
	// last refreshed (Unix nanoseconds), limiting those refreshes.
	lastMiss  atomic.Int64
	refreshed atomic.Bool

	mu        sync.RWMutex
	endpoints map[string]*endpointState
	closed    bool
}

type endpointState struct {
	ep    deploy.Endpoint
	deps  map[string]*deploymentState
	names []string // sorted
}

// deploymentState is one deployment: the backend serving it, a
// replacement loading, and what it answered.
type deploymentState struct {
	endpoint string
	spec     deploy.Deployment // as stored
	cur      *backendRef       // nil until built, or when none could be
	added    time.Time         // when the Router first saw it
	pending  *backendRef       // a replacement, not yet ready
	retryAt  time.Time         // when building a backend failed: next attempt
	failures int
	lastErr  error
	stats    statsWindow
	events   eventRing
	latency  prometheus.Observer
}

// backendRef counts the requests using a backend; the Router holds one
// reference until the backend is replaced or deleted, and the last release
// closes it.
type backendRef struct {
	b         Backend
	spec      deploy.Deployment
	born      time.Time
	everReady atomic.Bool
	refs      atomic.Int64
	close     func(*backendRef)
}

func (b *backendRef) release() {
	if b.refs.Add(-1) == 0 {
		b.close(b)
	}
}

// New returns a Router over src, building backends with targets by
// deployment target name. It routes nothing until Refresh (or Run, or the
// first request) has read the store.
func New(src Source, targets map[string]Target, opts Options) *Router {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Second
	}
	if opts.MirrorWorkers <= 0 {
		opts.MirrorWorkers = 4
	}
	if opts.MirrorQueue <= 0 {
		opts.MirrorQueue = 256
	}
	if opts.FirstWait == 0 {
		opts.FirstWait = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	r := &Router{src: src, targets: targets, opts: opts, log: opts.Log, endpoints: map[string]*endpointState{},
		mirrorq: make(chan *mirrorJob, opts.MirrorQueue), changes: make(chan struct{}, 1)}
	if opts.Seed != 0 {
		r.rng = rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15))
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.m = newMetrics(reg, r)
	for range opts.MirrorWorkers {
		r.workers.Add(1)
		go r.mirrorWorker()
	}
	return r
}

// Run refreshes every RefreshInterval, and at once after Changed, until ctx
// ends; failures are logged and retried at the next tick.
func (r *Router) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.RefreshInterval)
	defer t.Stop()
	for {
		if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("router: refresh", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.changes:
		}
	}
}

// Changed tells Run that the store changed (deploy.WithChangeHook calls it
// after this server's own changes), so that it refreshes now rather than at
// its next tick. It never blocks.
func (r *Router) Changed(string) {
	select {
	case r.changes <- struct{}{}:
	default: // a refresh is already due
	}
}

// Refresh reconciles the backends with the store: it builds backends for
// new deployments, replaces those whose model or settings changed (the
// replacement takes over once it is ready; the old one is closed after its
// last request), closes deleted ones and picks up traffic and mirror
// changes. An endpoint whose serial has not changed is not read again, so
// a Refresh that finds nothing new costs one query.
func (r *Router) Refresh(ctx context.Context) error {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	r.mu.RLock()
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		return errors.New("router: closed")
	}
	eps, err := r.src.ListEndpoints(ctx)
	if err != nil {
		return fmt.Errorf("router: list endpoints: %w", err)
	}
	seen := map[string]bool{}
	var errs []error
	for _, e := range eps {
		seen[e.Name] = true
		r.mu.RLock()
		es := r.endpoints[e.Name]
		same := es != nil && e.Serial != 0 && es.ep.Serial == e.Serial
		r.mu.RUnlock()
		if same {
			continue
		}
		deps, err := r.src.ListDeployments(ctx, e.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("router: list deployments of %s: %w", e.Name, err))
			continue
		}
		r.reconcile(e, deps)
	}
	var gone []*backendRef
	r.mu.Lock()
	for name, es := range r.endpoints {
		if !seen[name] {
			for _, d := range es.deps {
				gone = append(gone, d.cur, d.pending)
			}
			delete(r.endpoints, name)
		}
	}
	r.mu.Unlock()
	releaseAll(gone)
	r.settle(ctx)
	r.refreshed.Store(true)
	return errors.Join(errs...)
}

// reconcile takes endpoint e to its stored state; settle then builds the
// backends that are missing.
func (r *Router) reconcile(e deploy.Endpoint, deps []deploy.Deployment) {
	r.mu.Lock()
	es := r.endpoints[e.Name]
	next := &endpointState{ep: e, deps: map[string]*deploymentState{}}
	var gone []*backendRef
	now := r.opts.Now()
	for _, spec := range deps {
		spec = spec.Normalize()
		var d *deploymentState
		if es != nil {
			d = es.deps[spec.Name]
		}
		switch {
		case d == nil:
			d = &deploymentState{endpoint: e.Name, spec: spec, added: time.Now(), latency: r.m.latency.WithLabelValues(e.Name, spec.Name)}
			d.events.add(now, "created: "+spec.ModelVersion+" on target "+spec.Target)
		case needsReload(d.spec, spec):
			d.events.add(now, "changed: "+spec.ModelVersion+" is to replace "+d.spec.ModelVersion)
			gone = append(gone, d.pending)
			d.pending, d.retryAt, d.failures = nil, time.Time{}, 0
		}
		d.spec = spec
		next.deps[spec.Name] = d
		next.names = append(next.names, spec.Name)
	}
	sort.Strings(next.names)
	if es != nil {
		for name, d := range es.deps {
			if next.deps[name] == nil {
				gone = append(gone, d.cur, d.pending)
				r.m.latency.DeleteLabelValues(e.Name, name)
			}
		}
	}
	r.endpoints[e.Name] = next
	r.mu.Unlock()
	releaseAll(gone)
}

// settle promotes replacements that are ready (or whose predecessor is
// not), and builds the backends that are missing: for a new deployment,
// for a changed one (a replacement), and again after a failure, with
// backoff. The caller holds r.refreshMu.
func (r *Router) settle(ctx context.Context) {
	now := r.opts.Now()
	type job struct {
		d    *deploymentState
		spec deploy.Deployment
	}
	var jobs []job
	r.mu.Lock()
	for _, es := range r.endpoints {
		for _, d := range es.deps {
			if d.pending == nil && (d.cur == nil || needsReload(d.cur.spec, d.spec)) && !now.Before(d.retryAt) {
				jobs = append(jobs, job{d, d.spec})
			}
		}
	}
	r.mu.Unlock()
	for _, j := range jobs {
		b, err := r.build(ctx, j.d, j.spec)
		if err != nil {
			continue
		}
		r.mu.Lock()
		switch {
		case r.closed || !reflect.DeepEqual(j.d.spec, j.spec):
		case j.d.cur == nil:
			j.d.cur, b = b, nil
		default:
			j.d.pending, b = b, nil
		}
		r.mu.Unlock()
		if b != nil {
			b.release()
		}
	}
	r.promote()
}

// promote puts replacements that are ready, or whose predecessor is not,
// in their predecessor's place; the predecessor is closed after its last
// request.
func (r *Router) promote() {
	now := r.opts.Now()
	var gone []*backendRef
	r.mu.Lock()
	for _, es := range r.endpoints {
		for _, d := range es.deps {
			if d.pending != nil && (d.cur == nil || d.pending.b.Ready() || !d.cur.b.Ready()) {
				if d.cur != nil {
					d.events.add(now, "replaced "+d.cur.spec.ModelVersion+" with "+d.pending.spec.ModelVersion)
					if d.cur.spec.ModelVersion != d.pending.spec.ModelVersion {
						// The deployment's stats describe the model it
						// serves: a rollout judges the new one alone.
						d.stats.reset()
					}
				}
				gone = append(gone, d.cur)
				d.cur, d.pending = d.pending, nil
			}
		}
	}
	r.mu.Unlock()
	releaseAll(gone)
}

// build makes a backend of spec with its target. A failure is recorded on
// d and retried with backoff by settle.
func (r *Router) build(ctx context.Context, d *deploymentState, spec deploy.Deployment) (*backendRef, error) {
	target := r.targets[spec.Target]
	var b Backend
	var err error
	if target == nil {
		err = ferry.Errorf(ferry.ENOTIMPLEMENTED, "this server has no %s target", spec.Target)
	} else {
		b, err = target(ctx, d.endpoint, spec)
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		d.failures++
		d.lastErr = err
		d.retryAt = now.Add(backoff(d.failures))
		d.events.add(now, "failed to start "+spec.ModelVersion+": "+err.Error())
		r.log.Warn("router: starting a deployment", "endpoint", d.endpoint, "deployment", spec.Name, "model", spec.ModelVersion, "err", err)
		return nil, err
	}
	d.failures, d.lastErr = 0, nil
	ref := &backendRef{b: b, spec: spec, born: time.Now(), close: r.closeBackend(d)}
	ref.refs.Store(1)
	return ref, nil
}

// backoff is the wait before the n-th retry: 1s doubling up to a minute.
func backoff(n int) time.Duration {
	return min(time.Second<<min(n-1, 6), time.Minute)
}

// closeBackend returns the function that closes a released backend of d,
// in the background (Close waits for it).
func (r *Router) closeBackend(d *deploymentState) func(*backendRef) {
	return func(b *backendRef) {
		r.closing.Add(1)
		go func() {
			defer r.closing.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 30*time.Second)
			defer cancel()
			if err := b.b.Close(ctx); err != nil {
				r.log.Warn("router: closing a deployment backend", "endpoint", d.endpoint, "deployment", b.spec.Name, "err", err)
			}
			r.mu.Lock()
			d.events.add(r.opts.Now(), "closed "+b.spec.ModelVersion)
			r.mu.Unlock()
		}()
	}
}

func releaseAll(bs []*backendRef) {
	for _, b := range bs {
		if b != nil {
			b.release()
		}
	}
}

// needsReload reports whether going from old to new needs a new backend:
// anything but the rollout and the unpinned model URI.
func needsReload(old, new deploy.Deployment) bool {
	old.Rollout, new.Rollout = nil, nil
	old.Model, new.Model = "", ""
	return !reflect.DeepEqual(old, new)
}

// Close sends the mirrored requests still queued, stops the mirror
// workers and closes every backend (after its in-flight requests). The
// Router routes nothing afterwards.
func (r *Router) Close(ctx context.Context) error {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var gone []*backendRef
	for _, es := range r.endpoints {
		for _, d := range es.deps {
			gone = append(gone, d.cur, d.pending)
		}
	}
	r.endpoints = map[string]*endpointState{}
	r.mu.Unlock()
	r.cancel()
	releaseAll(gone)
	done := make(chan struct{})
	go func() { r.workers.Wait(); r.closing.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("router: close: backends still closing: %w", ctx.Err())
	}
}

// deployment returns the state of one deployment, or an ENOTFOUND error.
// The caller holds r.mu.
func (r *Router) deploymentLocked(endpoint, name string) (*endpointState, *deploymentState, error) {
	es := r.endpoints[endpoint]
	if es == nil {
		return nil, nil, ferry.Errorf(ferry.ENOTFOUND, "Endpoint '%s' does not exist; see ferry endpoints list.", clip(endpoint))
	}
	d := es.deps[name]
	if d == nil {
		return es, nil, ferry.Errorf(ferry.ENOTFOUND, "Endpoint '%s' has no deployment '%s'; its deployments: %s.", es.ep.Name, clip(name), nameList(es.names))
	}
	return es, d, nil
}

// Stats returns the requests routed to a deployment since since (at most
// an hour back), from this Router's memory; zero for an unknown one.
func (r *Router) Stats(endpoint, deployment string, since time.Time) deploy.Stats {
	r.mu.RLock()
	_, d, err := r.deploymentLocked(endpoint, deployment)
	r.mu.RUnlock()
	if err != nil {
		return deploy.Stats{}
	}
	return d.stats.since(r.opts.Now(), since)
}

// Ready reports whether a deployment has a backend ready for requests.
func (r *Router) Ready(endpoint, deployment string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, d, err := r.deploymentLocked(endpoint, deployment)
	return err == nil && d.cur != nil && d.cur.b.Ready()
}

// Serves reports whether d, as specified, has a ready backend: one built
// from d's current spec (a backend of an earlier model version, still
// serving while its replacement loads, does not count).
func (r *Router) Serves(d deploy.Deployment) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ds, err := r.deploymentLocked(d.EndpointName, d.Name)
	return err == nil && ds.cur != nil && ds.cur.b.Ready() && !needsReload(ds.cur.spec, d.Normalize())
}

// Started refreshes the Router if it never was (a server whose Run has not
// ticked yet, a command in local mode, which runs no Run); cheap once
// done. An error is EUNAVAILABLE.
func (r *Router) Started(ctx context.Context) error {
	if r.refreshed.Load() {
		return nil
	}
	if err := r.Refresh(ctx); err != nil {
		return ferry.Errorf(ferry.EUNAVAILABLE, "The endpoints could not be read: %v.", err)
	}
	return nil
}

// missRefreshEvery limits the refreshes that requests for unknown
// endpoints or deployments cause (so that a new endpoint answers at once
// rather than at the next Run tick, and a flood of wrong names costs at
// most one store query per period).
const missRefreshEvery = 250 * time.Millisecond

// refreshOnMiss refreshes after a request named an unknown endpoint or
// deployment, at most once per missRefreshEvery; it reports whether it did.
func (r *Router) refreshOnMiss(ctx context.Context) bool {
	now := time.Now().UnixNano()
	last := r.lastMiss.Load()
	if now-last < int64(missRefreshEvery) || !r.lastMiss.CompareAndSwap(last, now) {
		return false
	}
	return r.Refresh(ctx) == nil
}

// Status returns the deployments of endpoint by name; nil for an unknown
// endpoint.
func (r *Router) Status(endpoint string) []deploy.DeploymentStatus {
	r.mu.RLock()
	defer r.mu.RUnlock()
	es := r.endpoints[endpoint]
	if es == nil {
		return nil
	}
	out := make([]deploy.DeploymentStatus, 0, len(es.names))
	for _, name := range es.names {
		d := es.deps[name]
		s := deploy.DeploymentStatus{Endpoint: endpoint, Deployment: name, Target: d.spec.Target, ModelVersion: d.spec.ModelVersion,
			Traffic: es.ep.Traffic[name], Mirror: es.ep.MirrorTraffic[name]}
		err := d.lastErr
		if d.cur != nil {
			s.ModelVersion = d.cur.spec.ModelVersion
			s.Ready = d.cur.b.Ready()
			if f, ok := d.cur.b.(failer); ok && err == nil && !s.Ready {
				err = f.Err()
			}
		}
		if d.pending != nil {
			s.Pending = d.pending.spec.ModelVersion
		}
		if err != nil && !s.Ready {
			s.Error = err.Error()
		}
		out = append(out, s)
	}
	return out
}

func (r *Router) endpointNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.endpoints))
	for n := range r.endpoints {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Logs returns up to n recent log lines of a deployment: its backend's when
// the backend keeps them, else the Router's own events for it (started,
// failed, replaced, closed). An unknown deployment is ENOTFOUND.
func (r *Router) Logs(endpoint, deployment string, n int) ([]string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, d, err := r.deploymentLocked(endpoint, deployment)
	if err != nil {
		return nil, err
	}
	if d.cur != nil {
		if l, ok := d.cur.b.(logger); ok {
			return l.Logs(n), nil
		}
	}
	return d.events.last(n), nil
}

// Restart restarts a deployment's backend in place when it can (its
// Restart), else replaces it with a new one built from the same spec, which
// takes over once ready.
func (r *Router) Restart(ctx context.Context, endpoint, deployment string) error {
	r.mu.RLock()
	_, d, err := r.deploymentLocked(endpoint, deployment)
	var cur *backendRef
	if err == nil && d.cur != nil {
		cur = d.cur
		cur.refs.Add(1)
	}
	r.mu.RUnlock()
	if err != nil {
		return err
	}
	if cur != nil {
		defer cur.release()
		if rs, ok := cur.b.(restarter); ok {
			r.mu.Lock()
			d.events.add(r.opts.Now(), "restarting")
			r.mu.Unlock()
			return rs.Restart(ctx)
		}
	}
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	r.mu.RLock()
	spec := d.spec
	r.mu.RUnlock()
	b, err := r.build(ctx, d, spec)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := d.pending
	d.pending = b
	d.events.add(r.opts.Now(), "restarting: loading "+spec.ModelVersion+" again")
	r.mu.Unlock()
	if old != nil {
		old.release()
	}
	r.promote()
	return nil
}

// WaitReady waits until a deployment's backend is ready and no replacement
// is pending (promoting a ready replacement), or ctx ends.
func (r *Router) WaitReady(ctx context.Context, endpoint, deployment string) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		r.mu.RLock()
		_, d, err := r.deploymentLocked(endpoint, deployment)
		done := err == nil && d.cur != nil && d.pending == nil && d.cur.b.Ready()
		promote := err == nil && d.pending != nil && d.pending.b.Ready()
		r.mu.RUnlock()
		if err != nil || done {
			return err
		}
		if promote {
			r.promote()
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("router: waiting for %s/%s: %w", endpoint, deployment, ctx.Err())
		case <-t.C:
		}
	}
}

// eventRing keeps a deployment's last events for Logs.
type eventRing struct {
	lines [64]string
	n     int
}

func (e *eventRing) add(now time.Time, msg string) {
	e.lines[e.n%len(e.lines)] = now.UTC().Format(time.RFC3339) + " " + msg
	e.n++
}

func (e *eventRing) last(n int) []string {
	if n <= 0 || n > len(e.lines) {
		n = len(e.lines)
	}
	n = min(n, e.n)
	out := make([]string, 0, n)
	for i := e.n - n; i < e.n; i++ {
		out = append(out, e.lines[i%len(e.lines)])
	}
	return out
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}

func nameList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
