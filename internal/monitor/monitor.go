// Package monitor is the monitor stage: ground-truth labels joined to
// production requests by request id, and the per-window profiles of what
// the deployments saw, stored by every replica and merged by readers, so
// that drift over any range comes from stored profiles rather than raw rows.
//
// Service is the only way in. The drift metrics (monitor/drift), the data
// collector (monitor/collect) and the alerts (monitor/alert) build on it.
package monitor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
	"github.com/ferry-ml/ferry/internal/deploy"
)

// DefaultWindow is the length of a profile window when Options leaves it 0.
const DefaultWindow = time.Hour

// Label is the ground truth of one request of an endpoint: what the model
// should have answered, known perhaps days after it did.
type Label struct {
	Endpoint  string `json:"endpoint"`
	RequestID string `json:"request_id"`
	// Value is the truth as text: a number ("1", "0.25") or a class ("spam").
	Value string `json:"label"`
	// Time is when the truth happened; zero when the sender did not say.
	Time time.Time `json:"time,omitzero"`
	// ReceivedAt is when Ferry stored this label; Principal who sent it.
	ReceivedAt time.Time `json:"received_at,omitzero"`
	Principal  string    `json:"principal,omitempty"`
}

// LabelCounts is what one PutLabels did.
type LabelCounts struct {
	Endpoint string `json:"endpoint"`
	Received int    `json:"received"` // labels in the batch
	Created  int    `json:"created"`  // for requests that had no label
	Replaced int    `json:"replaced"` // a different label or time replaced the stored one
	// Unchanged labels were stored already as they are, or were superseded
	// by a later label for the same request in the same batch.
	Unchanged int `json:"unchanged"`
	// Total is the endpoint's number of labelled requests afterwards.
	Total int64 `json:"total"`
}

// WindowProfile is the profile of what one deployment of an endpoint saw
// in one window: the merge of every replica's profile of that window.
type WindowProfile struct {
	Endpoint   string    `json:"endpoint"`
	Deployment string    `json:"deployment"`
	Start      time.Time `json:"window_start"`
	// Seconds is the window's length.
	Seconds int64 `json:"window_seconds"`
	// Sources are the replicas whose profiles are merged here, sorted.
	Sources []string `json:"sources"`
	Rows    int64    `json:"rows"`
	// UpdatedAt is when the last of its sources wrote.
	UpdatedAt time.Time       `json:"updated_at"`
	Profile   dataset.Profile `json:"profile"`
}

// Store keeps labels and window profiles. Implementations are safe for
// concurrent use by several processes sharing one database.
type Store interface {
	// PutLabels stores labels (valid, with distinct request ids per
	// endpoint), each replacing the stored label of its (endpoint,
	// request id), in one transaction: the last write wins. Its counts
	// leave Endpoint and Total zero. Replaying a batch changes nothing.
	PutLabels(ctx context.Context, labels []Label) (LabelCounts, error)
	// GetLabels returns the stored labels of the given requests of
	// endpoint, in no particular order; unknown ids are left out.
	GetLabels(ctx context.Context, endpoint string, requestIDs []string) ([]Label, error)
	// ListLabels returns the labels of endpoint received in [from, to)
	// (zero times: unbounded), oldest first.
	ListLabels(ctx context.Context, endpoint string, from, to time.Time) ([]Label, error)
	// CountLabels returns how many requests of endpoint have a label.
	CountLabels(ctx context.Context, endpoint string) (int64, error)

	// PutProfile creates or replaces source's profile of the window
	// (w.Endpoint, w.Deployment, w.Start, w.Seconds); the profiles of
	// other sources of that window are kept. w.Sources is ignored.
	PutProfile(ctx context.Context, source string, w WindowProfile) error
	// ListProfiles returns, oldest first, the windows of endpoint's
	// deployment ("" for every deployment) that start in [from, to)
	// (zero times: unbounded), each the merge (MergeWindows) of its
	// sources' profiles; EINVALID when they do not merge.
	ListProfiles(ctx context.Context, endpoint, deployment string, from, to time.Time) ([]WindowProfile, error)

	// PutMonitor creates m or replaces the stored monitor of its name,
	// incrementing its serial, and appends ev to the audit in the same
	// transaction; it returns the monitor as stored.
	PutMonitor(ctx context.Context, m Monitor, updatedAt time.Time, ev MonitorEvent) (StoredMonitor, error)
	// GetMonitor returns one monitor; ENOTFOUND when there is none.
	GetMonitor(ctx context.Context, name string) (StoredMonitor, error)
	// ListMonitors returns every monitor, by name.
	ListMonitors(ctx context.Context) ([]StoredMonitor, error)
	// DeleteMonitor deletes one monitor and appends ev to the audit;
	// ENOTFOUND when there is none.
	DeleteMonitor(ctx context.Context, name string, ev MonitorEvent) error
	// ListMonitorAudit returns the audit of monitor ("" for all), oldest
	// first.
	ListMonitorAudit(ctx context.Context, monitor string) ([]MonitorEvent, error)
}

// Endpoints reads endpoints (ENOTFOUND when missing); deploy.Service
// satisfies it.
type Endpoints interface {
	GetEndpoint(ctx context.Context, name string) (deploy.Endpoint, error)
}

