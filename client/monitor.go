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
	// Monitor is the resource kind: Monitor.
	Monitor = monitor.Monitor
	// StoredMonitor is a monitor as the server stores it.
	StoredMonitor = monitor.StoredMonitor
	// MonitorStatus is a monitor at a glance.
	MonitorStatus = monitor.Status
)

// ListMonitors returns every monitor, by name.
func (c *Client) ListMonitors(ctx context.Context) ([]StoredMonitor, error) {
	var out struct {
		Monitors []StoredMonitor `json:"monitors"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/monitors", nil, nil, &out)
	return out.Monitors, err
}

// GetMonitor returns one monitor.
func (c *Client) GetMonitor(ctx context.Context, name string) (StoredMonitor, error) {
	var out struct {
		Monitor StoredMonitor `json:"monitor"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/monitors"+pathEscape(name), nil, nil, &out)
	return out.Monitor, err
}

// PutMonitor creates or replaces a monitor and returns it as stored.
func (c *Client) PutMonitor(ctx context.Context, m Monitor) (StoredMonitor, error) {
	var out struct {
		Monitor StoredMonitor `json:"monitor"`
	}
	err := c.do(ctx, http.MethodPut, "/api/v1/monitors"+pathEscape(m.Name), nil, m, &out)
	return out.Monitor, err
}

// DeleteMonitor deletes a monitor.
func (c *Client) DeleteMonitor(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/monitors"+pathEscape(name), nil, nil, nil)
}

// MonitorStatus returns a monitor's status: signals, schedule, next run
// and alert states.
func (c *Client) MonitorStatus(ctx context.Context, name string) (MonitorStatus, error) {
	var out struct {
		Status MonitorStatus `json:"status"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/monitors"+pathEscape(name, "status"), nil, nil, &out)
	return out.Status, err
}

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
