package router

import (
	"sync"
	"time"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// statsRetention is how long a deployment's per-second stats are kept.
const statsRetention = time.Hour + time.Minute

// statsWindow is the requests one deployment answered, in one-second
// buckets over the last statsRetention, allocated as traffic arrives.
type statsWindow struct {
	mu      sync.Mutex
	buckets [int(statsRetention / time.Second)]*secondStats
}

type secondStats struct {
	sec int64 // Unix second the bucket holds
	deploy.Stats
}

// observe adds one request that ended at now and took d.
func (w *statsWindow) observe(now time.Time, d time.Duration, failed bool) {
	sec := now.Unix()
	i := int(sec % int64(len(w.buckets)))
	w.mu.Lock()
	b := w.buckets[i]
	if b == nil {
		b = &secondStats{sec: sec}
		w.buckets[i] = b
	} else if b.sec != sec {
		*b = secondStats{sec: sec}
	}
	b.Observe(d, failed)
	w.mu.Unlock()
}

// reset forgets every request observed so far.
func (w *statsWindow) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.buckets[:])
}

// since merges the buckets from since's second to now's (at most
// statsRetention back).
func (w *statsWindow) since(now, since time.Time) deploy.Stats {
	var out deploy.Stats
	from, to := since.Unix(), now.Unix()
	if oldest := to - int64(len(w.buckets)) + 1; from < oldest {
		from = oldest
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.buckets {
		if b != nil && b.sec >= from && b.sec <= to {
			out.Merge(b.Stats)
		}
	}
	return out
}