// Options configure a Service.
type Options struct {
	// Endpoints, when set, refuses labels for endpoints that do not exist.
	Endpoints Endpoints
	// Alerts, when set, gives Status the monitors' alert states.
	Alerts AlertReader
	// Window is the length of profile windows; 0: DefaultWindow.
	Window time.Duration
	// Source names this process among the replicas writing profiles; ""
	// makes one from the host name and a random suffix, so that a
	// restarted process adds its own profiles rather than replacing those
	// of its previous life.
	Source string
	Now    func() time.Time // nil: time.Now
	Log    *slog.Logger     // nil: discard
}

// Service is the only way in to labels and window profiles. It is safe for
// concurrent use.
type Service struct {
	store     Store
	endpoints Endpoints
	alerts    AlertReader
	window    time.Duration
	source    string
	now       func() time.Time
	log       *slog.Logger

	// mine is this replica's running profile of each recent window
	// (the collector sends what it saw since its last call).
	mu   sync.Mutex
	mine map[windowKey]dataset.Profile
}

type windowKey struct {
	endpoint, deployment string
	start                int64
}

// keepWindows is how many windows back a late part still merges into this
// replica's running profile.
const keepWindows = 24

// NewService returns a Service over store.
func NewService(store Store, opts Options) *Service {
	s := &Service{store: store, endpoints: opts.Endpoints, alerts: opts.Alerts, window: opts.Window, source: opts.Source, now: opts.Now, log: opts.Log, mine: map[windowKey]dataset.Profile{}}
	if s.window <= 0 {
		s.window = DefaultWindow
	}
	if s.source == "" {
		s.source = newSource()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// newSource names this process: its host name and 8 random hex digits.
func newSource() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ferry"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// Window is the length of this service's profile windows.
func (s *Service) Window() time.Duration { return s.window }

// Source is the name under which this service stores its profiles.
func (s *Service) Source() string { return s.source }

// WindowStart is the start of the window holding t: t truncated to the
// window length, in UTC.
func (s *Service) WindowStart(t time.Time) time.Time { return t.UTC().Truncate(s.window) }

// PutProfile adds p, the profile of rows this replica saw in the window
// starting at windowStart of endpoint's deployment since its last call
// (the collector's ProfileSink), to this replica's profile of the window,
// and stores the sum as this replica's row; other replicas' rows are kept,
// and readers merge them. A part older than 24 windows starts a new row
// sum. EINVALID when endpoint or deployment is empty, windowStart is zero,
// or p does not merge with the window's profile (other edges).
func (s *Service) PutProfile(ctx context.Context, endpoint, deployment string, windowStart time.Time, p dataset.Profile) error {
	switch {
	case endpoint == "":
		return ferry.Errorf(ferry.EINVALID, "a window profile needs its endpoint")
	case deployment == "":
		return ferry.Errorf(ferry.EINVALID, "a window profile of endpoint %s needs its deployment", endpoint)
	case windowStart.IsZero():
		return ferry.Errorf(ferry.EINVALID, "a window profile of %s/%s needs its window's start", endpoint, deployment)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := windowKey{endpoint, deployment, windowStart.UTC().UnixMilli()}
	if prev, ok := s.mine[k]; ok {
		merged, err := dataset.Merge(prev, p)
		if err != nil {
			return ferry.Errorf(ferry.EINVALID, "window profile of %s/%s at %s: %v", endpoint, deployment, windowStart.UTC().Format(time.RFC3339), err)
		}
		p = merged
	}
	w := WindowProfile{
		Endpoint: endpoint, Deployment: deployment, Start: windowStart.UTC(), Seconds: int64(s.window / time.Second),
		Rows: p.Rows, UpdatedAt: s.now().UTC(), Profile: p,
	}
	if err := s.store.PutProfile(ctx, s.source, w); err != nil {
		return err
	}
	s.mine[k] = p
	oldest := windowStart.Add(-keepWindows * s.window).UTC().UnixMilli()
	for o := range s.mine {
		if o.start < oldest {
			delete(s.mine, o)
		}
	}
	return nil
}

// Profiles returns the windows of endpoint's deployment ("" for every
// deployment of it) starting in [from, to) (zero times: unbounded), oldest
// first, each merged across replicas.
func (s *Service) Profiles(ctx context.Context, endpoint, deployment string, from, to time.Time) ([]WindowProfile, error) {
	if endpoint == "" {
		return nil, ferry.Errorf(ferry.EINVALID, "profiles: name the endpoint")
	}
	return s.store.ListProfiles(ctx, endpoint, deployment, from, to)
}

// ProfileRange returns one profile of everything endpoint's deployment (""
// for all) saw in the windows starting in [from, to): MergeRange of
// Profiles. A range with no window is an empty profile (Rows 0, no columns).
func (s *Service) ProfileRange(ctx context.Context, endpoint, deployment string, from, to time.Time) (dataset.Profile, error) {
	ws, err := s.Profiles(ctx, endpoint, deployment, from, to)
	if err != nil {
		return dataset.Profile{}, err
	}
	return MergeRange(ws)
}
