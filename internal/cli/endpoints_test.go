package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEndpointsInvoke: ferry endpoints invoke posts the request to the
// endpoint's route for the protocol, asks for a deployment with
// x-ferry-deployment, and prints the answer and the deployment that gave
// it (here a stand-in for the router, which is not on this branch).
func TestEndpointsInvoke(t *testing.T) {
	type seen struct{ path, deployment, body string }
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.URL.Path, r.Header.Get("x-ferry-deployment"), string(b)})
		switch {
		case strings.HasSuffix(r.URL.Path, "/nosuch/invocations"):
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no endpoint nosuch"}`)
			return
		case r.Header.Get("x-ferry-deployment") == "red":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error": "no deployment red"}`)
			return
		}
		answeredBy := r.Header.Get("x-ferry-deployment")
		if answeredBy == "" {
			answeredBy = "blue"
		}
		w.Header().Set("x-ferry-deployment", answeredBy)
		_, _ = io.WriteString(w, `{"predictions": [0.25]}`+"\n")
	}))
	defer srv.Close()
	req := filepath.Join(t.TempDir(), "request.json")
	must(t, os.WriteFile(req, []byte(`{"dataframe_records": [{"x": 1}]}`), 0o644))

	tests := []struct {
		name             string
		args             []string
		code             int
		path, deployment string
		stdout, stderr   string
	}{
		{"split", []string{"churn", "-f", req}, 0, "/endpoints/churn/invocations", "", `{"predictions": [0.25]}` + "\n", "Answered by deployment blue.\n"},
		{"pinned", []string{"churn", "-f", req, "--deployment", "green", "-o", "json"}, 0, "/endpoints/churn/invocations", "green",
			"{\n  \"deployment\": \"green\",\n  \"answer\": {\n    \"predictions\": [\n      0.25\n    ]\n  }\n}\n", ""},
		{"v2", []string{"churn", "-f", req, "--protocol", "v2"}, 0, "/endpoints/churn/v2/models/churn/infer", "", `{"predictions": [0.25]}` + "\n", "Answered by deployment blue.\n"},
		{"missing endpoint", []string{"nosuch", "-f", req}, 1, "/endpoints/nosuch/invocations", "", "", "Error: no endpoint nosuch\n"},
		{"missing deployment", []string{"churn", "-f", req, "--deployment", "red"}, 1, "/endpoints/churn/invocations", "red", "", "Error: no deployment red\n"},
		{"bad protocol", []string{"churn", "-f", req, "--protocol", "v1"}, 2, "", "", "", "Error: --protocol \"v1\": want mlflow or v2\nRun 'ferry endpoints invoke --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			code, out, errs := runCLI(t, t.TempDir(), append([]string{"--server", srv.URL, "endpoints", "invoke"}, tt.args...)...)
			if code != tt.code || out != tt.stdout || errs != tt.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errs, tt.code, tt.stdout, tt.stderr)
			}
			if tt.path == "" {
				if len(got) != 0 {
					t.Errorf("requests %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].path != tt.path || got[0].deployment != tt.deployment || got[0].body != `{"dataframe_records": [{"x": 1}]}` {
				t.Errorf("requests %+v, want one to %s for %q", got, tt.path, tt.deployment)
			}
		})
	}
}
