package httpapi

import (
	"net/http"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
)

// The /api/v1 deploy routes: endpoints, deployments, plan and apply.

func (s *Server) v1DeployRoutes() []v1Route {
	return []v1Route{
		v1JSON(s, "GET", "/endpoints", "listEndpoints", "List the endpoints, by name.", http.StatusOK, withDeploy(s, s.v1ListEndpoints)),
		v1JSON(s, "GET", "/endpoints/{name}", "getEndpoint", "Get an endpoint with its traffic split and serial.", http.StatusOK, withDeploy(s, s.v1GetEndpoint)),
		v1JSON(s, "PUT", "/endpoints/{name}", "putEndpoint", "Create or replace an endpoint; traffic may name only its existing deployments.", http.StatusOK, withDeploy(s, s.v1PutEndpoint)),
		v1JSON(s, "DELETE", "/endpoints/{name}", "deleteEndpoint", "Delete an endpoint that has no deployments.", http.StatusOK, withDeploy(s, s.v1DeleteEndpoint)),
		v1JSON(s, "GET", "/deployments", "listDeployments", "List the deployments, of one endpoint or of all.", http.StatusOK, withDeploy(s, s.v1ListDeployments)),
		v1JSON(s, "GET", "/endpoints/{name}/deployments/{deployment}", "getDeployment", "Get a deployment with its pinned model version.", http.StatusOK, withDeploy(s, s.v1GetDeployment)),
		v1JSON(s, "PUT", "/endpoints/{name}/deployments/{deployment}", "putDeployment", "Create or replace a deployment; its model URI is resolved and pinned now.", http.StatusOK, withDeploy(s, s.v1PutDeployment)),
		v1JSON(s, "DELETE", "/endpoints/{name}/deployments/{deployment}", "deleteDeployment", "Delete a deployment that takes no traffic.", http.StatusOK, withDeploy(s, s.v1DeleteDeployment)),
		v1JSON(s, "POST", "/deployments/plan", "planDeploy", "The ordered changes that would take the stored endpoints and deployments to the desired ones.", http.StatusOK, withDeploy(s, s.v1Plan)),
		v1JSON(s, "POST", "/deployments/apply", "applyDeploy", "Carry out the plan to the desired endpoints and deployments and return it.", http.StatusOK, withDeploy(s, s.v1Apply)),
	}
}

// withDeploy answers ENOTFOUND when the server has no deploy service.
func withDeploy[Req, Resp any](s *Server, fn func(*http.Request, *Req) (Resp, error)) func(*http.Request, *Req) (Resp, error) {
	return func(r *http.Request, req *Req) (Resp, error) {
		if s.deploy == nil {
			var zero Resp
			return zero, ferry.Errorf(ferry.ENOTFOUND, "This server does not deploy models.")
		}
		return fn(r, req)
	}
}

type v1EndpointList struct {
	Endpoints []deploy.Endpoint `json:"endpoints"`
}

type v1EndpointResponse struct {
	Endpoint deploy.Endpoint `json:"endpoint"`
}

type v1DeploymentsQuery struct {
	EndpointName string `json:"endpoint_name,omitempty" doc:"Only this endpoint's deployments; absent: all."`
}

type v1DeploymentList struct {
	Deployments []deploy.Deployment `json:"deployments"`
}

type v1DeploymentResponse struct {
	Deployment deploy.Deployment `json:"deployment"`
}

type v1PlanRequest struct {
	Desired deploy.State `json:"desired"`
	Prune   bool         `json:"prune,omitempty" doc:"Delete the stored endpoints and deployments that desired does not name."`
}

func (s *Server) v1ListEndpoints(r *http.Request, _ *v1NoInput) (v1EndpointList, error) {
	es, err := s.deploy.ListEndpoints(r.Context())
	return v1EndpointList{Endpoints: es}, err
}

func (s *Server) v1GetEndpoint(r *http.Request, _ *v1NoInput) (v1EndpointResponse, error) {
	e, err := s.deploy.GetEndpoint(r.Context(), r.PathValue("name"))
	return v1EndpointResponse{Endpoint: e}, err
}

func (s *Server) v1PutEndpoint(r *http.Request, req *deploy.Endpoint) (v1EndpointResponse, error) {
	if req.Name != r.PathValue("name") {
		return v1EndpointResponse{}, ferry.Errorf(ferry.EINVALID, "The body's name %q differs from the path's %q.", req.Name, r.PathValue("name"))
	}
	e, err := s.deploy.PutEndpoint(r.Context(), *req)
	return v1EndpointResponse{Endpoint: e}, err
}

func (s *Server) v1DeleteEndpoint(r *http.Request, _ *v1NoInput) (empty, error) {
	return empty{}, s.deploy.DeleteEndpoint(r.Context(), r.PathValue("name"))
}

func (s *Server) v1ListDeployments(r *http.Request, q *v1DeploymentsQuery) (v1DeploymentList, error) {
	ds, err := s.deploy.ListDeployments(r.Context(), q.EndpointName)
	return v1DeploymentList{Deployments: ds}, err
}

func (s *Server) v1GetDeployment(r *http.Request, _ *v1NoInput) (v1DeploymentResponse, error) {
	d, err := s.deploy.GetDeployment(r.Context(), r.PathValue("name"), r.PathValue("deployment"))
	return v1DeploymentResponse{Deployment: d}, err
}

func (s *Server) v1PutDeployment(r *http.Request, req *deploy.Deployment) (v1DeploymentResponse, error) {
	if req.EndpointName != r.PathValue("name") || req.Name != r.PathValue("deployment") {
		return v1DeploymentResponse{}, ferry.Errorf(ferry.EINVALID, "The body's endpoint_name and name (%s/%s) differ from the path's (%s/%s).", req.EndpointName, req.Name, r.PathValue("name"), r.PathValue("deployment"))
	}
	d, err := s.deploy.PutDeployment(r.Context(), *req)
	return v1DeploymentResponse{Deployment: d}, err
}

func (s *Server) v1DeleteDeployment(r *http.Request, _ *v1NoInput) (empty, error) {
	return empty{}, s.deploy.DeleteDeployment(r.Context(), r.PathValue("name"), r.PathValue("deployment"))
}

func (s *Server) v1Plan(r *http.Request, req *v1PlanRequest) (deploy.Plan, error) {
	return s.deploy.Plan(r.Context(), req.Desired, req.Prune)
}

func (s *Server) v1Apply(r *http.Request, req *v1PlanRequest) (deploy.Plan, error) {
	return s.deploy.Apply(r.Context(), req.Desired, req.Prune)
}
