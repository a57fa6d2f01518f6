package kube

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/packaging"
)

// Annotations of a kserve InferenceService rendered for a canary.
const (
	AnnotationStableDeployment = "ferry.dev/stable-deployment"
	AnnotationStableModel      = "ferry.dev/stable-model-version"
)

// kserve renders one InferenceService for the endpoint. Its predictor is
// the deployment taking all the traffic or, with two taking traffic, the
// one with the smaller share (on a tie, the one with a rollout), with
// canaryTrafficPercent its share.
func (r *renderer) kserve() ([]File, error) {
	var live []rendered
	var idle []string
	for _, d := range r.deployments {
		if r.endpoint.Traffic[d.Name] > 0 {
			live = append(live, d)
		} else {
			idle = append(idle, d.Name)
		}
	}
	e := r.endpoint
	switch {
	case len(live) == 0:
		return nil, ferry.Errorf(ferry.EINVALID, "endpoint %s: no deployment takes traffic; --format kserve renders the deployment that does", e.Name)
	case len(live) > 2:
		return nil, ferry.Errorf(ferry.EINVALID, "endpoint %s: %d deployments take traffic; KServe splits between two revisions only", e.Name, len(live))
	}
	// live[0] becomes the stable deployment, live[len-1] the predictor.
	sort.SliceStable(live, func(i, j int) bool {
		ti, tj := e.Traffic[live[i].Name], e.Traffic[live[j].Name]
		if ti != tj {
			return ti > tj
		}
		return live[i].Rollout == nil && live[j].Rollout != nil
	})
	pred := live[len(live)-1]
	name := kubeName(e.Name)
	header := []string{fmt.Sprintf("Endpoint %s: rendered by ferry apply --target kubernetes --format kserve; traffic %s.", e.Name, trafficString(e.Traffic))}
	meta := r.meta(name, &pred)
	spec := predictorSpec{
		Labels:               r.labels(&pred),
		Annotations:          map[string]string{AnnotationModel: pred.Model, AnnotationModelVersion: pred.ModelVersion},
		MinReplicas:          pred.InstanceCount,
		MaxReplicas:          r.maxReplicas(pred),
		ContainerConcurrency: pred.RequestSettings.MaxConcurrentRequestsPerInstance,
		Timeout:              (pred.RequestSettings.RequestTimeoutMS + 999) / 1000,
		// Knative, which runs KServe's serverless predictors, wants the
		// one port named http1 and probes on that port.
		Containers: []container{r.container(pred, "kserve-container", "http1", packaging.Port)},
	}
	if len(live) == 2 {
		stable := live[0]
		if e.Traffic[stable.Name] == e.Traffic[pred.Name] && (stable.Rollout == nil) == (pred.Rollout == nil) {
			return nil, ferry.Errorf(ferry.EINVALID, "endpoint %s: %s and %s take equal traffic and neither alone has a rollout: cannot tell which is the canary", e.Name, stable.Name, pred.Name)
		}
		pct := e.Traffic[pred.Name]
		spec.CanaryTrafficPercent = &pct
		meta.Annotations[AnnotationStableDeployment] = stable.Name
		meta.Annotations[AnnotationStableModel] = stable.ModelVersion
		header = append(header,
			fmt.Sprintf("Canary %s takes %d%%; KServe sends the rest to the previously rolled-out", pred.Name, pct),
			fmt.Sprintf("revision, which must be stable deployment %s (%s): apply its render first.", stable.Name, stable.ModelVersion))
	}
	if len(idle) > 0 {
		header = append(header, "Not rendered (no traffic): "+strings.Join(idle, ", ")+".")
	}
	if len(e.MirrorTraffic) > 0 {
		header = append(header, "mirror_traffic is not rendered: KServe's InferenceService does not mirror requests.")
	}
	f, err := file(name, "InferenceService", header, inferenceServiceObject{
		typeMeta: typeMeta{APIVersion: "serving.kserve.io/v1beta1", Kind: "InferenceService"},
		Metadata: meta,
		Spec:     inferenceServiceSpec{Predictor: spec},
	})
	if err != nil {
		return nil, err
	}
	return []File{f}, nil
}
