package resource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry"
)

func TestLoadDirectory(t *testing.T) {
	set, err := Load("testdata/ok")
	if err != nil {
		t.Fatal(err)
	}
	st := set.Deploy
	if len(st.Endpoints) != 1 || st.Endpoints[0].Traffic["blue"] != 90 || st.Endpoints[0].AuthMode != "key" {
		t.Errorf("endpoints %+v", st.Endpoints)
	}
	if len(st.Deployments) != 2 {
		t.Fatalf("deployments %+v", st.Deployments)
	}
	blue, green := st.Deployments[0], st.Deployments[1]
	if blue.InstanceCount != 2 || blue.RequestSettings.RequestTimeoutMS != 3000 || blue.ReadinessProbe == nil || blue.ReadinessProbe.Period != 5 {
		t.Errorf("blue %+v", blue)
	}
	if green.Rollout == nil || green.Rollout.Strategy != "canary" || len(green.Rollout.Steps) != 3 || green.Rollout.StepDuration != "5m" {
		t.Errorf("green %+v", green)
	}
	if src := set.Sources["Deployment/churn/green"]; !strings.HasSuffix(src.File, "deployments.yml") || src.Line != 11 {
		t.Errorf("green declared at %v, want deployments.yml:11", src)
	}
	if len(set.Monitors) != 1 {
		t.Fatalf("monitors %+v", set.Monitors)
	}
	m := set.Monitors[0]
	if m.Endpoint != "churn" || m.Schedule.TimeZone != "Europe/Paris" || m.Signals.DataDrift.LogBase != 2 || m.Signals.ModelPerformance.MinLabels != 200 || len(m.Alerts.Webhooks) != 1 {
		t.Errorf("monitor %+v", m)
	}
	if src := set.Sources["Monitor/churn-drift"]; !strings.HasSuffix(src.File, "monitor.yaml") || src.Line != 1 {
		t.Errorf("monitor declared at %v, want monitor.yaml:1", src)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"typo", "kind: Deployment\nname: blue\nendpoint_name: churn\nmodel: models:/m/1\ninstance_cout: 2\n", `r.yaml: line 5: unknown field "instance_cout"; did you mean "instance_count"?`},
		{"nested typo", "kind: Deployment\nname: blue\nendpoint_name: churn\nmodel: models:/m/1\nrequest_settings:\n  request_timeout: 1\n", `line 6: unknown field "request_timeout" in request_settings; did you mean "request_timeout_ms"?`},
		{"second document", "kind: Endpoint\nname: churn\n---\nkind: Endpoint\nname: other\ntrafic: {}\n", `line 6: unknown field "trafic"; did you mean "traffic"?`},
		{"kind typo", "kind: Endpont\nname: churn\n", `r.yaml:1: kind "Endpont"; did you mean "Endpoint"?`},
		{"no kind", "name: churn\n", `r.yaml:1: missing kind:`},
		{"invalid", "kind: Endpoint\nname: churn\n---\nkind: Endpoint\nname: x\n", `r.yaml:4: endpoint name "x"`},
		{"traffic sum", "kind: Endpoint\nname: churn\ntraffic: {a: 50}\n", `r.yaml:1: endpoint churn: traffic sums to 50`},
		{"duplicate", "kind: Endpoint\nname: churn\n---\nkind: Endpoint\nname: churn\n", `r.yaml:4: Endpoint/churn is already declared at`},
		{"wrong type", "kind: Deployment\nname: blue\nendpoint_name: churn\nmodel: models:/m/1\ninstance_count: two\n", "line 5: cannot unmarshal !!str `two` into int"},
		{"syntax", "kind: [\n", `r.yaml: `},
		{"monitor typo", "kind: Monitor\nname: churn-drift\nendpoint: churn\nsignals:\n  data_drif: {}\n", `r.yaml: line 5: unknown field "data_drif" in signals; did you mean "data_drift"?`},
		{"monitor schedule typo", "kind: Monitor\nname: churn-drift\nendpoint: churn\nschedule:\n  timezone: UTC\nsignals:\n  data_drift: {}\n", `line 5: unknown field "timezone" in schedule; did you mean "time_zone"?`},
		{"monitor invalid", "kind: Endpoint\nname: churn\n---\nkind: Monitor\nname: churn-drift\nendpoint: churn\nsignals: {}\n", `r.yaml:4: monitor churn-drift: signals: set at least one`},
		{"monitor duplicate", "kind: Monitor\nname: churn-drift\nendpoint: churn\nsignals: {data_quality: {}}\n---\nkind: Monitor\nname: churn-drift\nendpoint: churn\nsignals: {data_quality: {}}\n", `r.yaml:6: Monitor/churn-drift is already declared at`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || ferry.ErrorCode(err) != ferry.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want EINVALID with %q", err, tt.want)
			}
		})
	}
}

func TestLoadMissingPath(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); ferry.ErrorCode(err) != ferry.EINVALID {
		t.Errorf("missing path: %v", err)
	}
}
