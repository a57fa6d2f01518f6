package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
)

// TestV1MonitorResources: monitors go through plan and apply after the
// endpoints (one request may create both), a saved plan applies its
// monitor changes, applying twice changes nothing, and the REST routes read,
// check and delete them.
func TestV1MonitorResources(t *testing.T) {
	s, _ := newMonitorTestServer(t, 0)
	desired := `{"desired": {"endpoints": [{"name": "fraud"}]}, "monitors": [` +
		`{"name": "fraud-drift", "endpoint": "fraud", "signals": {"data_drift": {}}}]}`
	r := v1Call(t, s, "POST", "/api/v1/deployments/apply", desired)
	v1Want(t, r, http.StatusOK, "")
	p := v1Decode[deploy.Plan](t, r)
	if p.Add != 2 || len(p.Changes) != 2 || p.Changes[0].Kind != deploy.KindEndpoint || p.Changes[1].Kind != monitor.KindMonitor {
		t.Fatalf("first apply:\n%s", p)
	}
	r = v1Call(t, s, "POST", "/api/v1/deployments/apply", desired)
	v1Want(t, r, http.StatusOK, "")
	if p := v1Decode[deploy.Plan](t, r); !p.Empty() {
		t.Errorf("second apply:\n%s", p)
	}

	// A saved plan carries its monitor changes.
	changed := `{"desired": {"endpoints": [{"name": "fraud"}]}, "monitors": [` +
		`{"name": "fraud-drift", "endpoint": "fraud", "window": "48h", "signals": {"data_drift": {}}}]}`
	r = v1Call(t, s, "POST", "/api/v1/deployments/plan", changed)
	v1Want(t, r, http.StatusOK, "")
	saved := v1Decode[deploy.Plan](t, r)
	if saved.String() != "~ update monitor fraud-drift: window \"24h0m0s\" → \"48h\"\nPlan: 0 to add, 1 to change, 0 to destroy.\n" {
		t.Errorf("plan:\n%s", saved)
	}
	body, _ := json.Marshal(map[string]any{"plan": saved})
	v1Want(t, v1Call(t, s, "POST", "/api/v1/deployments/apply", string(body)), http.StatusOK, "")
	r = v1Call(t, s, "GET", "/api/v1/monitors/fraud-drift", "")
	v1Want(t, r, http.StatusOK, "")
	if m := v1Decode[v1MonitorResponse](t, r).Monitor; m.Window != "48h" || m.Serial != 2 {
		t.Errorf("after the saved plan: %+v", m)
	}

	v1Want(t, v1Call(t, s, "PUT", "/api/v1/monitors/other-drift", `{"name": "other-drift", "endpoint": "nosuch", "signals": {"data_quality": {}}}`), http.StatusBadRequest, "EINVALID")
	v1Want(t, v1Call(t, s, "PUT", "/api/v1/monitors/other-drift", `{"name": "fraud-drift", "endpoint": "churn", "signals": {"data_quality": {}}}`), http.StatusBadRequest, "EINVALID")
	v1Want(t, v1Call(t, s, "PUT", "/api/v1/monitors/churn-quality", `{"name": "churn-quality", "endpoint": "churn", "signals": {"data_quality": {}}}`), http.StatusOK, "")
	r = v1Call(t, s, "GET", "/api/v1/monitors/churn-quality/status", "")
	v1Want(t, r, http.StatusOK, "")
	if st := v1Decode[v1MonitorStatusResponse](t, r).Status; len(st.Signals) != 1 || st.Signals[0] != "data_quality" || st.NextRun.IsZero() || st.NextRun.Minute() != 0 {
		t.Errorf("status %+v", st)
	}
	r = v1Call(t, s, "GET", "/api/v1/monitors", "")
	v1Want(t, r, http.StatusOK, "")
	if ms := v1Decode[v1MonitorList](t, r).Monitors; len(ms) != 2 {
		t.Errorf("list %+v", ms)
	}
	v1Want(t, v1Call(t, s, "DELETE", "/api/v1/monitors/churn-quality", ""), http.StatusOK, "")
	v1Want(t, v1Call(t, s, "GET", "/api/v1/monitors/churn-quality", ""), http.StatusNotFound, "ENOTFOUND")
}
