// Package alert turns a monitor's evaluations into alerts: a persisted state
// machine per (monitor, signal, feature) — ok → firing → resolved → firing … —
// with de-duplication and a cool-down, an append-only event log that other
// parts of Ferry (retraining) subscribe to by polling from a cursor, and the
// notifiers that tell people: a log line, Prometheus gauges and counters, and
// signed webhooks with retries and a delivery log.
//
// The Manager is the only way in. It reads and writes through a Store, which
// internal/store/sqlstore implements for SQLite and PostgreSQL.
package alert

import (
	"context"
	"time"
)

// State is the state of one alert.
type State string

// The states of an alert. An alert starts ok, fires when its signal breaches
// its threshold and resolves when it no longer does; a resolved alert fires
// again on the next breach. ok is never notified; firing and resolved are.
const (
	StateOK       State = "ok"
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

// Key names one alert: a monitor's signal on one deployment (a monitor
// may watch each deployment of its endpoint), and the feature for
// per-feature signals such as data_drift ("" otherwise).
type Key struct {
	Monitor    string `json:"monitor"`
	Deployment string `json:"deployment,omitempty"`
	Signal     string `json:"signal"`
	Feature    string `json:"feature,omitempty"`
}

// Evaluation is one verdict of a monitor's signal, the Manager's input.
type Evaluation struct {
	Monitor string
	// Signal is the signal's name: data_drift, prediction_drift,
	// data_quality, model_performance, …
	Signal string
	// Feature is the feature (or output) evaluated; "" for signals that are
	// not per feature.
	Feature    string
	Endpoint   string
	Deployment string
	// Metric names the score: wasserstein, jensen_shannon, psi, ks, auc, …
	Metric string
	// Score and Threshold must be finite; an evaluation without a verdict
	// (too few labels, say) is not observed at all.
	Score     float64
	Threshold float64
	// Breached is the signal's verdict: whether Score is on the wrong side
	// of Threshold (which side depends on the metric).
	Breached bool
	// At is the evaluation's time; the cool-down is measured in it, so that
	// replays and tests are deterministic. Zero means the Manager's clock.
	At     time.Time
	Detail string
}

// Key returns the evaluation's alert key.
func (e Evaluation) Key() Key {
	return Key{Monitor: e.Monitor, Deployment: e.Deployment, Signal: e.Signal, Feature: e.Feature}
}

// Alert is the persisted state of one alert with its last evaluation.
type Alert struct {
	Key
	State    State  `json:"state"`
	Endpoint string `json:"endpoint,omitempty"`
	Metric   string `json:"metric,omitempty"`
	// Score, Threshold, Breached and Detail are the last evaluation's.
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	Breached  bool    `json:"breached"`
	Detail    string  `json:"detail,omitempty"`
	// Since is when the alert entered State (for ok: its first evaluation).
	Since time.Time `json:"since"`
	// Evaluated is the time of the last evaluation.
	Evaluated time.Time `json:"evaluated"`
	// Version counts the writes of the alert; a write made from an older
	// version is refused (ECONFLICT).
	Version int64 `json:"version"`
}

// Event is one transition of an alert — firing or resolved — as recorded in
// the event log and sent to webhooks. Its JSON is the webhook body, whose
// schema docs/monitoring.md ("Alerts") documents.
type Event struct {
	// ID increases with every event; ListEvents(since) returns the events
	// after a cursor.
	ID int64 `json:"id"`
	// Type is "alert.firing" or "alert.resolved".
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	Key
	Endpoint  string  `json:"endpoint,omitempty"`
	Metric    string  `json:"metric,omitempty"`
	State     State   `json:"state"`
	Previous  State   `json:"previous"`
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	Detail    string  `json:"detail,omitempty"`
}

// EventType returns the type of an event into state s.
func EventType(s State) string { return "alert." + string(s) }

// Delivery is one attempt to deliver an event to a webhook, a row of the
// delivery log.
type Delivery struct {
	ID int64 `json:"id"`
	// DeliveryID is the X-Ferry-Delivery header: one id per event and
	// webhook, the same on every attempt.
	DeliveryID string `json:"delivery_id"`
	EventID    int64  `json:"event_id"`
	// Webhook names the receiver without its secrets: the configured name,
	// or the URL's scheme, host and path.
	Webhook string `json:"webhook"`
	// Attempt counts from 1; 0 marks a delivery that was dropped before any
	// attempt because the queue was full.
	Attempt int       `json:"attempt"`
	Time    time.Time `json:"time"`
	// Status is the HTTP status received, 0 when none was (connection
	// error, timeout, dropped).
	Status   int           `json:"status"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// OK reports whether the attempt delivered the event (a 2xx answer).
func (d Delivery) OK() bool { return d.Status >= 200 && d.Status < 300 }

// Store persists alerts, their events and the delivery log. Implementations
// are safe for concurrent use.
type Store interface {
	// GetAlert returns the alert of key; ENOTFOUND when it was never saved.
	GetAlert(ctx context.Context, key Key) (Alert, error)
	// ListAlerts returns the alerts of monitor (of every monitor when
	// monitor is ""), ordered by monitor, signal and feature.
	ListAlerts(ctx context.Context, monitor string) ([]Alert, error)
	// SaveAlert writes a as version a.Version+1, where a.Version is the
	// version it was read at (0 for an alert never saved), and appends ev to
	// the event log in the same transaction when ev is not nil. It returns
	// the new version and the event's id (0 without ev). ECONFLICT when the
	// stored version is not a.Version.
	SaveAlert(ctx context.Context, a Alert, ev *Event) (version, eventID int64, err error)
	// ListAlertEvents returns up to limit events with ids greater than
	// since, in id order.
	ListAlertEvents(ctx context.Context, since int64, limit int) ([]Event, error)
	// AddAlertDelivery appends d (its ID is ignored) to the delivery log.
	AddAlertDelivery(ctx context.Context, d Delivery) (int64, error)
	// ListAlertDeliveries returns the delivery log of an event in id order.
	ListAlertDeliveries(ctx context.Context, eventID int64) ([]Delivery, error)
}
