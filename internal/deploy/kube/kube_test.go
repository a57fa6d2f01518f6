package kube

import (
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
)

const repo = "registry.example.com/team"

// fixture is an endpoint split 90/10 between blue (models:/churn/3) and a
// canary green (models:/churn@challenger, pinned to version 4).
func fixture() (deploy.Endpoint, []deploy.Deployment) {
	e := deploy.Endpoint{Name: "churn", Traffic: map[string]int{"blue": 90, "green": 10}}
	blue := deploy.Deployment{
		Name: "blue", EndpointName: "churn", Model: "models:/churn/3", ModelVersion: "models:/churn/3",
		InstanceCount: 2,
		RequestSettings: deploy.RequestSettings{
			RequestTimeoutMS: 2500, MaxConcurrentRequestsPerInstance: 16, MaxBatchSize: 32,
		},
		ReadinessProbe:       &deploy.Probe{InitialDelay: 3, Period: 5, Timeout: 2, FailureThreshold: 4, SuccessThreshold: 2},
		LivenessProbe:        &deploy.Probe{Period: 20, FailureThreshold: 6},
		EnvironmentVariables: map[string]string{"OMP_NUM_THREADS": "2", "FERRY_LOG_LEVEL": "debug"},
		Target:               deploy.TargetKubernetes,
	}
	green := deploy.Deployment{
		Name: "green", EndpointName: "churn", Model: "models:/churn@challenger", ModelVersion: "models:/churn/4",
		Rollout: &deploy.Rollout{Strategy: "canary", Steps: []int{10, 50, 100}},
	}
	return e, []deploy.Deployment{green, blue}
}

// decodeStrict decodes one manifest into out; unknown or duplicate fields
// are errors.
func decodeStrict(t *testing.T, f File, out any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(f.Data, out); err != nil {
		t.Fatalf("%s: strict decode into %T: %v\n%s", f.Name, out, err, f.Data)
	}
}

// checkMeta checks what every object's metadata must satisfy: a DNS-1035
// name, valid label keys and values, the namespace asked for.
func checkMeta(t *testing.T, file string, m metav1.ObjectMeta, namespace string) {
	t.Helper()
	if errs := validation.IsDNS1035Label(m.Name); len(errs) > 0 {
		t.Errorf("%s: name %q: %v", file, m.Name, errs)
	}
	if m.Namespace != namespace {
		t.Errorf("%s: namespace %q; want %q", file, m.Namespace, namespace)
	}
	checkLabels(t, file, m.Labels)
}

func checkLabels(t *testing.T, file string, labels map[string]string) {
	t.Helper()
	for k, v := range labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			t.Errorf("%s: label key %q: %v", file, k, errs)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("%s: label %s value %q: %v", file, k, v, errs)
		}
	}
}

func byName(files []File) map[string]File {
	m := map[string]File{}
	for _, f := range files {
		m[f.Name] = f
	}
	return m
}

