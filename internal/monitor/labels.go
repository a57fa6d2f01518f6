package monitor

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/auth"
)

// Limits of one batch of labels.
const (
	MaxLabels         = 100_000 // labels per PutLabels call
	MaxRequestIDBytes = 256
	MaxLabelBytes     = 1024
)

// PutLabels stores the ground truth of requests of endpoint, each replacing
// the label stored before for its request id (the last one sent wins, so
// labels may come days late, be corrected, or be sent twice). Each label
// needs its request id and value; its time is optional. The principal of
// ctx is recorded as who sent them.
//
// Errors: EINVALID naming the first bad label (labels[i]) or an empty
// batch, ETOOLARGE past MaxLabels, ENOTFOUND when the endpoint does not
// exist (when the Service knows the endpoints).
func (s *Service) PutLabels(ctx context.Context, endpoint string, labels []Label) (LabelCounts, error) {
	if endpoint == "" {
		return LabelCounts{}, ferry.Errorf(ferry.EINVALID, "labels: name the endpoint they are for")
	}
	if len(labels) == 0 {
		return LabelCounts{}, ferry.Errorf(ferry.EINVALID, "labels for endpoint %s: the batch is empty; send at least one label (request_id, label[, time])", endpoint)
	}
	if len(labels) > MaxLabels {
		return LabelCounts{}, ferry.Errorf(ferry.ETOOLARGE, "labels for endpoint %s: %d labels in one batch; send at most %d per call", endpoint, len(labels), MaxLabels)
	}
	if s.endpoints != nil {
		if _, err := s.endpoints.GetEndpoint(ctx, endpoint); err != nil {
			return LabelCounts{}, err
		}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	who := auth.PrincipalFrom(ctx)
	// The last label of a request id in the batch wins.
	last := make(map[string]int, len(labels))
	norm := make([]Label, len(labels))
	for i, l := range labels {
		l, err := normalizeLabel(l)
		if err != nil {
			return LabelCounts{}, ferry.Errorf(ferry.EINVALID, "labels for endpoint %s: labels[%d]%s: %s", endpoint, i, idHint(labels[i].RequestID), err)
		}
		norm[i] = l
		last[l.RequestID] = i
	}
	batch := make([]Label, 0, len(last))
	for i, l := range norm {
		if last[l.RequestID] != i {
			continue
		}
		l.Endpoint, l.ReceivedAt, l.Principal = endpoint, now, who
		batch = append(batch, l)
	}
	counts, err := s.store.PutLabels(ctx, batch)
	if err != nil {
		return LabelCounts{}, err
	}
	counts.Endpoint, counts.Received = endpoint, len(labels)
	counts.Unchanged += len(labels) - len(batch)
	if counts.Total, err = s.store.CountLabels(ctx, endpoint); err != nil {
		return LabelCounts{}, err
	}
	s.log.InfoContext(ctx, "labels stored", "endpoint", endpoint, "principal", who, "received", counts.Received,
		"created", counts.Created, "replaced", counts.Replaced, "unchanged", counts.Unchanged)
	return counts, nil
}

// LabelsFor returns the stored labels of the given requests of endpoint by
// request id, for joining with the requests' predictions; requests without
// a label are absent from the map.
func (s *Service) LabelsFor(ctx context.Context, endpoint string, requestIDs []string) (map[string]Label, error) {
	ls, err := s.store.GetLabels(ctx, endpoint, requestIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Label, len(ls))
	for _, l := range ls {
		out[l.RequestID] = l
	}
	return out, nil
}

// Labels returns the labels of endpoint received in [from, to) (zero
// times: unbounded), oldest first.
func (s *Service) Labels(ctx context.Context, endpoint string, from, to time.Time) ([]Label, error) {
	return s.store.ListLabels(ctx, endpoint, from, to)
}

// CountLabels returns how many requests of endpoint have a label.
func (s *Service) CountLabels(ctx context.Context, endpoint string) (int64, error) {
	return s.store.CountLabels(ctx, endpoint)
}

// normalizeLabel trims l's request id and value and puts its time in UTC
// at millisecond precision (as stored); the error says what is wrong,
// without saying which label.
func normalizeLabel(l Label) (Label, error) {
	l.RequestID = strings.TrimSpace(l.RequestID)
	l.Value = strings.TrimSpace(l.Value)
	switch {
	case l.RequestID == "":
		return l, fmt.Errorf("request_id is required")
	case len(l.RequestID) > MaxRequestIDBytes:
		return l, fmt.Errorf("request_id is %d bytes long; at most %d", len(l.RequestID), MaxRequestIDBytes)
	case !utf8.ValidString(l.RequestID) || strings.ContainsFunc(l.RequestID, isControl):
		return l, fmt.Errorf("request_id %q has invalid UTF-8 or control characters", l.RequestID)
	case l.Value == "":
		return l, fmt.Errorf("label is required (a number or a class)")
	case len(l.Value) > MaxLabelBytes:
		return l, fmt.Errorf("label is %d bytes long; at most %d", len(l.Value), MaxLabelBytes)
	case !utf8.ValidString(l.Value) || strings.ContainsFunc(l.Value, isControl):
		return l, fmt.Errorf("label %q has invalid UTF-8 or control characters", l.Value)
	}
	if !l.Time.IsZero() {
		l.Time = l.Time.UTC().Truncate(time.Millisecond)
		if y := l.Time.Year(); y < 1970 || y > 9999 {
			return l, fmt.Errorf("time %s is out of range (years 1970 to 9999)", l.Time.Format(time.RFC3339))
		}
	}
	return l, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// idHint names a label's request id in an error, when it has one.
func idHint(id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	if len(id) > 64 {
		id = id[:61] + "..."
	}
	return fmt.Sprintf(" (request_id %q)", id)
}
