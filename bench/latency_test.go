package bench

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ferry-ml/ferry/internal/store/sqlite"
)

const latencyCalls = 1_000 // log-metric calls per benchmark iteration

// BenchmarkLogMetric measures the latency of single POST runs/log-metric
// calls, each one point, sent one after another to one run, as a training
// loop that logs every step does. Each iteration makes 1,000 calls; the
// figures are the median and the 99th percentile over every call of the
// benchmark, measured from sending the request to reading the whole answer.
func BenchmarkLogMetric(b *testing.B) {
	for _, sync := range []string{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		b.Run("sync="+sync, func(b *testing.B) {
			s := newServer(b, sync, nil)
			runID := s.createRun(b)
			url := s.url + "runs/log-metric"
			prefix := `{"run_id":"` + runID + `","key":"loss","value":`
			var lat []time.Duration
			step := 0
			for b.Loop() {
				for range latencyCalls {
					body := []byte(prefix + strconv.FormatFloat(1/float64(step+1), 'g', -1, 64) +
						`,"timestamp":` + strconv.FormatInt(baseTime+int64(step), 10) + `,"step":` + strconv.Itoa(step) + `}`)
					start := time.Now()
					do(b, s.client, http.MethodPost, url, body)
					lat = append(lat, time.Since(start))
					step++
				}
			}
			slices.Sort(lat)
			ms := func(q float64) float64 {
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.5), "ms/median")
			b.ReportMetric(ms(0.99), "ms/p99")
		})
	}
}
