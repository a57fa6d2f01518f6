package kube

// The subset of the Kubernetes and KServe API types the manifests use,
// written here so that the ferry binary does not link k8s.io/api. Field
// names and nesting follow apps/v1, core/v1, autoscaling/v2 and
// serving.kserve.io/v1beta1; the tests decode every rendered manifest
// strictly into the k8s.io/api types and check the InferenceService against
// KServe's CRD schema, so a misspelt field here fails them.

type typeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

type objectMeta struct {
	Name        string            `yaml:"name,omitempty"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type deploymentObject struct {
	typeMeta `yaml:",inline"`
	Metadata objectMeta     `yaml:"metadata"`
	Spec     deploymentSpec `yaml:"spec"`
}

type deploymentSpec struct {
	Replicas int                `yaml:"replicas"`
	Selector labelSelector      `yaml:"selector"`
	Strategy deploymentStrategy `yaml:"strategy"`
	Template podTemplate        `yaml:"template"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type deploymentStrategy struct {
	Type          string        `yaml:"type"`
	RollingUpdate rollingUpdate `yaml:"rollingUpdate"`
}

// rollingUpdate's fields are IntOrString in apps/v1; plain integers here.
type rollingUpdate struct {
	MaxUnavailable int `yaml:"maxUnavailable"`
	MaxSurge       int `yaml:"maxSurge"`
}

type podTemplate struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     podSpec    `yaml:"spec"`
}

type podSpec struct {
	Containers []container `yaml:"containers"`
}

type container struct {
	Name            string           `yaml:"name"`
	Image           string           `yaml:"image"`
	ImagePullPolicy string           `yaml:"imagePullPolicy,omitempty"`
	Command         []string         `yaml:"command"`
	Args            []string         `yaml:"args"`
	Env             []envVar         `yaml:"env,omitempty"`
	Ports           []containerPort  `yaml:"ports"`
	ReadinessProbe  *probe           `yaml:"readinessProbe,omitempty"`
	LivenessProbe   *probe           `yaml:"livenessProbe,omitempty"`
	Resources       resources        `yaml:"resources"`
	SecurityContext *securityContext `yaml:"securityContext,omitempty"`
}

type envVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
}

type probe struct {
	HTTPGet             httpGetAction `yaml:"httpGet"`
	InitialDelaySeconds int           `yaml:"initialDelaySeconds,omitempty"`
	PeriodSeconds       int           `yaml:"periodSeconds,omitempty"`
	TimeoutSeconds      int           `yaml:"timeoutSeconds,omitempty"`
	SuccessThreshold    int           `yaml:"successThreshold,omitempty"`
	FailureThreshold    int           `yaml:"failureThreshold,omitempty"`
}

// httpGetAction's Port is IntOrString in core/v1: a port name or number.
type httpGetAction struct {
	Path string `yaml:"path"`
	Port any    `yaml:"port"`
}

type resources struct {
	Requests map[string]string `yaml:"requests,omitempty"`
}

type securityContext struct {
	RunAsNonRoot             bool `yaml:"runAsNonRoot"`
	AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
}

type serviceObject struct {
	typeMeta `yaml:",inline"`
	Metadata objectMeta  `yaml:"metadata"`
	Spec     serviceSpec `yaml:"spec"`
}

type serviceSpec struct {
	Type     string            `yaml:"type"`
	Selector map[string]string `yaml:"selector"`
	Ports    []servicePort     `yaml:"ports"`
}

// servicePort's TargetPort is IntOrString in core/v1; a port name here.
type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"`
	Protocol   string `yaml:"protocol"`
}

type hpaObject struct {
	typeMeta `yaml:",inline"`
	Metadata objectMeta `yaml:"metadata"`
	Spec     hpaSpec    `yaml:"spec"`
}

type hpaSpec struct {
	ScaleTargetRef scaleTargetRef `yaml:"scaleTargetRef"`
	MinReplicas    int            `yaml:"minReplicas"`
	MaxReplicas    int            `yaml:"maxReplicas"`
	Metrics        []metricSpec   `yaml:"metrics"`
}

type scaleTargetRef struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Name       string `yaml:"name"`
}

type metricSpec struct {
	Type     string             `yaml:"type"`
	Resource resourceMetricSpec `yaml:"resource"`
}

type resourceMetricSpec struct {
	Name   string       `yaml:"name"`
	Target metricTarget `yaml:"target"`
}

type metricTarget struct {
	Type               string `yaml:"type"`
	AverageUtilization int    `yaml:"averageUtilization"`
}

type inferenceServiceObject struct {
	typeMeta `yaml:",inline"`
	Metadata objectMeta           `yaml:"metadata"`
	Spec     inferenceServiceSpec `yaml:"spec"`
}

type inferenceServiceSpec struct {
	Predictor predictorSpec `yaml:"predictor"`
}

// predictorSpec is KServe's PredictorSpec with a custom container.
type predictorSpec struct {
	Labels               map[string]string `yaml:"labels,omitempty"`
	Annotations          map[string]string `yaml:"annotations,omitempty"`
	MinReplicas          int               `yaml:"minReplicas"`
	MaxReplicas          int               `yaml:"maxReplicas"`
	CanaryTrafficPercent *int              `yaml:"canaryTrafficPercent,omitempty"`
	ContainerConcurrency int               `yaml:"containerConcurrency,omitempty"`
	// Timeout is in seconds.
	Timeout    int         `yaml:"timeout"`
	Containers []container `yaml:"containers"`
}
