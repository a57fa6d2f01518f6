package monitor

import (
	"cmp"
	"slices"
	"time"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/dataset"
)

// MergeWindows merges the profiles of one window written by several sources
// (replicas): parts holds one WindowProfile per source, in any order, and
// every element with the same (Endpoint, Deployment, Start, Seconds) is
// merged into one, whose Sources lists them all. The result is ordered by
// Start, then Deployment and Seconds. Sources are merged in name order, so
// the result does not depend on the order of parts.
//
// Merging is dataset.Merge: exact for counts, histograms and sketches when
// the sources profiled on the same edges (the baseline's), as collectors do.
// Profiles that do not merge are EINVALID naming the window.
func MergeWindows(parts []WindowProfile) ([]WindowProfile, error) {
	type key struct {
		endpoint, deployment string
		start                int64
		seconds              int64
	}
	sorted := slices.Clone(parts)
	slices.SortStableFunc(sorted, func(a, b WindowProfile) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Deployment, b.Deployment),
			cmp.Compare(a.Seconds, b.Seconds), cmp.Compare(firstSource(a), firstSource(b)))
	})
	var out []WindowProfile
	var last key
	for _, p := range sorted {
		k := key{p.Endpoint, p.Deployment, p.Start.UnixMilli(), p.Seconds}
		if len(out) == 0 || k != last {
			p.Sources = slices.Clone(p.Sources)
			out = append(out, p)
			last = k
			continue
		}
		m := &out[len(out)-1]
		merged, err := mergeProfiles(m.Profile, p.Profile)
		if err != nil {
			return nil, ferry.Errorf(ferry.EINVALID, "window %s of %s/%s: the profiles of %v and %v do not merge: %s",
				m.Start.Format(time.RFC3339), m.Endpoint, m.Deployment, m.Sources, p.Sources, ferry.ErrorMessage(err))
		}
		m.Profile = merged
		m.Rows += p.Rows
		m.Sources = append(m.Sources, p.Sources...)
		if p.UpdatedAt.After(m.UpdatedAt) {
			m.UpdatedAt = p.UpdatedAt
		}
	}
	for i := range out {
		slices.Sort(out[i].Sources)
	}
	return out, nil
}

// MergeRange merges windows (of any deployments and lengths, such as
// Service.Profiles returns for a range) into one profile of everything
// they saw. No windows is an empty profile.
func MergeRange(windows []WindowProfile) (dataset.Profile, error) {
	var out dataset.Profile
	for _, w := range windows {
		var err error
		if out, err = mergeProfiles(out, w.Profile); err != nil {
			return dataset.Profile{}, ferry.Errorf(ferry.EINVALID, "window %s of %s/%s does not merge with the windows before it: %s",
				w.Start.Format(time.RFC3339), w.Endpoint, w.Deployment, ferry.ErrorMessage(err))
		}
	}
	return out, nil
}

// mergeProfiles is dataset.Merge where an empty profile (no columns and no
// rows, as of a window that saw nothing) merges with anything.
func mergeProfiles(a, b dataset.Profile) (dataset.Profile, error) {
	switch {
	case len(a.Columns) == 0 && a.Rows == 0:
		return b, nil
	case len(b.Columns) == 0 && b.Rows == 0:
		return a, nil
	}
	return dataset.Merge(a, b)
}

func firstSource(w WindowProfile) string {
	if len(w.Sources) == 0 {
		return ""
	}
	return w.Sources[0]
}