func TestRenderDeploymentFormat(t *testing.T) {
	e, deps := fixture()
	files, err := Render(e, deps, Options{ImageRepository: repo, Namespace: "ml-prod", MaxReplicas: 5})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	want := []string{
		"churn.service.yaml",
		"churn-blue.deployment.yaml", "churn-blue.service.yaml", "churn-blue.horizontalpodautoscaler.yaml",
		"churn-green.deployment.yaml", "churn-green.service.yaml", "churn-green.horizontalpodautoscaler.yaml",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v; want %v", names, want)
	}
	fs := byName(files)

	t.Run("deployment", func(t *testing.T) {
		var d appsv1.Deployment
		decodeStrict(t, fs["churn-blue.deployment.yaml"], &d)
		checkMeta(t, "deployment", d.ObjectMeta, "ml-prod")
		if d.APIVersion != "apps/v1" || d.Kind != "Deployment" || d.Name != "churn-blue" {
			t.Errorf("type/name %s %s %s", d.APIVersion, d.Kind, d.Name)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
			t.Errorf("replicas %v; want instance_count 2", d.Spec.Replicas)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := d.Spec.Template
		checkLabels(t, "pod template", tmpl.Labels)
		if !sel.Matches(labels.Set(tmpl.Labels)) {
			t.Errorf("selector %v does not match the template's labels %v", sel, tmpl.Labels)
		}
		for k, v := range map[string]string{
			"ferry.dev/endpoint": "churn", "ferry.dev/deployment": "blue", "ferry.dev/model-version": "churn.3",
			"app.kubernetes.io/name": "churn", "app.kubernetes.io/instance": "churn-blue",
			"app.kubernetes.io/managed-by": "ferry", "ferry.dev/live": "true",
		} {
			if tmpl.Labels[k] != v {
				t.Errorf("pod label %s = %q; want %q", k, tmpl.Labels[k], v)
			}
		}
		if tmpl.Annotations["ferry.dev/model-version"] != "models:/churn/3" || tmpl.Annotations["ferry.dev/model"] != "models:/churn/3" {
			t.Errorf("pod annotations %v", tmpl.Annotations)
		}
		if s := d.Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate.MaxUnavailable.IntValue() != 0 || s.RollingUpdate.MaxSurge.IntValue() != 1 {
			t.Errorf("strategy %+v", s)
		}
		if len(tmpl.Spec.Containers) != 1 {
			t.Fatalf("containers %d", len(tmpl.Spec.Containers))
		}
		c := tmpl.Spec.Containers[0]
		if c.Image != "registry.example.com/team/churn:3" {
			t.Errorf("image %q", c.Image)
		}
		if got := strings.Join(append(c.Command, c.Args...), " "); got != "/usr/local/bin/ferry serve /model --name churn --addr 0.0.0.0:8080 --timeout 2.5s --max-in-flight 16 --batch-max 32" {
			t.Errorf("command line %q", got)
		}
		wantEnv := []corev1.EnvVar{{Name: "FERRY_LOG_LEVEL", Value: "debug"}, {Name: "OMP_NUM_THREADS", Value: "2"}}
		if !slices.Equal(c.Env, wantEnv) {
			t.Errorf("env %v; want %v", c.Env, wantEnv)
		}
		if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "http" || c.Ports[0].Protocol != corev1.ProtocolTCP {
			t.Errorf("ports %+v", c.Ports)
		}
		r := c.ReadinessProbe
		if r == nil || r.HTTPGet == nil || r.HTTPGet.Path != "/v2/health/ready" || r.HTTPGet.Port != intstr.FromString("http") ||
			r.InitialDelaySeconds != 3 || r.PeriodSeconds != 5 || r.TimeoutSeconds != 2 || r.FailureThreshold != 4 || r.SuccessThreshold != 2 {
			t.Errorf("readiness probe %+v", r)
		}
		l := c.LivenessProbe
		if l == nil || l.HTTPGet == nil || l.HTTPGet.Path != "/v2/health/live" || l.PeriodSeconds != 20 || l.FailureThreshold != 6 || l.InitialDelaySeconds != 0 {
			t.Errorf("liveness probe %+v", l)
		}
		if q := c.Resources.Requests[corev1.ResourceCPU]; q.String() != CPURequest {
			t.Errorf("cpu request %s", q.String())
		}
		if sc := c.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("security context %+v", sc)
		}
	})

	t.Run("deployment service", func(t *testing.T) {
		var s corev1.Service
		decodeStrict(t, fs["churn-green.service.yaml"], &s)
		checkMeta(t, "service", s.ObjectMeta, "ml-prod")
		if s.Spec.Type != corev1.ServiceTypeClusterIP || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 80 || s.Spec.Ports[0].TargetPort != intstr.FromString("http") {
			t.Errorf("spec %+v", s.Spec)
		}
		if want := map[string]string{"ferry.dev/endpoint": "churn", "ferry.dev/deployment": "green"}; !maps.Equal(s.Spec.Selector, want) {
			t.Errorf("selector %v; want %v", s.Spec.Selector, want)
		}
	})

	t.Run("endpoint service", func(t *testing.T) {
		f := fs["churn.service.yaml"]
		var s corev1.Service
		decodeStrict(t, f, &s)
		checkMeta(t, "endpoint service", s.ObjectMeta, "ml-prod")
		if want := map[string]string{"ferry.dev/endpoint": "churn", "ferry.dev/live": "true"}; !maps.Equal(s.Spec.Selector, want) {
			t.Errorf("selector %v; want %v", s.Spec.Selector, want)
		}
		if !strings.Contains(string(f.Data), "cannot split traffic by weight") {
			t.Errorf("the split endpoint's Service does not say it cannot weigh traffic:\n%s", f.Data)
		}
	})

	t.Run("hpa", func(t *testing.T) {
		var h autoscalingv2.HorizontalPodAutoscaler
		decodeStrict(t, fs["churn-blue.horizontalpodautoscaler.yaml"], &h)
		checkMeta(t, "hpa", h.ObjectMeta, "ml-prod")
		if h.APIVersion != "autoscaling/v2" || h.Spec.ScaleTargetRef != (autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "churn-blue"}) {
			t.Errorf("target %+v", h.Spec.ScaleTargetRef)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 5 {
			t.Errorf("replicas %v..%d; want 2..5", h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
			*h.Spec.Metrics[0].Resource.Target.AverageUtilization != TargetCPUUtilization {
			t.Errorf("metrics %+v", h.Spec.Metrics)
		}
		var g autoscalingv2.HorizontalPodAutoscaler
		decodeStrict(t, fs["churn-green.horizontalpodautoscaler.yaml"], &g)
		if *g.Spec.MinReplicas != 1 || g.Spec.MaxReplicas != 5 {
			t.Errorf("green replicas %v..%d; want 1..5", *g.Spec.MinReplicas, g.Spec.MaxReplicas)
		}
	})
}

func TestRenderEndpointServiceSelection(t *testing.T) {
	tests := []struct {
		name     string
		traffic  map[string]int
		selector map[string]string
		liveBlue bool
	}{
		{"one deployment takes all", map[string]int{"blue": 100}, map[string]string{"ferry.dev/endpoint": "churn", "ferry.dev/deployment": "blue"}, false},
		{"one takes all, other named at 0", map[string]int{"blue": 0, "green": 100}, map[string]string{"ferry.dev/endpoint": "churn", "ferry.dev/deployment": "green"}, false},
		{"no traffic", nil, map[string]string{"ferry.dev/endpoint": "churn", "ferry.dev/live": "true"}, false},
		{"split", map[string]int{"blue": 50, "green": 50}, map[string]string{"ferry.dev/endpoint": "churn", "ferry.dev/live": "true"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, deps := fixture()
			e.Traffic = tt.traffic
			files, err := Render(e, deps, Options{ImageRepository: repo})
			if err != nil {
				t.Fatal(err)
			}
			fs := byName(files)
			var s corev1.Service
			decodeStrict(t, fs["churn.service.yaml"], &s)
			if !maps.Equal(s.Spec.Selector, tt.selector) {
				t.Errorf("selector %v; want %v", s.Spec.Selector, tt.selector)
			}
			var d appsv1.Deployment
			decodeStrict(t, fs["churn-blue.deployment.yaml"], &d)
			if got := d.Spec.Template.Labels["ferry.dev/live"] == "true"; got != tt.liveBlue {
				t.Errorf("blue pods live label %v; want %v", got, tt.liveBlue)
			}
			if d.Namespace != "" {
				t.Errorf("namespace %q without the option", d.Namespace)
			}
			var h autoscalingv2.HorizontalPodAutoscaler
			decodeStrict(t, fs["churn-blue.horizontalpodautoscaler.yaml"], &h)
			if h.Spec.MaxReplicas != 4 {
				t.Errorf("max replicas %d; want twice instance_count", h.Spec.MaxReplicas)
			}
		})
	}
}

func TestRenderKServe(t *testing.T) {
	schema := loadCRDSchema(t, "testdata/kserve/inferenceservice-v1beta1.schema.yaml")
	tests := []struct {
		name      string
		traffic   map[string]int
		predictor string // deployment run by the predictor
		canary    int    // canaryTrafficPercent; 0: unset
	}{
		{"canary 90/10", map[string]int{"blue": 90, "green": 10}, "green", 10},
		{"canary tie broken by rollout", map[string]int{"blue": 50, "green": 50}, "green", 50},
		{"one deployment", map[string]int{"blue": 100, "green": 0}, "blue", 0},
		{"canary owns the larger share", map[string]int{"blue": 30, "green": 70}, "blue", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, deps := fixture()
			e.Traffic = tt.traffic
			files, err := Render(e, deps, Options{Format: FormatKServe, ImageRepository: repo, Namespace: "ml"})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 || files[0].Name != "churn.inferenceservice.yaml" {
				t.Fatalf("files %v", files)
			}
			f := files[0]
			errs, err := schema.validate(f.Data)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				t.Errorf("%s against KServe's CRD schema: %s", f.Name, e)
			}
			// The CRD leaves metadata and the container's Kubernetes types
			// to the API server; check them against k8s.io/api strictly.
			var isvc struct {
				APIVersion string            `json:"apiVersion"`
				Kind       string            `json:"kind"`
				Metadata   metav1.ObjectMeta `json:"metadata"`
				Spec       struct {
					Predictor struct {
						Labels               map[string]string  `json:"labels"`
						Annotations          map[string]string  `json:"annotations"`
						MinReplicas          int                `json:"minReplicas"`
						MaxReplicas          int                `json:"maxReplicas"`
						CanaryTrafficPercent *int               `json:"canaryTrafficPercent"`
						ContainerConcurrency int                `json:"containerConcurrency"`
						Timeout              int                `json:"timeout"`
						Containers           []corev1.Container `json:"containers"`
					} `json:"predictor"`
				} `json:"spec"`
			}
			decodeStrict(t, f, &isvc)
			checkMeta(t, f.Name, isvc.Metadata, "ml")
			p := isvc.Spec.Predictor
			checkLabels(t, "predictor", p.Labels)
			if isvc.APIVersion != "serving.kserve.io/v1beta1" || isvc.Kind != "InferenceService" || isvc.Metadata.Name != "churn" {
				t.Errorf("type/name %s %s %s", isvc.APIVersion, isvc.Kind, isvc.Metadata.Name)
			}
			if got := p.Labels["ferry.dev/deployment"]; got != tt.predictor {
				t.Errorf("predictor runs %s; want %s", got, tt.predictor)
			}
			switch {
			case tt.canary == 0 && p.CanaryTrafficPercent != nil:
				t.Errorf("canaryTrafficPercent %d; want unset", *p.CanaryTrafficPercent)
			case tt.canary != 0 && (p.CanaryTrafficPercent == nil || *p.CanaryTrafficPercent != tt.canary):
				t.Errorf("canaryTrafficPercent %v; want %d", p.CanaryTrafficPercent, tt.canary)
			}
			stable := map[string]string{"blue": "green", "green": "blue"}[tt.predictor]
			if got := isvc.Metadata.Annotations["ferry.dev/stable-deployment"]; tt.canary != 0 && got != stable || tt.canary == 0 && got != "" {
				t.Errorf("stable-deployment annotation %q", got)
			}
			c := p.Containers[0]
			image := map[string]string{"blue": repo + "/churn:3", "green": repo + "/churn:4"}[tt.predictor]
			if c.Name != "kserve-container" || c.Image != image || c.Ports[0].Name != "http1" || c.ReadinessProbe.HTTPGet.Port != intstr.FromInt32(8080) {
				t.Errorf("container %s %s %+v %+v", c.Name, c.Image, c.Ports, c.ReadinessProbe.HTTPGet)
			}
			if tt.predictor == "blue" && (p.MinReplicas != 2 || p.ContainerConcurrency != 16 || p.Timeout != 3) {
				t.Errorf("predictor replicas %d, concurrency %d, timeout %ds; want 2, 16, 3", p.MinReplicas, p.ContainerConcurrency, p.Timeout)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*deploy.Endpoint, []deploy.Deployment, *Options)
		want   string
	}{
		{"no image repository", func(_ *deploy.Endpoint, _ []deploy.Deployment, o *Options) { o.ImageRepository = "" }, "no image repository"},
		{"bad image repository", func(_ *deploy.Endpoint, _ []deploy.Deployment, o *Options) { o.ImageRepository = "Registry/UPPER" }, "image repository"},
		{"bad format", func(_ *deploy.Endpoint, _ []deploy.Deployment, o *Options) { o.Format = "helm" }, "want deployment or kserve"},
		{"bad namespace", func(_ *deploy.Endpoint, _ []deploy.Deployment, o *Options) { o.Namespace = "ml_prod" }, "namespace"},

		{"unpinned model", func(_ *deploy.Endpoint, d []deploy.Deployment, _ *Options) { d[0].ModelVersion = "" }, "not pinned"},
		{"other endpoint", func(_ *deploy.Endpoint, d []deploy.Deployment, _ *Options) { d[0].EndpointName = "fraud" }, "not a deployment of endpoint churn"},
		{"traffic to a missing deployment", func(e *deploy.Endpoint, _ []deploy.Deployment, _ *Options) { e.Traffic = map[string]int{"red": 100} }, "not a deployment"},
		{"liveness success threshold", func(_ *deploy.Endpoint, d []deploy.Deployment, _ *Options) {
			d[1].LivenessProbe.SuccessThreshold = 2
		}, "Kubernetes requires 1"},
		{"names collide", func(e *deploy.Endpoint, d []deploy.Deployment, _ *Options) {
			d[0].Name, e.Traffic = "Blue", map[string]int{"blue": 100}
		}, "both become Kubernetes name"},
		{"kserve without traffic", func(e *deploy.Endpoint, _ []deploy.Deployment, o *Options) { o.Format, e.Traffic = FormatKServe, nil }, "no deployment takes traffic"},
		{"kserve tie", func(e *deploy.Endpoint, d []deploy.Deployment, o *Options) {
			o.Format, e.Traffic, d[0].Rollout = FormatKServe, map[string]int{"blue": 50, "green": 50}, nil
		}, "cannot tell which is the canary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, deps := fixture()
			o := Options{ImageRepository: repo}
			tt.change(&e, deps, &o)
			_, err := Render(e, deps, o)
			if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(ferry.ErrorMessage(err), tt.want) {
				t.Fatalf("error %v; want EINVALID containing %q", err, tt.want)
			}
		})
	}
}

func TestRenderImageRepositoryTrailingSlash(t *testing.T) {
	e, deps := fixture()
	files, err := Render(e, deps, Options{ImageRepository: repo + "/"})
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	decodeStrict(t, byName(files)["churn-blue.deployment.yaml"], &d)
	if got := d.Spec.Template.Spec.Containers[0].Image; got != repo+"/churn:3" {
		t.Fatalf("image %q", got)
	}
}

func TestRenderKServeThreeWaySplit(t *testing.T) {
	e, deps := fixture()
	red := deps[1]
	red.Name = "red"
	deps = append(deps, red)
	e.Traffic = map[string]int{"blue": 80, "green": 10, "red": 10}
	_, err := Render(e, deps, Options{Format: FormatKServe, ImageRepository: repo})
	if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), "two revisions only") {
		t.Fatalf("error %v", err)
	}
	if _, err := Render(e, deps, Options{ImageRepository: repo}); err != nil {
		t.Fatalf("deployment format renders a three-way split: %v", err)
	}
}

