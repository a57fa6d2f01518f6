package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// The deploy resources, as the server's /api/v1 speaks them.
type (
	Endpoint        = deploy.Endpoint
	Deployment      = deploy.Deployment
	DeployState     = deploy.State
	DeployPlan      = deploy.Plan
	DeployChange    = deploy.Change
	DeployFieldDiff = deploy.FieldDiff
	DeployDrift     = deploy.Drift
	DeployEvent     = deploy.AuditEvent
	// DeploymentStatus is how a deployment runs on the server.
	DeploymentStatus = deploy.DeploymentStatus
)

// DeploymentHeader names the deployment a request to an endpoint is for
// (Invoke sends it when asked), and the deployment that answered.
const DeploymentHeader = "X-Ferry-Deployment"

// ListEndpoints returns every endpoint, by name.
func (c *Client) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	var out struct {
		Endpoints []Endpoint `json:"endpoints"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/endpoints", nil, nil, &out)
	return out.Endpoints, err
}

// GetEndpoint returns one endpoint.
func (c *Client) GetEndpoint(ctx context.Context, name string) (Endpoint, error) {
	var out struct {
		Endpoint Endpoint `json:"endpoint"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/endpoints"+pathEscape(name), nil, nil, &out)
	return out.Endpoint, err
}

// ListDeployments returns the deployments of endpoint ("" for all).
func (c *Client) ListDeployments(ctx context.Context, endpoint string) ([]Deployment, error) {
	var q url.Values
	if endpoint != "" {
		q = url.Values{"endpoint_name": {endpoint}}
	}
	var out struct {
		Deployments []Deployment `json:"deployments"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/deployments", q, nil, &out)
	return out.Deployments, err
}

type planRequest struct {
	Desired  DeployState `json:"desired"`
	Monitors []Monitor   `json:"monitors,omitempty"`
	Prune    bool        `json:"prune,omitempty"`
	Plan     *DeployPlan `json:"plan,omitempty"`
}

// PlanDeploy returns the changes that would take the server's endpoints,
// deployments and monitors to desired and monitors (the monitor changes,
// of kind monitor, come last); with prune, the ones they do not name are
// deleted.
func (c *Client) PlanDeploy(ctx context.Context, desired DeployState, monitors []Monitor, prune bool) (DeployPlan, error) {
	var out DeployPlan
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments/plan", nil, planRequest{Desired: desired, Monitors: monitors, Prune: prune}, &out)
	return out, err
}

// ApplyDeploy carries out the plan to desired and monitors — endpoints and
// deployments first, then monitors — and returns it.
func (c *Client) ApplyDeploy(ctx context.Context, desired DeployState, monitors []Monitor, prune bool) (DeployPlan, error) {
	var out DeployPlan
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments/apply", nil, planRequest{Desired: desired, Monitors: monitors, Prune: prune}, &out)
	return out, err
}

// ApplyPlan carries out p, a plan PlanDeploy returned earlier, exactly; an
// *Error with code ECONFLICT when an endpoint it read changed since.
func (c *Client) ApplyPlan(ctx context.Context, p DeployPlan) (DeployPlan, error) {
	var out DeployPlan
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments/apply", nil, planRequest{Plan: &p}, &out)
	return out, err
}

// GetDeployment returns one deployment.
func (c *Client) GetDeployment(ctx context.Context, endpoint, name string) (Deployment, error) {
	var out struct {
		Deployment Deployment `json:"deployment"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/endpoints"+pathEscape(endpoint, "deployments", name), nil, nil, &out)
	return out.Deployment, err
}

// SetTraffic sets an endpoint's traffic split; reason is recorded in the
// audit trail (and a plan's drift) as what moved it.
func (c *Client) SetTraffic(ctx context.Context, endpoint string, traffic map[string]int, reason string) (Endpoint, error) {
	in := struct {
		Traffic map[string]int `json:"traffic"`
		Reason  string         `json:"reason,omitempty"`
	}{traffic, reason}
	var out struct {
		Endpoint Endpoint `json:"endpoint"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/endpoints"+pathEscape(endpoint, "traffic"), nil, in, &out)
	return out.Endpoint, err
}

// EndpointEvents returns the audit trail of an endpoint and its
// deployments, oldest first.
func (c *Client) EndpointEvents(ctx context.Context, endpoint string) ([]DeployEvent, error) {
	var out struct {
		Events []DeployEvent `json:"events"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/endpoints"+pathEscape(endpoint, "events"), nil, nil, &out)
	return out.Events, err
}

// DeploymentStatuses returns how the deployments of endpoint ("" for all)
// run; an *Error with code EUNAVAILABLE when the server runs none.
func (c *Client) DeploymentStatuses(ctx context.Context, endpoint string) ([]DeploymentStatus, error) {
	var q url.Values
	if endpoint != "" {
		q = url.Values{"endpoint_name": {endpoint}}
	}
	var out struct {
		Statuses []DeploymentStatus `json:"statuses"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/deployments/status", q, nil, &out)
	return out.Statuses, err
}

// DeploymentLogs returns the last lines (0: all the server keeps) of a
// running deployment's log.
func (c *Client) DeploymentLogs(ctx context.Context, endpoint, deployment string, lines int) ([]string, error) {
	var q url.Values
	if lines > 0 {
		q = url.Values{"lines": {strconv.Itoa(lines)}}
	}
	var out struct {
		Lines []string `json:"lines"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/endpoints"+pathEscape(endpoint, "deployments", deployment, "logs"), q, nil, &out)
	return out.Lines, err
}

// RestartDeployment restarts a deployment's instances.
func (c *Client) RestartDeployment(ctx context.Context, endpoint, deployment string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/endpoints"+pathEscape(endpoint, "deployments", deployment, "restart"), nil, struct{}{}, nil)
}

// Invocation is an endpoint's answer to Invoke.
type Invocation struct {
	// Deployment is the deployment that answered (DeploymentHeader).
	Deployment string
	Body       []byte
}

// Invoke posts body, a JSON request, to an endpoint's scoring route:
// protocol "mlflow" or "" to /endpoints/NAME/invocations, "v2" to
// /endpoints/NAME/v2/models/NAME/infer (Open Inference Protocol V2). A
// deployment, when given, is asked for with DeploymentHeader. An answer
// other than 2xx is an *Error carrying the answer's message.
func (c *Client) Invoke(ctx context.Context, endpoint, deployment, protocol string, body []byte) (Invocation, error) {
	path := "/endpoints" + pathEscape(endpoint, "invocations")
	switch protocol {
	case "", "mlflow":
	case "v2":
		path = "/endpoints" + pathEscape(endpoint, "v2", "models", endpoint, "infer")
	default:
		return Invocation{}, fmt.Errorf("client: protocol %q: want mlflow or v2", protocol)
	}
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Invocation{}, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if deployment != "" {
		req.Header.Set(DeploymentHeader, deployment)
	}
	if c.principal != "" {
		req.Header.Set(principalHeader, c.principal)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Invocation{}, fmt.Errorf("client: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Invocation{}, fmt.Errorf("client: POST %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return Invocation{}, &Error{Status: resp.StatusCode, Code: statusCode(resp.StatusCode), Message: answerMessage(raw, resp.Status)}
	}
	return Invocation{Deployment: resp.Header.Get(DeploymentHeader), Body: raw}, nil
}

// answerMessage finds the message of an error answer in any of the
// protocols' shapes: {"error": {"message": …}} (Ferry), {"error": "…"}
// (V2), {"message": …} (MLflow); else status.
func answerMessage(raw []byte, status string) string {
	var m struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil {
		var s string
		var nested struct {
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(m.Error, &s) == nil && s != "":
			return s
		case json.Unmarshal(m.Error, &nested) == nil && nested.Message != "":
			return nested.Message
		case m.Message != "":
			return m.Message
		}
	}
	return "the endpoint answered " + status
}

// statusCode is the Ferry error code of an HTTP status, for answers that
// carry none.
func statusCode(status int) string {
	switch {
	case status == http.StatusNotFound:
		return "ENOTFOUND"
	case status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return "EUNAVAILABLE"
	case status/100 == 4:
		return "EINVALID"
	}
	return "EINTERNAL"
}
