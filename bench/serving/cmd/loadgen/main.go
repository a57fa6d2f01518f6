// Command loadgen sends one request body to a URL in a closed loop from N
// workers and prints the throughput and latency percentiles, like wrk with a
// POST script:
//
//	loadgen -url http://127.0.0.1:8080/v2/models/flights/infer -body row.json -c 32 -d 10s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	servingbench "github.com/ferry-ml/ferry/bench/serving"
)

func main() {
	url := flag.String("url", "", "URL to POST to")
	bodyFile := flag.String("body", "", "file holding the request body (JSON)")
	conc := flag.Int("c", 32, "concurrent workers (connections)")
	dur := flag.Duration("d", 10*time.Second, "how long to send")
	warm := flag.Duration("warmup", 2*time.Second, "how long to send before measuring")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	flag.Parse()
	if *url == "" || *bodyFile == "" {
		flag.Usage()
		os.Exit(2)
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c := servingbench.NewClient(*conc)
	if *warm > 0 {
		servingbench.Load(ctx, c, *url, body, *conc, 0, *warm)
	}
	r := servingbench.Load(ctx, c, *url, body, *conc, 0, *dur)
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
			"requests": r.Requests, "errors": r.Errors, "rps": r.RPS,
			"p50_ms": float64(r.P50) / 1e6, "p99_ms": float64(r.P99) / 1e6, "mean_ms": float64(r.Mean) / 1e6, "first_failure": r.FirstFail,
		})
	} else {
		fmt.Println(r)
	}
	if r.Errors > 0 {
		log.Printf("first failure: %s", r.FirstFail)
		os.Exit(1)
	}
}
