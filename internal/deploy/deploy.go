// Package deploy holds endpoints and deployments — Ferry's deploy stage, in
// Azure ML CLI v2's vocabulary (managedOnlineEndpoint, managedOnlineDeployment)
// — their validation, the plan that takes the stored state to a desired one,
// and the Service that is the only way in to them.
package deploy

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/ferry-ml/ferry"
)

// Endpoint is a stable address whose traffic is split between its deployments.
type Endpoint struct {
	Name        string            `json:"name" yaml:"name"`
	Description string            `json:"description,omitempty" yaml:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	// AuthMode is "key" (the default and the only mode for now).
	AuthMode string `json:"auth_mode,omitempty" yaml:"auth_mode,omitempty"`
	// Traffic maps deployment names to percentages summing to 0 or 100.
	Traffic map[string]int `json:"traffic,omitempty" yaml:"traffic,omitempty"`
	// MirrorTraffic names at most one deployment that gets a copy of up to
	// 50% of the requests; it is never also in Traffic.
	MirrorTraffic map[string]int `json:"mirror_traffic,omitempty" yaml:"mirror_traffic,omitempty"`
	// Serial is set by the store: it starts at 1 and every change to the
	// endpoint or one of its deployments increments it.
	Serial int64 `json:"serial,omitempty" yaml:"-"`
}

// Deployment is one model version served behind an endpoint.
type Deployment struct {
	Name         string `json:"name" yaml:"name"`
	EndpointName string `json:"endpoint_name" yaml:"endpoint_name"`
	// Model is the model URI as written: models:/NAME/VERSION or
	// models:/NAME@ALIAS.
	Model string `json:"model" yaml:"model"`
	// ModelVersion is set at apply time: Model resolved and pinned, as
	// models:/NAME/VERSION.
	ModelVersion         string            `json:"model_version,omitempty" yaml:"-"`
	InstanceCount        int               `json:"instance_count,omitempty" yaml:"instance_count,omitempty"`
	RequestSettings      RequestSettings   `json:"request_settings" yaml:"request_settings,omitempty"`
	LivenessProbe        *Probe            `json:"liveness_probe,omitempty" yaml:"liveness_probe,omitempty"`
	ReadinessProbe       *Probe            `json:"readiness_probe,omitempty" yaml:"readiness_probe,omitempty"`
	EnvironmentVariables map[string]string `json:"environment_variables,omitempty" yaml:"environment_variables,omitempty"`
	// Target is embedded (the default), process or kubernetes.
	Target  string   `json:"target,omitempty" yaml:"target,omitempty"`
	Rollout *Rollout `json:"rollout,omitempty" yaml:"rollout,omitempty"`
	// DataCollector, when set, logs the deployment's requests and
	// predictions (inference logs, profiles per window).
	DataCollector *DataCollector `json:"data_collector,omitempty" yaml:"data_collector,omitempty"`
}

// DataCollector is Azure's data_collector of a managed online deployment:
// which collections are logged (model_inputs, model_outputs; both when
// collections is empty), the fraction of requests logged (sampling_rate,
// default 1.0) and how logs are partitioned (rolling_rate: hour, the only
// rate Ferry writes).
type DataCollector struct {
	Collections  map[string]DataCollection `json:"collections,omitempty" yaml:"collections,omitempty"`
	SamplingRate *float64                  `json:"sampling_rate,omitempty" yaml:"sampling_rate,omitempty"`
	RollingRate  string                    `json:"rolling_rate,omitempty" yaml:"rolling_rate,omitempty"`
}

// DataCollection is one collection of a DataCollector.
type DataCollection struct {
	Enabled bool `json:"enabled" yaml:"enabled"`
}

// The collections a DataCollector logs.
const (
	CollectionInputs  = "model_inputs"
	CollectionOutputs = "model_outputs"
)

// Collects reports whether collection name is logged: a nil collector
// logs nothing; one without collections logs both.
func (dc *DataCollector) Collects(name string) bool {
	if dc == nil {
		return false
	}
	if len(dc.Collections) == 0 {
		return true
	}
	return dc.Collections[name].Enabled
}

// Rate is the sampling rate: 0 for a nil collector, else sampling_rate,
// default 1.
func (dc *DataCollector) Rate() float64 {
	switch {
	case dc == nil:
		return 0
	case dc.SamplingRate == nil:
		return 1
	}
	return *dc.SamplingRate
}

// validate checks dc on its own.
func (dc *DataCollector) validate() error {
	if dc == nil {
		return nil
	}
	if r := dc.Rate(); !(r >= 0 && r <= 1) {
		return ferry.Errorf(ferry.EINVALID, "data_collector.sampling_rate %v: want 0.0 to 1.0", r)
	}
	if dc.RollingRate != "" && dc.RollingRate != "hour" {
		return ferry.Errorf(ferry.EINVALID, "data_collector.rolling_rate %q: want hour (inference logs are partitioned by hour)", dc.RollingRate)
	}
	for _, n := range sortedKeys(dc.Collections) {
		if n != CollectionInputs && n != CollectionOutputs {
			return ferry.Errorf(ferry.EINVALID, "data_collector.collections %q: want %s or %s", n, CollectionInputs, CollectionOutputs)
		}
	}
	return nil
}

// RequestSettings are Azure's request_settings.
type RequestSettings struct {
	// RequestTimeoutMS defaults to 5000.
	RequestTimeoutMS                 int `json:"request_timeout_ms,omitempty" yaml:"request_timeout_ms,omitempty"`
	MaxConcurrentRequestsPerInstance int `json:"max_concurrent_requests_per_instance,omitempty" yaml:"max_concurrent_requests_per_instance,omitempty"`
	// MaxBatchSize, when set, batches concurrent requests up to this many rows.
	MaxBatchSize int `json:"max_batch_size,omitempty" yaml:"max_batch_size,omitempty"`
}

// Probe is Azure's liveness_probe / readiness_probe; durations in seconds.
type Probe struct {
	InitialDelay     int `json:"initial_delay,omitempty" yaml:"initial_delay,omitempty"`
	Period           int `json:"period,omitempty" yaml:"period,omitempty"`
	Timeout          int `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	FailureThreshold int `json:"failure_threshold,omitempty" yaml:"failure_threshold,omitempty"`
	SuccessThreshold int `json:"success_threshold,omitempty" yaml:"success_threshold,omitempty"`
}

