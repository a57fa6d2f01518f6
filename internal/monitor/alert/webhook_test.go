package alert_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/monitor/alert"
)

// TestSignature: the receiver verifies the X-Ferry-Signature of the body it
// got; a tampered body, another secret or a malformed header fail.
func TestSignature(t *testing.T) {
	const secret = "s3cret"
	rc := newReceiver(t, nil)
	h := newHarness(t, openStore(t, ""), alert.Options{}, map[string]string{"HOOK_SECRET": secret})
	h.run(t)
	if err := h.m.Configure("churn-drift", alert.Config{Webhooks: []alert.WebhookConfig{{URL: rc.URL, SecretEnv: "HOOK_SECRET"}}}); err != nil {
		t.Fatal(err)
	}
	observe(t, h.m, drift("age", 0.3, t0))
	h.drain(t)
	reqs, bodies := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r, body := reqs[0], bodies[0]
	sig := r.Header.Get(alert.HeaderSignature)
	ev := h.events(t)[0]
	if got := r.Header.Get(alert.HeaderEvent); got != strconv.FormatInt(ev.ID, 10) {
		t.Errorf("%s: %q, want the event id %d", alert.HeaderEvent, got, ev.ID)
	}
	if r.Header.Get(alert.HeaderDelivery) == "" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	tampered := []byte(strings.Replace(string(body), `"score":0.3`, `"score":0.01`, 1))
	if string(tampered) == string(body) {
		t.Fatalf("the body %s has no score to tamper with", body)
	}
	for _, c := range []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"the body as received", secret, body, sig, true},
		{"a tampered body", secret, tampered, sig, false},
		{"another secret", "guess", body, sig, false},
		{"no sha256= prefix", secret, body, strings.TrimPrefix(sig, "sha256="), false},
		{"not hex", secret, body, "sha256=zz", false},
		{"no header", secret, body, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := alert.VerifySignature(c.secret, c.body, c.header); got != c.want {
				t.Errorf("VerifySignature = %v, want %v", got, c.want)
			}
		})
	}
	// The reference value, as `printf %s "$body" | openssl dgst -sha256 -hmac "$secret"` prints it.
	if got := alert.Sign("key", []byte("The quick brown fox jumps over the lazy dog")); got != "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" {
		t.Errorf("Sign = %s, want openssl's HMAC-SHA256 of the fox", got)
	}
}

// TestDeliveryRetries: 5xx answers, timeouts and connection errors are
// retried with backoff up to Attempts; 4xx answers are not; every attempt is
// in the delivery log under one delivery id.
func TestDeliveryRetries(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	refused := newReceiver(t, nil)
	refused.Close() // nothing listens on its address any more
	cases := []struct {
		name     string
		reply    func(n int, w http.ResponseWriter, r *http.Request)
		url      string
		statuses []int
		errs     []string
	}{
		{
			name: "500 twice, then 200",
			reply: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n < 3 {
					http.Error(w, "busy", http.StatusInternalServerError)
				}
			},
			statuses: []int{500, 500, 200},
			errs:     []string{"receiver answered 500", "receiver answered 500", ""},
		},
		{
			name:     "400 is not retried",
			reply:    func(_ int, w http.ResponseWriter, _ *http.Request) { http.Error(w, "bad", http.StatusBadRequest) },
			statuses: []int{400},
			errs:     []string{"receiver answered 400"},
		},
		{
			name: "a receiver that hangs hits the timeout, every attempt",
			reply: func(_ int, _ http.ResponseWriter, r *http.Request) {
				select {
				case <-hang:
				case <-r.Context().Done():
				}
			},
			statuses: []int{0, 0, 0},
			errs:     []string{"no answer within 50ms", "no answer within 50ms", "no answer within 50ms"},
		},
		{
			name:     "connection refused is retried",
			url:      refused.URL,
			statuses: []int{0, 0, 0},
			errs:     []string{"connect", "connect", "connect"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := c.url
			if url == "" {
				url = newReceiver(t, c.reply).URL + "/hook?token=t0ps3cret"
			}
			h := newHarness(t, openStore(t, ""), alert.Options{Attempts: 3, AttemptTimeout: 50 * time.Millisecond}, nil)
			h.run(t)
			if err := h.m.Configure("churn-drift", alert.Config{Webhooks: []alert.WebhookConfig{{URL: url}}}); err != nil {
				t.Fatal(err)
			}
			observe(t, h.m, drift("age", 0.3, t0))
			h.drain(t)
			ev := h.events(t)[0]
			log, err := h.m.Deliveries(context.Background(), ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != len(c.statuses) {
				t.Fatalf("%d attempts logged, want %d: %+v", len(log), len(c.statuses), log)
			}
			for i, d := range log {
				if d.Attempt != i+1 || d.Status != c.statuses[i] || !strings.Contains(d.Error, c.errs[i]) || (c.errs[i] == "") != (d.Error == "") {
					t.Errorf("attempt %d: %d %d %q, want %d %d %q", i+1, d.Attempt, d.Status, d.Error, i+1, c.statuses[i], c.errs[i])
				}
				if d.DeliveryID != log[0].DeliveryID || d.EventID != ev.ID || strings.Contains(d.Webhook+d.Error, "t0ps3cret") {
					t.Errorf("attempt %d: delivery %s event %d webhook %s error %s", i+1, d.DeliveryID, d.EventID, d.Webhook, d.Error)
				}
			}
			if c.errs[len(c.errs)-1] != "" && value(t, h.reg, "ferry_alert_webhook_deliveries_total", "result", "failed") != 1 {
				t.Errorf("failed deliveries not counted")
			}
		})
	}
}

