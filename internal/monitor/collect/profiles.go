package collect

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ferry-ml/ferry/internal/dataset"
)

// ProfileSink receives the profiles of the logged rows. Each call carries
// the profile of rows written since the previous call for the same
// endpoint, deployment and window — a delta, not the window's whole
// profile: the sink merges it (dataset.Merge) into what it holds for the
// window, which is also how the profiles of several replicas combine. A
// delta whose PutProfile fails is merged into the next one for its window.
// Calls come from one goroutine per Collector.
type ProfileSink interface {
	PutProfile(ctx context.Context, endpoint, deployment string, windowStart time.Time, p dataset.Profile) error
}

// MemoryProfiles is a ProfileSink in memory (tests, local sessions): it
// merges the deltas of each window. Safe for concurrent use.
type MemoryProfiles struct {
	mu sync.Mutex
	m  map[WindowKey]dataset.Profile
}

// WindowKey names one window of one deployment.
type WindowKey struct {
	Endpoint, Deployment string
	Start                time.Time
}

// PutProfile merges p into the window's profile.
func (mp *MemoryProfiles) PutProfile(_ context.Context, endpoint, deployment string, windowStart time.Time, p dataset.Profile) error {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.m == nil {
		mp.m = map[WindowKey]dataset.Profile{}
	}
	k := WindowKey{endpoint, deployment, windowStart.UTC()}
	if old, ok := mp.m[k]; ok {
		merged, err := dataset.Merge(old, p)
		if err != nil {
			return err
		}
		p = merged
	}
	mp.m[k] = p
	return nil
}

// Profile returns the merged profile of a window, and whether there is one.
func (mp *MemoryProfiles) Profile(endpoint, deployment string, windowStart time.Time) (dataset.Profile, bool) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	p, ok := mp.m[WindowKey{endpoint, deployment, windowStart.UTC()}]
	return p, ok
}

// Windows returns the windows held, sorted by endpoint, deployment, start.
func (mp *MemoryProfiles) Windows() []WindowKey {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	return slices.SortedFunc(maps.Keys(mp.m), func(a, b WindowKey) int {
		switch {
		case a.Endpoint != b.Endpoint:
			return cmpString(a.Endpoint, b.Endpoint)
		case a.Deployment != b.Deployment:
			return cmpString(a.Deployment, b.Deployment)
		}
		return a.Start.Compare(b.Start)
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// frame builds the frame of s's features and outputs that profiles see:
// doubles and ints as numeric columns, strings as categorical, booleans as
// the categories "true" and "false".
func frame(s *segment) *dataset.Frame {
	cols := make([]*dataset.Column, 0, len(s.cols))
	for _, c := range s.cols {
		switch c.kind {
		case kindDouble:
			cols = append(cols, dataset.NewNumeric(c.name, c.f[:s.rows:s.rows]))
		case kindInt:
			f := make([]float64, s.rows)
			for i, v := range c.i {
				f[i] = float64(v)
			}
			cols = append(cols, dataset.NewNumeric(c.name, f))
		case kindBool:
			v := make([]string, s.rows)
			for i, b := range c.b {
				v[i] = "false"
				if b {
					v[i] = "true"
				}
			}
			cols = append(cols, dataset.NewCategorical(c.name, v))
		default:
			cols = append(cols, dataset.NewCategorical(c.name, c.s))
		}
	}
	return &dataset.Frame{Columns: cols}
}
