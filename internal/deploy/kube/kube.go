// Package kube renders an endpoint and its deployments as Kubernetes
// manifests — the kubernetes target of `ferry apply --target kubernetes
// --render DIR`. Ferry does not talk to clusters: it writes YAML that
// kubectl (or Argo CD, Flux, …) applies.
//
// Two formats:
//
//   - "deployment" (the default): per deployment an apps/v1 Deployment, a
//     core/v1 Service reaching that deployment only and an autoscaling/v2
//     HorizontalPodAutoscaler; per endpoint a Service for its traffic. A plain
//     Service cannot split traffic by weight: with one deployment taking
//     traffic it selects that deployment's pods (a blue/green switch is a
//     selector change); with several it selects all their pods, so the split
//     follows the ratio of ready pods, not the percentages.
//   - "kserve": one serving.kserve.io/v1beta1 InferenceService per endpoint
//     whose predictor runs the deployment that takes the traffic, or — when
//     two deployments take traffic — the smaller share (the canary) with
//     canaryTrafficPercent set to its share. KServe sends the rest to the
//     previously rolled-out revision, which must be the stable deployment.
//
// Every pod runs the image `ferry models package --image` built for the
// deployment's pinned model version, pushed to Options.ImageRepository as
// REPOSITORY/NAME:VERSION (packaging.ImageName), with `ferry serve /model`.
package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/packaging"
)

// Formats Render writes.
const (
	FormatDeployment = "deployment"
	FormatKServe     = "kserve"
)

// Resource requests of every model-server container and the CPU
// utilisation the HorizontalPodAutoscaler aims for. An HPA on CPU
// utilisation needs a CPU request to measure against.
const (
	CPURequest           = "250m"
	MemoryRequest        = "256Mi"
	TargetCPUUtilization = 70
)

// Options says how to render.
type Options struct {
	// Format is FormatDeployment ("" too) or FormatKServe.
	Format string
	// ImageRepository is where the packaged images are pushed, e.g.
	// registry.example.com/team; a deployment of models:/churn/3 runs
	// registry.example.com/team/churn:3. Required.
	ImageRepository string
	// Namespace of every object; "" leaves it to kubectl's context.
	Namespace string
	// MaxReplicas is the autoscaling ceiling (never below a deployment's
	// instance_count, which is the floor); 0: twice instance_count.
	MaxReplicas int
}

// File is one rendered manifest: one Kubernetes object as YAML.
type File struct {
	// Name is the file name, OBJECT.KIND.yaml (no directory).
	Name string
	Data []byte
}

// Render returns the manifests of endpoint and its deployments (each must
// name endpoint and have its model pinned in ModelVersion, as
// deploy.Service.PutDeployment or a resolve by the caller leaves it), in a
// stable order. Defaults are filled in as deploy.Deployment.Normalize does.
// Errors are EINVALID *ferry.Error: bad options, an invalid resource, a
// deployment of another endpoint or unpinned, names that collide once made
// Kubernetes names, and — for kserve — a traffic split KServe cannot express
// (no deployment or more than two taking traffic).
func Render(endpoint deploy.Endpoint, deployments []deploy.Deployment, opts Options) ([]File, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	r := renderer{opts: opts, endpoint: endpoint.Normalize()}
	names := map[string]bool{}
	for _, d := range deployments {
		names[d.Name] = true
	}
	if err := r.endpoint.Validate(names); err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for _, d := range deployments {
		rd, err := r.deployment(d)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[rd.object]; ok {
			return nil, ferry.Errorf(ferry.EINVALID, "deployments %s and %s of endpoint %s both become Kubernetes name %q; rename one", other, d.Name, r.endpoint.Name, rd.object)
		}
		seen[rd.object] = d.Name
		r.deployments = append(r.deployments, rd)
	}
	sort.Slice(r.deployments, func(i, j int) bool { return r.deployments[i].Name < r.deployments[j].Name })
	if opts.Format == FormatKServe {
		return r.kserve()
	}
	return r.plain()
}

func (o Options) check() error {
	if o.Format != "" && o.Format != FormatDeployment && o.Format != FormatKServe {
		return ferry.Errorf(ferry.EINVALID, "format %q: want deployment or kserve", o.Format)
	}
	if o.ImageRepository == "" {
		return ferry.Errorf(ferry.EINVALID, "no image repository: name the registry repository the packaged model images are pushed to (e.g. registry.example.com/team)")
	}
	if _, err := name.NewRepository(strings.TrimSuffix(o.ImageRepository, "/") + "/model"); err != nil {
		return ferry.Errorf(ferry.EINVALID, "image repository %q: %v", o.ImageRepository, err)
	}
	if o.Namespace != "" && (len(o.Namespace) > 63 || !dns1123Label.MatchString(o.Namespace)) {
		return ferry.Errorf(ferry.EINVALID, "namespace %q: want a DNS label (lowercase letters, digits and '-', at most 63)", o.Namespace)
	}
	if o.MaxReplicas < 0 {
		return ferry.Errorf(ferry.EINVALID, "max replicas %d is negative", o.MaxReplicas)
	}
	return nil
}