// Rollout describes how traffic moves to a deployment: when an endpoint's
// traffic moves to it, Apply starts a rollout that the Controller carries
// out step by step (see RolloutStatus). Stored as written; defaults are
// strategy canary, steps [10, 50, 100], step_duration 5m and
// DefaultAnalysis, whose thresholds analysis overrides (see Analysis).
type Rollout struct {
	// Strategy is canary or blue_green.
	Strategy     string         `json:"strategy" yaml:"strategy"`
	Steps        []int          `json:"steps,omitempty" yaml:"steps,omitempty"`
	StepDuration string         `json:"step_duration,omitempty" yaml:"step_duration,omitempty"`
	Analysis     map[string]any `json:"analysis,omitempty" yaml:"analysis,omitempty"`
}

// Targets a deployment can run on.
const (
	TargetEmbedded   = "embedded"
	TargetProcess    = "process"
	TargetKubernetes = "kubernetes"
)

// DefaultRequestTimeoutMS is request_settings.request_timeout_ms when unset.
const DefaultRequestTimeoutMS = 5000

var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{2,31}$`)

// CheckName reports whether name is a valid endpoint or deployment name:
// as Azure's, 3 to 32 letters, digits and '-', starting with a letter.
func CheckName(kind, name string) error {
	if !namePattern.MatchString(name) {
		return ferry.Errorf(ferry.EINVALID, "%s name %q: want 3 to 32 letters, digits or '-', starting with a letter", kind, name)
	}
	return nil
}

// Normalize returns e with defaults filled in (auth_mode key).
func (e Endpoint) Normalize() Endpoint {
	if e.AuthMode == "" {
		e.AuthMode = "key"
	}
	return e
}

// Normalize returns d with defaults filled in (target embedded, instance
// count 1, request timeout 5000 ms).
func (d Deployment) Normalize() Deployment {
	if d.Target == "" {
		d.Target = TargetEmbedded
	}
	if d.InstanceCount == 0 {
		d.InstanceCount = 1
	}
	if d.RequestSettings.RequestTimeoutMS == 0 {
		d.RequestSettings.RequestTimeoutMS = DefaultRequestTimeoutMS
	}
	return d
}

// Validate checks e on its own. deployments, when not nil, are the names of
// the endpoint's deployments that traffic and mirror_traffic may name.
func (e Endpoint) Validate(deployments map[string]bool) error {
	if err := CheckName("endpoint", e.Name); err != nil {
		return err
	}
	if e.AuthMode != "" && e.AuthMode != "key" {
		return ferry.Errorf(ferry.EINVALID, "endpoint %s: auth_mode %q: want key", e.Name, e.AuthMode)
	}
	sum := 0
	for _, n := range sortedKeys(e.Traffic) {
		p := e.Traffic[n]
		if p < 0 || p > 100 {
			return ferry.Errorf(ferry.EINVALID, "endpoint %s: traffic %s: %d is not a percentage", e.Name, n, p)
		}
		if deployments != nil && !deployments[n] {
			return ferry.Errorf(ferry.EINVALID, "endpoint %s: traffic names %s, which is not a deployment of this endpoint", e.Name, n)
		}
		sum += p
	}
	if sum != 0 && sum != 100 {
		return ferry.Errorf(ferry.EINVALID, "endpoint %s: traffic sums to %d; want 0 or 100", e.Name, sum)
	}
	if len(e.MirrorTraffic) > 1 {
		return ferry.Errorf(ferry.EINVALID, "endpoint %s: mirror_traffic names %d deployments; want at most one", e.Name, len(e.MirrorTraffic))
	}
	for n, p := range e.MirrorTraffic {
		if p < 0 || p > 50 {
			return ferry.Errorf(ferry.EINVALID, "endpoint %s: mirror_traffic %s: %d; want 0 to 50", e.Name, n, p)
		}
		if _, ok := e.Traffic[n]; ok {
			return ferry.Errorf(ferry.EINVALID, "endpoint %s: %s is in both traffic and mirror_traffic", e.Name, n)
		}
		if deployments != nil && !deployments[n] {
			return ferry.Errorf(ferry.EINVALID, "endpoint %s: mirror_traffic names %s, which is not a deployment of this endpoint", e.Name, n)
		}
	}
	return nil
}

// Validate checks d on its own.
func (d Deployment) Validate() error {
	if err := CheckName("deployment", d.Name); err != nil {
		return err
	}
	if err := CheckName("endpoint", d.EndpointName); err != nil {
		return fmt.Errorf("deployment %s: %w", d.Name, err)
	}
	id := d.EndpointName + "/" + d.Name
	if !strings.HasPrefix(d.Model, "models:/") || len(d.Model) == len("models:/") {
		return ferry.Errorf(ferry.EINVALID, "deployment %s: model %q: want models:/NAME/VERSION or models:/NAME@ALIAS", id, d.Model)
	}
	if d.InstanceCount < 0 {
		return ferry.Errorf(ferry.EINVALID, "deployment %s: instance_count %d is negative", id, d.InstanceCount)
	}
	rs := d.RequestSettings
	if rs.RequestTimeoutMS < 0 || rs.MaxConcurrentRequestsPerInstance < 0 || rs.MaxBatchSize < 0 {
		return ferry.Errorf(ferry.EINVALID, "deployment %s: request_settings must not be negative", id)
	}
	for _, p := range []*Probe{d.LivenessProbe, d.ReadinessProbe} {
		if p != nil && (p.InitialDelay < 0 || p.Period < 0 || p.Timeout < 0 || p.FailureThreshold < 0 || p.SuccessThreshold < 0) {
			return ferry.Errorf(ferry.EINVALID, "deployment %s: probe settings must not be negative", id)
		}
	}
	switch d.Target {
	case "", TargetEmbedded, TargetProcess, TargetKubernetes:
	default:
		return ferry.Errorf(ferry.EINVALID, "deployment %s: target %q: want embedded, process or kubernetes", id, d.Target)
	}
	if err := d.DataCollector.validate(); err != nil {
		return fmt.Errorf("deployment %s: %w", id, err)
	}
	if d.Rollout != nil {
		if _, err := parseRollout(d.Rollout); err != nil {
			return fmt.Errorf("deployment %s: %w", id, err)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
