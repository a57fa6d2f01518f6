// Command loadgen drives internal/loadgen from the shell: it sends one
// request to a URL in a closed loop from N workers (keep-alive, one
// connection each) and prints the throughput, latency percentiles, statuses
// and failures, like wrk with a POST script:
//
//	loadgen -url http://127.0.0.1:8080/v2/models/flights/infer -body row.json -c 32 -d 10s
//	loadgen -url http://127.0.0.1:8080/endpoints/churn/invocations -body rows.json \
//	        -count-header x-ferry-deployment -d 0   # until interrupted
//
// It exits 1 when a request failed (a transport error or a 5xx) and 2 on bad
// flags; SIGINT ends an unbounded run and prints what it measured.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/ferry-ml/ferry/internal/loadgen"
)

// headers collects repeated -H flags.
type headers []string

func (h *headers) String() string { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error {
	if k, _, ok := strings.Cut(v, ":"); !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("header %q is not Name: value", v)
	}
	*h = append(*h, v)
	return nil
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	url := fs.String("url", "", "URL to send to (required)")
	bodyFile := fs.String("body", "", "file holding the request body; with it the method defaults to POST")
	method := fs.String("method", "", "HTTP method (default GET, or POST with -body)")
	contentType := fs.String("type", "application/json", "Content-Type of the body")
	var hs headers
	fs.Var(&hs, "H", "request header `Name: value` (repeatable)")
	conc := fs.Int("c", 32, "concurrent workers (connections)")
	dur := fs.Duration("d", 10*time.Second, "how long to send (0: until -n requests or SIGINT)")
	n := fs.Int("n", 0, "stop after this many requests (0: no limit)")
	warm := fs.Duration("warmup", 2*time.Second, "how long to send before measuring")
	countHeader := fs.String("count-header", "", "count the answers per value of this response header, e.g. x-ferry-deployment")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *url == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url is required")
		fs.Usage()
		return 2
	}
	var body []byte
	if *bodyFile != "" {
		var err error
		if body, err = os.ReadFile(*bodyFile); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
			return 2
		}
		if *method == "" {
			*method = http.MethodPost
		}
	}
	if *method == "" {
		*method = http.MethodGet
	}
	newRequest := func(int) (*http.Request, error) {
		req, err := http.NewRequest(*method, *url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", *contentType)
		}
		for _, h := range hs {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		return req, nil
	}
	if _, err := newRequest(0); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := loadgen.Config{Concurrency: *conc, NewRequest: newRequest, Client: loadgen.NewClient(*conc), CountHeader: *countHeader}
	if *warm > 0 {
		w := cfg
		w.Duration = *warm
		loadgen.Run(ctx, w)
	}
	cfg.Duration, cfg.Requests = *dur, *n
	l := loadgen.Start(context.Background(), cfg)
	go func() { // SIGINT ends the run gracefully: the requests in flight finish
		<-ctx.Done()
		l.Stop()
	}()
	r := l.Wait()
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(jsonResult(r))
	} else {
		fmt.Println(r)
	}
	if r.Failures > 0 {
		return 1
	}
	return 0
}

// jsonResult is the -json form of a Result, durations in milliseconds.
func jsonResult(r loadgen.Result) map[string]any {
	msOf := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return map[string]any{
		"requests": r.Requests, "failures": r.Failures, "client_errors": r.ClientErrors, "canceled": r.Canceled,
		"rps": r.Throughput, "elapsed_s": r.Elapsed.Seconds(),
		"p50_ms": msOf(r.Latency.P50), "p90_ms": msOf(r.Latency.P90), "p99_ms": msOf(r.Latency.P99),
		"max_ms": msOf(r.Latency.Max), "mean_ms": msOf(r.Latency.Mean),
		"by_status": r.ByStatus, "by_header": r.ByHeader, "failure_reasons": r.Reasons,
	}
}
