package deploy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ferry-ml/ferry"
)

// Analysis are the thresholds a rollout's deployment must keep over each
// step, compared with the baseline deployment over the same window. In a
// deployment's YAML they are rollout.analysis:
//
//	analysis:
//	  min_requests: 100              # requests of the canary before a verdict
//	  max_error_rate_increase: 0.01  # canary error rate ≤ baseline's + this
//	  max_p99_latency_increase: 50ms # canary p99 ≤ baseline p99 + this
//	  max_p99_latency_ratio: 0       # canary p99 ≤ baseline p99 × this (0: off)
//	  max_quality_drop: 0.01         # canary quality ≥ baseline's − this
type Analysis struct {
	// MinRequests is how many requests the canary must have answered in
	// the step's window before a verdict; below it the window grows.
	MinRequests int64 `json:"min_requests"`
	// MaxErrorRateIncrease bounds the canary's error rate above the
	// baseline's (the baseline's counts as 0 when it has fewer than
	// MinRequests requests in the window).
	MaxErrorRateIncrease float64 `json:"max_error_rate_increase"`
	// MaxP99LatencyIncreaseMS bounds the canary's p99 latency above the
	// baseline's, in milliseconds; the check is skipped while the
	// baseline has fewer than MinRequests requests.
	MaxP99LatencyIncreaseMS float64 `json:"max_p99_latency_increase_ms"`
	// MaxP99LatencyRatio, when above 0, bounds the canary's p99 to this
	// multiple of the baseline's.
	MaxP99LatencyRatio float64 `json:"max_p99_latency_ratio,omitempty"`
	// MaxQualityDrop bounds how far the canary's quality score may fall
	// below the baseline's, when a QualitySource scores both.
	MaxQualityDrop float64 `json:"max_quality_drop"`
}

// DefaultAnalysis are the thresholds of a rollout that sets none.
func DefaultAnalysis() Analysis {
	return Analysis{MinRequests: 100, MaxErrorRateIncrease: 0.01, MaxP99LatencyIncreaseMS: 50, MaxQualityDrop: 0.01}
}

// analysisKeys are the keys rollout.analysis accepts.
var analysisKeys = []string{"max_error_rate_increase", "max_p99_latency_increase", "max_p99_latency_ratio", "max_quality_drop", "min_requests"}

// parseAnalysis reads rollout.analysis over the defaults; unknown keys and
// values of the wrong kind are EINVALID.
func parseAnalysis(m map[string]any) (Analysis, error) {
	a := DefaultAnalysis()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		bad := func(want string) error {
			return ferry.Errorf(ferry.EINVALID, "rollout analysis.%s: %v: want %s", k, v, want)
		}
		switch k {
		case "min_requests":
			f, ok := number(v)
			if !ok || f < 0 || f != float64(int64(f)) {
				return a, bad("a whole number of requests")
			}
			a.MinRequests = int64(f)
		case "max_error_rate_increase", "max_quality_drop":
			f, ok := number(v)
			if !ok || f < 0 || f > 1 {
				return a, bad("a fraction from 0 to 1, such as 0.01")
			}
			if k == "max_quality_drop" {
				a.MaxQualityDrop = f
			} else {
				a.MaxErrorRateIncrease = f
			}
		case "max_p99_latency_increase":
			s, ok := v.(string)
			d, err := time.ParseDuration(s)
			if !ok || err != nil || d < 0 {
				return a, bad("a duration such as 50ms")
			}
			a.MaxP99LatencyIncreaseMS = float64(d) / float64(time.Millisecond)
		case "max_p99_latency_ratio":
			f, ok := number(v)
			if !ok || (f != 0 && f < 1) {
				return a, bad("0 (off) or a ratio of at least 1, such as 1.5")
			}
			a.MaxP99LatencyRatio = f
		default:
			return a, ferry.Errorf(ferry.EINVALID, "rollout analysis: unknown field %q; want one of %s", k, strings.Join(analysisKeys, ", "))
		}
	}
	return a, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Checks an analysis makes, as a Verdict names them.
const (
	CheckMinRequests = "min_requests"
	CheckErrorRate   = "error_rate"
	CheckP99Latency  = "p99_latency"
	CheckQuality     = "quality"
)

