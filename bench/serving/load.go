// Package servingbench benchmarks Ferry's inference server: Open Inference
// Protocol V2 /infer requests of one row over loopback HTTP at a fixed
// concurrency, against a bare net/http peer that decodes and encodes the same
// JSON with encoding/json and runs no model. The load generator is Load (also
// a command, cmd/loadgen, for servers in other processes); the benchmarks are
// in serving_test.go; run.sh runs them and predict.sh measures `ferry
// predict`. BENCHMARKS.md ("## Serving") quotes the figures.
package servingbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what one load run measured.
type Result struct {
	Requests  int
	Errors    int // transport errors and non-200 answers
	Elapsed   time.Duration
	RPS       float64
	P50, P99  time.Duration
	Mean      time.Duration
	FirstFail string // the first failure, for the report
}

func (r Result) String() string {
	return fmt.Sprintf("%d requests in %s: %.0f req/s, p50 %.3f ms, p99 %.3f ms, %d errors",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.RPS, ms(r.P50), ms(r.P99), r.Errors)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// NewClient returns an HTTP client that keeps a connection per worker.
func NewClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = concurrency * 2
	t.MaxIdleConnsPerHost = concurrency * 2
	t.DisableCompression = true
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// Load POSTs body to url requests times (or, with requests 0, until duration
// has passed) from concurrency workers, each waiting for its answer before
// sending again (a closed loop, as wrk does), and measures every request.
func Load(ctx context.Context, c *http.Client, url string, body []byte, concurrency, requests int, duration time.Duration) Result {
	var next atomic.Int64
	var mu sync.Mutex
	var res Result
	lat := make([][]time.Duration, concurrency)
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			for {
				if requests > 0 {
					if next.Add(1) > int64(requests) {
						break
					}
				} else if time.Now().After(deadline) {
					break
				}
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				err := post(ctx, c, url, body)
				mine = append(mine, time.Since(t0))
				if err != nil {
					mu.Lock()
					res.Errors++
					if res.FirstFail == "" {
						res.FirstFail = err.Error()
					}
					mu.Unlock()
				}
			}
			lat[w] = mine
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	res.Requests = len(all)
	if len(all) == 0 {
		return res
	}
	slices.Sort(all)
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	res.Mean = sum / time.Duration(len(all))
	res.P50 = all[len(all)/2]
	res.P99 = all[min(len(all)-1, len(all)*99/100)]
	res.RPS = float64(len(all)) / res.Elapsed.Seconds()
	return res
}

func post(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, out)
	}
	return nil
}