func TestKubeName(t *testing.T) {
	long := strings.Repeat("a", 32)
	tests := []struct{ name, got, want string }{
		{"lowercased", kubeName("Churn", "Blue"), "churn-blue"},
		{"trailing dash trimmed", kubeName("churn-", "blue-"), "churn--blue"},
		{"long cut with a hash", kubeName(long, long), (long + "-" + long)[:54] + "-"},
		{"model label", modelLabel("Breast Cancer/Model", 12), "breast-cancer-model.12"},
		{"long model label", modelLabel(strings.Repeat("m", 100), 7), strings.Repeat("m", 61) + ".7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.HasPrefix(tt.got, tt.want) || len(tt.got) > 63 {
				t.Errorf("%q; want %q (at most 63)", tt.got, tt.want)
			}
			if errs := validation.IsValidLabelValue(tt.got); len(errs) > 0 {
				t.Errorf("%q: %v", tt.got, errs)
			}
		})
	}
	if a, b := kubeName(long, long), kubeName(long, long+"c"); a == b || len(a) != 63 {
		t.Errorf("long names %q and %q: want distinct and 63 long", a, b)
	}
}

func TestRenderState(t *testing.T) {
	e, deps := fixture()
	other := deploy.Endpoint{Name: "churn-blue", Traffic: map[string]int{"main": 100}}
	main := deploy.Deployment{Name: "main", EndpointName: "churn-blue", Model: "models:/x/1", ModelVersion: "models:/x/1"}
	tests := []struct {
		name  string
		state deploy.State
		files int
		want  string
	}{
		{"two endpoints", deploy.State{Endpoints: []deploy.Endpoint{e, {Name: "fraud"}}, Deployments: deps}, 8, ""},
		{"endpoint missing", deploy.State{Deployments: deps}, 0, "endpoint churn is not declared"},
		{"other target", deploy.State{Endpoints: []deploy.Endpoint{e}, Deployments: append(deps[:1:1], func() deploy.Deployment {
			d := deps[1]
			d.Target = deploy.TargetProcess
			return d
		}())}, 0, "declares target process"},
		{"objects collide across endpoints", deploy.State{Endpoints: []deploy.Endpoint{e, other}, Deployments: append(deps, main)}, 0, "both render churn-blue.service.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := RenderState(tt.state, Options{ImageRepository: repo})
			if tt.want != "" {
				if ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v; want EINVALID containing %q", err, tt.want)
				}
				return
			}
			if err != nil || len(files) != tt.files {
				t.Fatalf("%d files, %v; want %d", len(files), err, tt.files)
			}
		})
	}
}
