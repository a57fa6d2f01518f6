package collect

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ml/ferry/internal/dataset"
)

// writer is the Collector's one goroutine: it owns every stream.
type writer struct {
	c       *Collector
	streams map[streamKey]*stream
	src     []source // scratch
}

type streamKey struct{ endpoint, deployment string }

// stream is one deployment's segment and profile state.
type stream struct {
	key                      streamKey
	seg                      *segment
	seq                      int
	rows, segments, failed   prometheus.Counter
	bytes                    prometheus.Counter
	edges                    dataset.Edges // fixed edges of version's profiles
	version                  string
	pending                  map[int64]dataset.Profile // unsent deltas by window start (Unix s)
	lastEdgesErr, lastPutErr string
}

func newWriter(c *Collector) *writer {
	return &writer{c: c, streams: map[streamKey]*stream{}}
}

func (w *writer) run() {
	c := w.c
	defer close(c.done)
	tick := time.NewTicker(c.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case r := <-c.q:
			w.handle(r)
		case <-tick.C:
			w.rollAged()
			c.m.queue.Set(float64(c.queued.Load()))
		case <-c.stop:
			for {
				select {
				case r := <-c.q:
					w.handle(r)
					continue
				default:
				}
				break
			}
			for _, s := range w.streams {
				w.flush(s)
			}
			c.m.queue.Set(float64(c.queued.Load()))
			return
		}
	}
}

func (w *writer) handle(r *record) {
	if r.tap == nil {
		if r.p.Rows < 0 {
			for _, s := range w.streams {
				w.flush(s)
			}
		}
		close(r.sync)
		return
	}
	w.c.queued.Add(-int64(max(r.p.Rows, 1)))
	t := r.tap
	k := streamKey{t.endpoint, t.deployment}
	s := w.streams[k]
	if s == nil {
		m := w.c.m
		s = &stream{
			key: k, seg: newSegment(), pending: map[int64]dataset.Profile{},
			rows: m.rows.WithLabelValues(k.endpoint, k.deployment), segments: m.segments.WithLabelValues(k.endpoint, k.deployment),
			failed: m.failed.WithLabelValues(k.endpoint, k.deployment), bytes: m.bytes.WithLabelValues(k.endpoint, k.deployment),
		}
		w.streams[k] = s
	}
	w.src = layout(&r.p, t.inputs, t.outputs, w.src)
	seg := s.seg
	now := w.c.opts.Now().UnixNano()
	if seg.rows > 0 && (!seg.fits(w.src) || r.p.Time.Unix()/3600*3600 != seg.hour || r.p.Version != s.version ||
		now-seg.opened >= int64(w.c.opts.SegmentAge)) {
		w.flush(s)
	}
	if r.p.Version != s.version {
		s.version, s.edges = r.p.Version, nil // another model: its own baseline
	}
	seg.add(&r.p, w.src, now)
	if seg.rows >= w.c.opts.SegmentRows || seg.bytes >= w.c.opts.SegmentBytes {
		w.flush(s)
	}
}

// rollAged writes the segments whose first row is SegmentAge old.
func (w *writer) rollAged() {
	now := w.c.opts.Now().UnixNano()
	for _, s := range w.streams {
		if s.seg.rows > 0 && now-s.seg.opened >= int64(w.c.opts.SegmentAge) {
			w.flush(s)
		}
	}
}

// flush writes s's segment, if any, and hands its profiles to the sink.
// A segment that cannot be written is logged and its rows counted as
// failed; it is not retried (the collector must not grow without bound).
func (w *writer) flush(s *stream) {
	seg := s.seg
	if seg.rows == 0 {
		return
	}
	defer seg.reset()
	c := w.c
	ctx := c.wctx
	w.profile(ctx, s)
	data, err := encode(seg, s.key.endpoint, s.key.deployment)
	if err == nil {
		s.seq++
		hour := time.Unix(seg.hour, 0).UTC()
		key := fmt.Sprintf("%s/%s/%s/date=%s/hour=%02d/part-%s-%s-%06d.parquet", c.opts.Prefix, s.key.endpoint, s.key.deployment,
			hour.Format("2006-01-02"), hour.Hour(), time.Unix(0, seg.opened).UTC().Format("20060102T150405Z"), c.instance, s.seq)
		_, err = c.store.Put(ctx, key, bytes.NewReader(data))
	}
	if err != nil {
		s.failed.Add(float64(seg.rows))
		c.log.Error("collect: writing an inference-log segment", "endpoint", s.key.endpoint, "deployment", s.key.deployment, "rows", seg.rows, "err", err)
		return
	}
	s.rows.Add(float64(seg.rows))
	s.segments.Inc()
	s.bytes.Add(float64(len(data)))
}

