package deploy

// DeploymentStatus is how one deployment is running, as the runtime that
// serves the endpoints (the router) reports it.
type DeploymentStatus struct {
	Endpoint     string `json:"endpoint"`
	Deployment   string `json:"deployment"`
	Target       string `json:"target"`
	ModelVersion string `json:"model_version"`
	// Ready is whether the deployment gets requests: loaded and, for the
	// process target, answering its readiness probe.
	Ready bool `json:"ready"`
	// Traffic and Mirror are the percentages the router sends it.
	Traffic int `json:"traffic"`
	Mirror  int `json:"mirror"`
	// Pending is the version of a replacement that is loading, while the
	// current one keeps serving.
	Pending string `json:"pending,omitempty"`
	// Error says why the deployment is not ready, when known.
	Error string `json:"error,omitempty"`
}