type renderer struct {
	opts        Options
	endpoint    deploy.Endpoint
	deployments []rendered
}

// rendered is a deployment with what its manifests need.
type rendered struct {
	deploy.Deployment
	object  string // Kubernetes name of its objects
	model   string // model name
	version int
	image   string
}

func (r *renderer) deployment(d deploy.Deployment) (rendered, error) {
	d = d.Normalize()
	if err := d.Validate(); err != nil {
		return rendered{}, err
	}
	id := d.EndpointName + "/" + d.Name
	if d.EndpointName != r.endpoint.Name {
		return rendered{}, ferry.Errorf(ferry.EINVALID, "deployment %s is not a deployment of endpoint %s", id, r.endpoint.Name)
	}
	rest, ok := strings.CutPrefix(d.ModelVersion, "models:/")
	i := strings.LastIndexByte(rest, '/')
	version, err := strconv.Atoi(rest[i+1:])
	if !ok || i <= 0 || err != nil || version < 1 {
		return rendered{}, ferry.Errorf(ferry.EINVALID, "deployment %s: model not pinned to a version (model_version %q); resolve %s first", id, d.ModelVersion, d.Model)
	}
	if p := d.LivenessProbe; p != nil && p.SuccessThreshold > 1 {
		return rendered{}, ferry.Errorf(ferry.EINVALID, "deployment %s: liveness_probe success_threshold %d: Kubernetes requires 1", id, p.SuccessThreshold)
	}
	rd := rendered{Deployment: d, object: kubeName(r.endpoint.Name, d.Name), model: rest[:i], version: version}
	rd.image = strings.TrimSuffix(r.opts.ImageRepository, "/") + "/" + packaging.ImageName(rd.model, version)
	if _, err := name.NewTag(rd.image); err != nil {
		return rendered{}, ferry.Errorf(ferry.EINVALID, "deployment %s: image %q: %v", id, rd.image, err)
	}
	return rd, nil
}

// Label keys Ferry sets besides the app.kubernetes.io ones.
const (
	LabelEndpoint     = "ferry.dev/endpoint"
	LabelDeployment   = "ferry.dev/deployment"
	LabelModelVersion = "ferry.dev/model-version"
	// LabelLive marks the pods of the deployments an endpoint's traffic is
	// split between, when it is split between several.
	LabelLive = "ferry.dev/live"
)

// Annotation keys: the exact values that labels can only approximate.
const (
	AnnotationModel        = "ferry.dev/model"         // the model URI as written
	AnnotationModelVersion = "ferry.dev/model-version" // models:/NAME/VERSION, pinned
)

// selector is the immutable part of a deployment's labels.
func (r *renderer) selector(d rendered) map[string]string {
	return map[string]string{LabelEndpoint: labelValue(r.endpoint.Name), LabelDeployment: labelValue(d.Name)}
}

func (r *renderer) labels(d *rendered) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/name":       kubeName(r.endpoint.Name),
		"app.kubernetes.io/component":  "model-server",
		"app.kubernetes.io/managed-by": "ferry",
		LabelEndpoint:                  labelValue(r.endpoint.Name),
	}
	if d != nil {
		l["app.kubernetes.io/instance"] = d.object
		l["app.kubernetes.io/version"] = strconv.Itoa(d.version)
		l[LabelDeployment] = labelValue(d.Name)
		l[LabelModelVersion] = modelLabel(d.model, d.version)
	}
	return l
}

func (r *renderer) meta(objectName string, d *rendered) objectMeta {
	m := objectMeta{Name: objectName, Namespace: r.opts.Namespace, Labels: r.labels(d)}
	if d != nil {
		m.Annotations = map[string]string{AnnotationModel: d.Model, AnnotationModelVersion: d.ModelVersion}
	}
	return m
}

func (r *renderer) maxReplicas(d rendered) int {
	if r.opts.MaxReplicas == 0 {
		return 2 * d.InstanceCount
	}
	return max(r.opts.MaxReplicas, d.InstanceCount)
}

// container is the model server of d; port is what its probes name.
func (r *renderer) container(d rendered, containerName, portName string, probePort any) container {
	rs := d.RequestSettings
	args := []string{"--name", r.endpoint.Name, "--addr", fmt.Sprintf("0.0.0.0:%d", packaging.Port),
		"--timeout", (time.Duration(rs.RequestTimeoutMS) * time.Millisecond).String()}
	if rs.MaxConcurrentRequestsPerInstance > 0 {
		args = append(args, "--max-in-flight", strconv.Itoa(rs.MaxConcurrentRequestsPerInstance))
	}
	if rs.MaxBatchSize > 1 {
		args = append(args, "--batch-max", strconv.Itoa(rs.MaxBatchSize))
	}
	var env []envVar
	for _, k := range sortedKeys(d.EnvironmentVariables) {
		env = append(env, envVar{Name: k, Value: d.EnvironmentVariables[k]})
	}
	return container{
		Name:            containerName,
		Image:           d.image,
		ImagePullPolicy: "IfNotPresent",
		Command:         packaging.ImageEntrypoint(),
		Args:            args,
		Env:             env,
		Ports:           []containerPort{{Name: portName, ContainerPort: packaging.Port, Protocol: "TCP"}},
		ReadinessProbe:  httpProbe(d.ReadinessProbe, "/v2/health/ready", probePort),
		LivenessProbe:   httpProbe(d.LivenessProbe, "/v2/health/live", probePort),
		Resources:       resources{Requests: map[string]string{"cpu": CPURequest, "memory": MemoryRequest}},
		SecurityContext: &securityContext{RunAsNonRoot: true},
	}
}

