package deploy

import (
	"math"
	"time"
)

// statsBuckets is the number of latency buckets of Stats: bucket i counts
// latencies below statsBase·statsGrowth^i, the last one everything beyond.
const statsBuckets = 64

const (
	statsBase   = 100 * time.Microsecond
	statsGrowth = 1.25 // 100µs … ~150s in 64 buckets, each 25% wider than the last
)

// Stats summarise the requests one deployment answered over some time:
// counts and a latency histogram on fixed, log-spaced bucket edges, so
// that Stats of several windows or replicas merge by addition. The zero
// value is empty and ready to use.
type Stats struct {
	Requests int64 `json:"requests"`
	// Errors counts requests answered with a 5xx or not answered at all;
	// a 4xx (the caller's fault) is not an error of the deployment.
	Errors  int64               `json:"errors"`
	Latency [statsBuckets]int64 `json:"-"`
}

// Observe adds one request that took d; failed marks a deployment error.
func (s *Stats) Observe(d time.Duration, failed bool) {
	s.Requests++
	if failed {
		s.Errors++
	}
	s.Latency[bucketOf(d)]++
}

// Merge adds o to s.
func (s *Stats) Merge(o Stats) {
	s.Requests += o.Requests
	s.Errors += o.Errors
	for i := range s.Latency {
		s.Latency[i] += o.Latency[i]
	}
}

// ErrorRate is Errors/Requests, 0 without requests.
func (s Stats) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}

// Quantile returns the upper edge of the bucket holding the q-quantile
// latency (q in [0, 1]); 0 without requests. It overestimates by at most
// one bucket's width (25%).
func (s Stats) Quantile(q float64) time.Duration {
	var n int64
	for _, c := range s.Latency {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range s.Latency {
		seen += c
		if seen >= rank {
			return bucketEdge(i)
		}
	}
	return bucketEdge(statsBuckets - 1)
}

func bucketOf(d time.Duration) int {
	if d < statsBase {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(statsBase)) / math.Log(statsGrowth)))
	if float64(statsBase)*math.Pow(statsGrowth, float64(i)) <= float64(d) {
		i++ // d sits on an edge: buckets are upper-exclusive
	}
	return min(i, statsBuckets-1)
}

// bucketEdge is the upper edge of bucket i.
func bucketEdge(i int) time.Duration {
	return time.Duration(float64(statsBase) * math.Pow(statsGrowth, float64(i)))
}