// Verdict is the outcome of analysing one step.
type Verdict struct {
	Step int `json:"step"`
	// Passed is set when every check held. Pending is set while the
	// canary has fewer than MinRequests requests: no verdict yet.
	Passed  bool `json:"passed"`
	Pending bool `json:"pending,omitempty"`
	// Check names the check that failed (error_rate, p99_latency,
	// quality), or min_requests while pending.
	Check string `json:"check,omitempty"`
	// Detail says what was measured against what, in words.
	Detail          string  `json:"detail"`
	CanaryRequests  int64   `json:"canary_requests"`
	BaseRequests    int64   `json:"baseline_requests"`
	CanaryErrorRate float64 `json:"canary_error_rate"`
	BaseErrorRate   float64 `json:"baseline_error_rate"`
	CanaryP99MS     float64 `json:"canary_p99_ms"`
	BaseP99MS       float64 `json:"baseline_p99_ms"`
	CanaryQuality   float64 `json:"canary_quality,omitempty"`
	BaseQuality     float64 `json:"baseline_quality,omitempty"`
	At              int64   `json:"at"`
}

// quality is a pair of quality scores; ok when both deployments have one.
type quality struct {
	canary, base float64
	ok           bool
}

// analyse judges canary against base with the thresholds of a.
func analyse(a Analysis, step int, canary, base Stats, q quality, at int64) Verdict {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	v := Verdict{Step: step, At: at,
		CanaryRequests: canary.Requests, BaseRequests: base.Requests,
		CanaryErrorRate: canary.ErrorRate(), BaseErrorRate: base.ErrorRate(),
		CanaryP99MS: ms(canary.Quantile(0.99)), BaseP99MS: ms(base.Quantile(0.99)),
	}
	if canary.Requests < a.MinRequests {
		v.Pending, v.Check = true, CheckMinRequests
		v.Detail = fmt.Sprintf("waiting for %d requests to the canary, %d so far", a.MinRequests, canary.Requests)
		return v
	}
	baseKnown := base.Requests >= a.MinRequests && base.Requests > 0
	baseRate := 0.0
	if baseKnown {
		baseRate = v.BaseErrorRate
	}
	if limit := baseRate + a.MaxErrorRateIncrease; v.CanaryErrorRate > limit {
		v.Check = CheckErrorRate
		v.Detail = fmt.Sprintf("error rate %.4f over %d requests > %.4f (baseline %.4f + %.4f)", v.CanaryErrorRate, canary.Requests, limit, baseRate, a.MaxErrorRateIncrease)
		return v
	}
	if baseKnown {
		if limit := v.BaseP99MS + a.MaxP99LatencyIncreaseMS; v.CanaryP99MS > limit {
			v.Check = CheckP99Latency
			v.Detail = fmt.Sprintf("p99 latency %.1fms > %.1fms (baseline %.1fms + %.1fms)", v.CanaryP99MS, limit, v.BaseP99MS, a.MaxP99LatencyIncreaseMS)
			return v
		}
		if r := a.MaxP99LatencyRatio; r > 0 && v.CanaryP99MS > v.BaseP99MS*r {
			v.Check = CheckP99Latency
			v.Detail = fmt.Sprintf("p99 latency %.1fms > %.1fms (baseline %.1fms × %.2f)", v.CanaryP99MS, v.BaseP99MS*r, v.BaseP99MS, r)
			return v
		}
	}
	if q.ok {
		v.CanaryQuality, v.BaseQuality = q.canary, q.base
		if q.canary < q.base-a.MaxQualityDrop {
			v.Check = CheckQuality
			v.Detail = fmt.Sprintf("quality %.4f < %.4f (baseline %.4f − %.4f)", q.canary, q.base-a.MaxQualityDrop, q.base, a.MaxQualityDrop)
			return v
		}
	}
	v.Passed = true
	v.Detail = fmt.Sprintf("passed over %d requests: error rate %.4f (baseline %.4f), p99 %.1fms (baseline %.1fms)", canary.Requests, v.CanaryErrorRate, baseRate, v.CanaryP99MS, v.BaseP99MS)
	if !baseKnown {
		v.Detail += "; latency not compared: the baseline had too few requests"
	}
	return v
}
