package client

import (
	"context"
	"net/http"
	"net/url"

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
)

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
	Desired DeployState `json:"desired"`
	Prune   bool        `json:"prune,omitempty"`
}

// PlanDeploy returns the changes that would take the server's endpoints and
// deployments to desired; with prune, the ones desired does not name are
// deleted.
func (c *Client) PlanDeploy(ctx context.Context, desired DeployState, prune bool) (DeployPlan, error) {
	var out DeployPlan
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments/plan", nil, planRequest{Desired: desired, Prune: prune}, &out)
	return out, err
}

// ApplyDeploy carries out the plan to desired and returns it.
func (c *Client) ApplyDeploy(ctx context.Context, desired DeployState, prune bool) (DeployPlan, error) {
	var out DeployPlan
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments/apply", nil, planRequest{Desired: desired, Prune: prune}, &out)
	return out, err
}
