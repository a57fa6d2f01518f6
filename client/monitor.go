package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ferry-ml/ferry/internal/monitor"
)

// The monitor resources, as the server's /api/v1 speaks them.
type (
	// Label is the ground truth of one request of an endpoint.
	Label = monitor.Label
	// LabelCounts is what storing a batch of labels did.
	LabelCounts = monitor.LabelCounts
)

// Content types of a labels body (SendLabels).
const (
	LabelsJSON = "application/json"
	LabelsCSV  = "text/csv"
)

type wireLabel struct {
	RequestID string `json:"request_id"`
	Label     string `json:"label"`
	Time      string `json:"time,omitempty"`
}

// PutLabels stores the ground truth of requests of endpoint; each label
// needs RequestID and Value, Time is optional (the other fields are the
// server's to set). A later label for a request replaces the one before.
func (c *Client) PutLabels(ctx context.Context, endpoint string, labels []Label) (LabelCounts, error) {
	batch := struct {
		Labels []wireLabel `json:"labels"`
	}{Labels: make([]wireLabel, len(labels))}
	for i, l := range labels {
		batch.Labels[i] = wireLabel{RequestID: l.RequestID, Label: l.Value}
		if !l.Time.IsZero() {
			batch.Labels[i].Time = l.Time.UTC().Format(time.RFC3339Nano)
		}
	}
	body, err := json.Marshal(batch)
	if err != nil {
		return LabelCounts{}, fmt.Errorf("client: encode labels: %w", err)
	}
	return c.SendLabels(ctx, endpoint, bytes.NewReader(body), LabelsJSON)
}

// SendLabels sends a labels file as it is: ctype LabelsCSV for CSV with a
// header naming request_id, label and optionally time, LabelsJSON for
// {"labels": [{"request_id": ..., "label": ..., "time": ...}]}. The
// server's errors name the line or label at fault.
func (c *Client) SendLabels(ctx context.Context, endpoint string, body io.Reader, ctype string) (LabelCounts, error) {
	path := "/api/v1/endpoints" + pathEscape(endpoint) + "/labels"
	resp, err := c.send(ctx, http.MethodPost, path, nil, body, ctype)
	if err != nil {
		return LabelCounts{}, err
	}
	defer resp.Body.Close()
	var out LabelCounts
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return LabelCounts{}, fmt.Errorf("client: POST %s: decode response: %w", path, err)
	}
	return out, nil
}