// httpProbe maps an Azure-style probe onto an HTTP GET of path; unset
// settings take Kubernetes' defaults.
func httpProbe(p *deploy.Probe, path string, port any) *probe {
	out := &probe{HTTPGet: httpGetAction{Path: path, Port: port}}
	if p != nil {
		out.InitialDelaySeconds, out.PeriodSeconds, out.TimeoutSeconds = p.InitialDelay, p.Period, p.Timeout
		out.SuccessThreshold, out.FailureThreshold = p.SuccessThreshold, p.FailureThreshold
	}
	return out
}

// file renders one object as YAML under a comment header.
func file(objectName, kind string, header []string, obj any) (File, error) {
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(obj); err != nil {
		return File{}, fmt.Errorf("kube: encode %s %s: %w", kind, objectName, err)
	}
	if err := enc.Close(); err != nil {
		return File{}, fmt.Errorf("kube: encode %s %s: %w", kind, objectName, err)
	}
	return File{Name: objectName + "." + strings.ToLower(kind) + ".yaml", Data: []byte(b.String())}, nil
}

// kubeName joins Ferry names into a Kubernetes object name that is a DNS
// label (RFC 1035: lowercase letters, digits and '-', starting with a
// letter — Ferry names start with one — ending with a letter or digit, at
// most 63): lowercased, joined by '-', and when too long cut to 54
// characters plus '-' and 8 hex digits of the SHA-256 of the joined names.
func kubeName(parts ...string) string {
	joined := strings.Join(parts, "-")
	s := dnsLabel(joined)
	if len(s) <= 63 {
		return s
	}
	sum := sha256.Sum256([]byte(joined))
	return strings.TrimRight(s[:54], "-") + "-" + hex.EncodeToString(sum[:4])
}

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsLabel is s lowercased with trailing '-' trimmed; uncut.
func dnsLabel(s string) string { return strings.TrimRight(strings.ToLower(s), "-") }

// labelValue makes s a valid label value: at most 63 characters, ending
// with a letter or digit (s starts with one).
func labelValue(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimRight(s, "-_.")
}

// modelLabel is a label value naming a model version: NAME.VERSION, NAME as
// in the image name, cut to fit.
func modelLabel(model string, version int) string {
	repo, _, _ := strings.Cut(packaging.ImageName(model, version), ":")
	v := "." + strconv.Itoa(version)
	return labelValue(repo[:min(len(repo), 63-len(v))]) + v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// RenderState renders every endpoint of s with its deployments (Render
// each), endpoints in name order. Every deployment must have its model
// pinned and its endpoint in s, and declare target kubernetes or none.
// Errors are EINVALID *ferry.Error, among them two endpoints rendering an
// object of the same kind and name.
func RenderState(s deploy.State, opts Options) ([]File, error) {
	byEndpoint := map[string][]deploy.Deployment{}
	for _, d := range s.Deployments {
		if d.Target != "" && d.Target != deploy.TargetKubernetes {
			return nil, ferry.Errorf(ferry.EINVALID, "deployment %s/%s declares target %s; only deployments with target kubernetes (or none) render as manifests", d.EndpointName, d.Name, d.Target)
		}
		byEndpoint[d.EndpointName] = append(byEndpoint[d.EndpointName], d)
	}
	endpoints := append([]deploy.Endpoint(nil), s.Endpoints...)
	sort.Slice(endpoints, func(i, j int) bool { return endpoints[i].Name < endpoints[j].Name })
	var files []File
	from := map[string]string{} // file name → endpoint
	for _, e := range endpoints {
		fs, err := Render(e, byEndpoint[e.Name], opts)
		if err != nil {
			return nil, err
		}
		delete(byEndpoint, e.Name)
		for _, f := range fs {
			if other, ok := from[f.Name]; ok {
				return nil, ferry.Errorf(ferry.EINVALID, "endpoints %s and %s both render %s; rename one", other, e.Name, f.Name)
			}
			from[f.Name] = e.Name
		}
		files = append(files, fs...)
	}
	for _, name := range sortedKeys(byEndpoint) {
		d := byEndpoint[name][0]
		return nil, ferry.Errorf(ferry.EINVALID, "deployment %s/%s: endpoint %s is not declared; rendering needs the endpoint and its traffic", d.EndpointName, d.Name, name)
	}
	return files, nil
}
