package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The headers of a webhook request. X-Ferry-Event is the event's id (the
// receiver's key for de-duplicating redeliveries), X-Ferry-Delivery is one
// id per event and webhook, the same on every attempt, and X-Ferry-Signature
// is "sha256=" and the hex HMAC-SHA256 of the body with the webhook's secret,
// as GitHub signs its webhooks.
const (
	HeaderEvent     = "X-Ferry-Event"
	HeaderDelivery  = "X-Ferry-Delivery"
	HeaderSignature = "X-Ferry-Signature"
)

const signaturePrefix = "sha256="

// Sign returns the X-Ferry-Signature header value of body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header, an X-Ferry-Signature value, signs
// body under secret. It compares in constant time; receivers must verify the
// raw body bytes as received, before parsing them.
func VerifySignature(secret string, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(sum, mac.Sum(nil))
}

// job is one delivery: an event to one webhook.
type job struct {
	id      string
	eventID int64
	body    []byte
	hook    webhook
}

// queue is the bounded webhook queue and its workers.
type queue struct {
	store   Store
	opts    Options
	log     *slog.Logger
	metrics *metrics
	jobs    chan job

	mu      sync.Mutex
	pending int           // enqueued and not finished
	idle    chan struct{} // closed while pending == 0
}

func newQueue(store Store, opts Options, m *metrics) *queue {
	idle := make(chan struct{})
	close(idle)
	return &queue{store: store, opts: opts, log: opts.Logger, metrics: m, jobs: make(chan job, opts.QueueSize), idle: idle}
}

// enqueue queues ev for every hook without waiting; when the queue is full,
// the delivery is dropped and the drop logged.
func (q *queue) enqueue(ctx context.Context, ev Event, hooks []webhook) {
	if len(hooks) == 0 {
		return
	}
	body, err := json.Marshal(ev)
	if err != nil { // an Event always marshals: its floats are finite
		q.log.Error("alert: encode event", "event_id", ev.ID, "err", err)
		return
	}
	for _, h := range hooks {
		j := job{id: newDeliveryID(), eventID: ev.ID, body: body, hook: h}
		q.add(1)
		select {
		case q.jobs <- j:
		default:
			q.add(-1)
			q.metrics.deliveries.WithLabelValues("dropped").Inc()
			q.log.Warn("alert: webhook queue full, delivery dropped", "event_id", ev.ID, "webhook", h.name, "delivery", j.id)
			q.record(ctx, j, 0, time.Now(), 0, errors.New("dropped: the delivery queue is full"), 0)
		}
	}
}

func (q *queue) add(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == 0 && n > 0 {
		q.idle = make(chan struct{})
	}
	q.pending += n
	if q.pending == 0 {
		close(q.idle)
	}
}

func (q *queue) drain(ctx context.Context) error {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *queue) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range q.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-q.jobs:
					q.deliver(ctx, j)
					q.add(-1)
				}
			}
		}()
	}
	wg.Wait()
	for lost := 0; ; lost++ {
		select {
		case <-q.jobs:
			q.add(-1)
			continue
		default:
		}
		if lost > 0 {
			q.log.Warn("alert: webhook deliveries lost at shutdown", "count", lost)
		}
		return
	}
}

// deliver attempts j until it is delivered, refused (4xx or another
// non-retryable answer), out of attempts, or ctx is done.
func (q *queue) deliver(ctx context.Context, j job) {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		status, err := q.attempt(ctx, j)
		q.record(ctx, j, attempt, start, status, err, time.Since(start))
		switch {
		case err == nil && status >= 200 && status < 300:
			q.metrics.deliveries.WithLabelValues("delivered").Inc()
			return
		case ctx.Err() != nil || !retryable(status, err) || attempt >= q.opts.Attempts:
			q.metrics.deliveries.WithLabelValues("failed").Inc()
			q.log.Warn("alert: webhook delivery failed", "event_id", j.eventID, "webhook", j.hook.name, "delivery", j.id,
				"attempts", attempt, "status", status, "err", err)
			return
		}
		t := time.NewTimer(backoff(q.opts.BackoffBase, q.opts.BackoffMax, attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			q.metrics.deliveries.WithLabelValues("failed").Inc()
			return
		case <-t.C:
		}
	}
}

// attempt POSTs j once and returns the answer's status.
func (q *queue) attempt(ctx context.Context, j job) (int, error) {
	actx, cancel := context.WithTimeout(ctx, q.opts.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, j.hook.url, bytes.NewReader(j.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ferry-alerts")
	req.Header.Set(HeaderEvent, strconv.FormatInt(j.eventID, 10))
	req.Header.Set(HeaderDelivery, j.id)
	if j.hook.secret != "" {
		req.Header.Set(HeaderSignature, Sign(j.hook.secret, j.body))
	}
	resp, err := q.opts.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // drop the URL, which may hold a token
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s: %w", q.opts.AttemptTimeout, err)
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// retryable reports whether an attempt that ended with status and err may
// succeed later: connection errors, timeouts and 5xx answers, not 4xx.
func retryable(status int, err error) bool {
	if status == 0 {
		return err != nil
	}
	return status >= 500
}

// backoff returns the wait after attempt n: a random time in [d/2, d] for
// d = min(base·2^(n-1), ceiling).
func backoff(base, ceiling time.Duration, n int) time.Duration {
	d := ceiling
	if n-1 < 32 && base<<(n-1) > 0 && base<<(n-1) < ceiling {
		d = base << (n - 1)
	}
	return d/2 + rand.N(d/2+1)
}

// record appends one attempt to the delivery log; it is written even when
// ctx is canceled, so that shutdown leaves a trace.
func (q *queue) record(ctx context.Context, j job, attempt int, at time.Time, status int, err error, took time.Duration) {
	d := Delivery{DeliveryID: j.id, EventID: j.eventID, Webhook: j.hook.name, Attempt: attempt, Time: at, Status: status, Duration: took}
	if err != nil {
		d.Error = err.Error()
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := q.store.AddAlertDelivery(wctx, d); err != nil {
		q.log.Error("alert: record webhook delivery", "event_id", j.eventID, "delivery", j.id, "err", err)
	}
}

// newDeliveryID returns a random UUID (version 4).
func newDeliveryID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
