package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-ml/ferry/internal/httpapi"
)

// TestEdge checks what every route gets from the middleware: the request id
// echoed, and the principal header checked, with errors in the route
// family's shape.
func TestEdge(t *testing.T) {
	srv := newTestServer(t)
	long := strings.Repeat("x", 257)
	tests := []struct {
		name      string
		path      string
		principal string
		status    int
		errorKey  string // where the family's body holds its code; "" on success
	}{
		{"MLflow route, valid principal", "/api/2.0/mlflow/experiments/get?experiment_id=0", "ana", 200, ""},
		{"MLflow route, invalid principal", "/api/2.0/mlflow/experiments/get?experiment_id=0", long, 400, "error_code"},
		{"Ferry route, invalid principal", "/api/v1/experiments/0", long, 400, "error"},
		{"health, invalid principal", "/healthz", long, 400, "error_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			req.Header.Set(httpapi.PrincipalHeader, tt.principal)
			req.Header.Set("X-Request-Id", "edge-1")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || resp.Header.Get("X-Request-Id") != "edge-1" {
				t.Fatalf("status %d, id %q: %v", resp.StatusCode, resp.Header.Get("X-Request-Id"), body)
			}
			if tt.errorKey != "" && (body[tt.errorKey] == nil || !strings.Contains(toJSON(body), "Invalid X-Ferry-Principal header")) {
				t.Fatalf("body %v lacks %q and the message", body, tt.errorKey)
			}
		})
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