// TestQueueNeverBlocksObserve: with the only worker stuck on a hanging
// receiver and a queue of 2, evaluations go on; deliveries that do not fit
// are dropped, counted and logged, and the rest are delivered once the
// receiver answers again.
func TestQueueNeverBlocksObserve(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 100)
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, _ *http.Request) {
		started <- struct{}{}
		<-release
	})
	h := newHarness(t, openStore(t, ""), alert.Options{Workers: 1, QueueSize: 2, AttemptTimeout: time.Minute}, nil)
	h.run(t)
	if err := h.m.Configure("churn-drift", alert.Config{Webhooks: []alert.WebhookConfig{{URL: rc.URL}}}); err != nil {
		t.Fatal(err)
	}
	observe(t, h.m, drift("f0", 0.3, t0))
	<-started // the worker is stuck now
	const n = 10
	for i := 1; i < n; i++ {
		observe(t, h.m, drift(fmt.Sprintf("f%d", i), 0.3, t0))
	}
	if got := value(t, h.reg, "ferry_alert_webhook_deliveries_total", "result", "dropped"); got != n-3 {
		t.Errorf("%v deliveries dropped, want %d (1 in flight, 2 queued)", got, n-3)
	}
	close(release)
	h.drain(t)
	if reqs, _ := rc.requests(); len(reqs) != 3 {
		t.Errorf("%d delivered, want 3", len(reqs))
	}
	dropped := 0
	for _, ev := range h.events(t) {
		log, err := h.m.Deliveries(context.Background(), ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range log {
			if d.Attempt == 0 && strings.Contains(d.Error, "queue is full") {
				dropped++
			}
		}
	}
	if dropped != n-3 {
		t.Errorf("%d drops in the delivery log, want %d", dropped, n-3)
	}
	if h.log.count("webhook queue full") != n-3 {
		t.Errorf("drops not logged")
	}
}

func TestConfig(t *testing.T) {
	const doc = `
cooldown: 30m
webhooks:
  - url: https://hooks.example.com/ferry
    secret_env: HOOK_SECRET
  - name: pager
    url_env: PAGER_URL
`
	var c alert.Config
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if c.Cooldown != "30m" || len(c.Webhooks) != 2 || c.Webhooks[0].SecretEnv != "HOOK_SECRET" || c.Webhooks[1].URLEnv != "PAGER_URL" {
		t.Fatalf("parsed %+v", c)
	}
	env := map[string]string{"HOOK_SECRET": "s", "PAGER_URL": "https://pager.example.com/x?key=k"}
	cases := []struct {
		name string
		edit func(c *alert.Config)
		env  map[string]string
		want string // an error code, "" for none
	}{
		{"valid", func(*alert.Config) {}, env, ""},
		{"default cool-down", func(c *alert.Config) { c.Cooldown = "" }, env, ""},
		{"a bad cool-down", func(c *alert.Config) { c.Cooldown = "an hour" }, env, ferry.EINVALID},
		{"a secret variable that is not set", func(*alert.Config) {}, map[string]string{"PAGER_URL": env["PAGER_URL"]}, ferry.EINVALID},
		{"a url variable that is not set", func(*alert.Config) {}, map[string]string{"HOOK_SECRET": "s"}, ferry.EINVALID},
		{"both url and url_env", func(c *alert.Config) { c.Webhooks[1].URL = "https://x.example.com" }, env, ferry.EINVALID},
		{"neither", func(c *alert.Config) { c.Webhooks[0].URL = "" }, env, ferry.EINVALID},
		{"not http", func(c *alert.Config) { c.Webhooks[0].URL = "ftp://x.example.com" }, env, ferry.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c
			c.Webhooks = append([]alert.WebhookConfig(nil), c.Webhooks...)
			tc.edit(&c)
			h := newHarness(t, openStore(t, ""), alert.Options{}, tc.env)
			err := h.m.Configure("m", c)
			if got := ferry.ErrorCode(err); got != tc.want {
				t.Errorf("Configure: %v, want code %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "k=") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

// TestSignatureInOtherTools: the receivers' snippets docs/monitoring.md
// quotes (testdata/verify.py, testdata/verify.sh with openssl) accept what
// Sign signs and refuse a tampered body.
func TestSignatureInOtherTools(t *testing.T) {
	const secret = "s3cret"
	body := []byte(`{"id":1,"type":"alert.firing","score":0.3}` + "\n")
	sig := alert.Sign(secret, body)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, bytes.Replace(body, []byte("0.3"), []byte("0.01"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []struct{ name, bin, script string }{
		{"python", "python3", "testdata/verify.py"},
		{"openssl", "openssl", "testdata/verify.sh"},
	} {
		t.Run(tool.name, func(t *testing.T) {
			if _, err := exec.LookPath(tool.bin); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s is missing under CI", tool.bin)
				}
				t.Skipf("%s not installed", tool.bin)
			}
			run := func(path string) error {
				out, err := exec.Command(tool.script, secret, path, sig).CombinedOutput()
				if len(out) > 0 {
					t.Logf("%s: %s", tool.script, out)
				}
				return err
			}
			if err := run(good); err != nil {
				t.Errorf("the signed body does not verify: %v", err)
			}
			if err := run(bad); err == nil {
				t.Errorf("a tampered body verifies")
			}
		})
	}
}
