package kube

import (
	"fmt"
	"strings"
)

// servicePortNumber is the port the Services listen on; they forward to the
// container's port named "http" (packaging.Port).
const servicePortNumber = 80

// plain renders the deployment format: the endpoint's Service, then per
// deployment its Deployment, Service and HorizontalPodAutoscaler.
func (r *renderer) plain() ([]File, error) {
	var live []string
	for _, d := range r.deployments {
		if r.endpoint.Traffic[d.Name] > 0 {
			live = append(live, d.Name)
		}
	}
	split := len(live) > 1
	endpointName := kubeName(r.endpoint.Name)
	header := []string{fmt.Sprintf("Endpoint %s: rendered by ferry apply --target kubernetes; traffic %s.", r.endpoint.Name, trafficString(r.endpoint.Traffic))}
	selector := map[string]string{LabelEndpoint: labelValue(r.endpoint.Name), LabelLive: "true"}
	switch {
	case len(live) == 1:
		selector = map[string]string{LabelEndpoint: labelValue(r.endpoint.Name), LabelDeployment: labelValue(live[0])}
		header = append(header, "It selects the pods of deployment "+live[0]+" only.")
	case split:
		header = append(header,
			"A Service cannot split traffic by weight: it selects the pods of "+strings.Join(live, ", "),
			"and spreads connections over them, so the split follows their ready pods, not the",
			"percentages. For weighted traffic render --format kserve or use a service mesh.")
	default:
		header = append(header, "No deployment takes traffic: the Service selects no pods.")
	}
	if len(r.endpoint.MirrorTraffic) > 0 {
		header = append(header, "mirror_traffic is not rendered: Kubernetes Services do not mirror requests.")
	}
	files := make([]File, 0, 1+3*len(r.deployments))
	f, err := file(endpointName, "Service", header, r.service(endpointName, nil, selector))
	if err != nil {
		return nil, err
	}
	files = append(files, f)
	for _, d := range r.deployments {
		dh := []string{fmt.Sprintf("Deployment %s/%s of %s: rendered by ferry apply --target kubernetes.", r.endpoint.Name, d.Name, d.ModelVersion)}
		if d.Model != d.ModelVersion {
			dh = append(dh, "The model is "+d.Model+", resolved and pinned when this was rendered.")
		}
		fs, err := r.deploymentFiles(d, dh, split && r.endpoint.Traffic[d.Name] > 0)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}

func (r *renderer) deploymentFiles(d rendered, header []string, live bool) ([]File, error) {
	podMeta := objectMeta{Labels: r.labels(&d), Annotations: map[string]string{AnnotationModel: d.Model, AnnotationModelVersion: d.ModelVersion}}
	if live {
		podMeta.Labels[LabelLive] = "true"
	}
	dep := deploymentObject{
		typeMeta: typeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		Metadata: r.meta(d.object, &d),
		Spec: deploymentSpec{
			Replicas: d.InstanceCount,
			Selector: labelSelector{MatchLabels: r.selector(d)},
			// A new pod is ready before an old one goes: no capacity lost.
			Strategy: deploymentStrategy{Type: "RollingUpdate", RollingUpdate: rollingUpdate{MaxUnavailable: 0, MaxSurge: 1}},
			Template: podTemplate{
				Metadata: podMeta,
				Spec:     podSpec{Containers: []container{r.container(d, "model", "http", "http")}},
			},
		},
	}
	hpa := hpaObject{
		typeMeta: typeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		Metadata: r.meta(d.object, &d),
		Spec: hpaSpec{
			ScaleTargetRef: scaleTargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: d.object},
			MinReplicas:    d.InstanceCount,
			MaxReplicas:    r.maxReplicas(d),
			Metrics: []metricSpec{{Type: "Resource", Resource: resourceMetricSpec{
				Name: "cpu", Target: metricTarget{Type: "Utilization", AverageUtilization: TargetCPUUtilization},
			}}},
		},
	}
	var files []File
	for _, o := range []struct {
		kind string
		obj  any
	}{
		{"Deployment", dep},
		{"Service", r.service(d.object, &d, r.selector(d))},
		{"HorizontalPodAutoscaler", hpa},
	} {
		f, err := file(d.object, o.kind, header, o.obj)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// service is a ClusterIP Service on port 80 to the pods selector picks.
func (r *renderer) service(objectName string, d *rendered, selector map[string]string) serviceObject {
	return serviceObject{
		typeMeta: typeMeta{APIVersion: "v1", Kind: "Service"},
		Metadata: r.meta(objectName, d),
		Spec: serviceSpec{
			Type:     "ClusterIP",
			Selector: selector,
			Ports:    []servicePort{{Name: "http", Port: servicePortNumber, TargetPort: "http", Protocol: "TCP"}},
		},
	}
}

// trafficString is "blue=90,green=10", or "none".
func trafficString(t map[string]int) string {
	parts := make([]string, 0, len(t))
	for _, k := range sortedKeys(t) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, t[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}