// profile adds the segment's rows to the pending profile of each window
// they fall in, on the stream's edges, and hands the deltas to the sink.
func (w *writer) profile(ctx context.Context, s *stream) {
	c := w.c
	seg := s.seg
	if c.opts.Profiles == nil || len(seg.cols) == 0 {
		return
	}
	f := frame(seg)
	win := int64(c.opts.Window / time.Microsecond)
	first := floorDiv(seg.times[0], win)
	split := false
	for _, t := range seg.times[:seg.rows] {
		if floorDiv(t, win) != first {
			split = true
			break
		}
	}
	parts := map[int64]*dataset.Frame{first: f}
	if split {
		idx := map[int64][]int{}
		for r, t := range seg.times[:seg.rows] {
			k := floorDiv(t, win)
			idx[k] = append(idx[k], r)
		}
		clear(parts)
		for k, rows := range idx {
			parts[k] = f.Take(rows)
		}
	}
	if s.edges == nil {
		s.edges = w.baseline(ctx, s)
	}
	for k, part := range parts {
		p, err := dataset.ProfileWithEdges(part, s.edges)
		if err != nil {
			c.log.Warn("collect: profiling on the baseline's edges; profiling without them", "endpoint", s.key.endpoint, "deployment", s.key.deployment, "err", err)
			s.edges = dataset.Edges{}
			p, _ = dataset.ProfileWithEdges(part, nil)
		}
		fixEdges(s.edges, p)
		start := k * win / 1e6 // Unix seconds
		if old, ok := s.pending[start]; ok {
			if merged, err := dataset.Merge(old, p); err == nil {
				p = merged
			} else {
				c.log.Warn("collect: dropping an unsent window profile that no longer merges", "endpoint", s.key.endpoint, "deployment", s.key.deployment, "err", err)
			}
		}
		s.pending[start] = p
	}
	for start, p := range s.pending {
		if err := c.opts.Profiles.PutProfile(ctx, s.key.endpoint, s.key.deployment, time.Unix(start, 0).UTC(), p); err != nil {
			if msg := err.Error(); msg != s.lastPutErr {
				c.log.Error("collect: storing a window profile; kept for the next segment", "endpoint", s.key.endpoint, "deployment", s.key.deployment, "err", err)
				s.lastPutErr = msg
			}
			continue
		}
		delete(s.pending, start)
	}
}

// baseline returns the baseline edges of the stream's model version, or
// empty edges.
func (w *writer) baseline(ctx context.Context, s *stream) dataset.Edges {
	e := dataset.Edges{}
	if w.c.opts.Edges == nil {
		return e
	}
	b, err := w.c.opts.Edges(ctx, s.key.endpoint, s.key.deployment, s.version)
	if err != nil {
		if msg := err.Error(); msg != s.lastEdgesErr {
			w.c.log.Warn("collect: no baseline edges; the first rows fix them", "endpoint", s.key.endpoint, "deployment", s.key.deployment, "err", err)
			s.lastEdgesErr = msg
		}
		return e
	}
	for k, v := range b {
		e[k] = v
	}
	return e
}

// fixEdges adds to edges the edges of p's columns that have none yet and
// whose profile has some (a numeric column with a histogram, a categorical
// one with categories), so that later profiles of the stream merge with
// this one.
func fixEdges(edges dataset.Edges, p dataset.Profile) {
	for name, e := range p.Edges() {
		if _, ok := edges[name]; ok || (len(e.Bins) < 2 && len(e.Categories) == 0) {
			continue
		}
		edges[name] = e
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
