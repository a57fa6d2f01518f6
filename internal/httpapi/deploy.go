package httpapi

import (
	"context"
	"net/http"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/deploy"
	"github.com/ferry-ml/ferry/internal/monitor"
)

// The /api/v1 deploy routes: endpoints, deployments, plan and apply, and
// the running deployments' status, logs and restarts.

// DeployRuntime is what runs the deployments — the router — as the
// deploy routes consume it. Its methods are safe for concurrent use.
type DeployRuntime interface {
	// Refresh brings the runtime to the stored state (another replica,
	// or this server a moment ago, may have changed it); cheap when
	// nothing changed.
	Refresh(ctx context.Context) error
	// Status reports the deployments of endpoint it runs.
	Status(endpoint string) []deploy.DeploymentStatus
	// Logs returns the last n log lines of a deployment (n <= 0: all it
	// keeps).
	Logs(endpoint, deployment string, n int) ([]string, error)
	// Restart restarts a deployment's instances.
	Restart(ctx context.Context, endpoint, deployment string) error
}

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
		v1JSON(s, "POST", "/deployments/apply", "applyDeploy", "Carry out the plan to the desired endpoints and deployments, or a plan made earlier, and return it.", http.StatusOK, withDeploy(s, s.v1Apply)),
		v1JSON(s, "POST", "/endpoints/{name}/traffic", "setTraffic", "Set an endpoint's traffic split, audited with a reason; the next plan shows it as drift.", http.StatusOK, withDeploy(s, s.v1SetTraffic)),
		v1JSON(s, "GET", "/endpoints/{name}/events", "listEndpointEvents", "The audit trail of an endpoint and its deployments, oldest first.", http.StatusOK, withDeploy(s, s.v1EndpointEvents)),
		v1JSON(s, "GET", "/deployments/status", "getDeploymentStatus", "How the deployments run: ready, traffic and mirror percentages (503 when this server runs no deployments).", http.StatusOK, withRuntime(s, s.v1DeploymentStatus)),
		v1JSON(s, "GET", "/endpoints/{name}/deployments/{deployment}/logs", "getDeploymentLogs", "The last log lines of a running deployment.", http.StatusOK, withRuntime(s, s.v1DeploymentLogs)),
		v1JSON(s, "POST", "/endpoints/{name}/deployments/{deployment}/restart", "restartDeployment", "Restart a deployment's instances.", http.StatusOK, withRuntime(s, s.v1RestartDeployment)),
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

// withRuntime is withDeploy that also answers EUNAVAILABLE when the server
// runs no deployments.
func withRuntime[Req, Resp any](s *Server, fn func(*http.Request, *Req) (Resp, error)) func(*http.Request, *Req) (Resp, error) {
	return withDeploy(s, func(r *http.Request, req *Req) (Resp, error) {
		if s.running == nil {
			var zero Resp
			return zero, ferry.Errorf(ferry.EUNAVAILABLE, "This server does not run deployments.")
		}
		if err := s.running.Refresh(r.Context()); err != nil {
			var zero Resp
			return zero, ferry.Errorf(ferry.EUNAVAILABLE, "The deployments could not be read: %v.", err)
		}
		return fn(r, req)
	})
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
	Desired  deploy.State      `json:"desired,omitempty" doc:"The endpoints and deployments wanted; absent when plan is given."`
	Monitors []monitor.Monitor `json:"monitors,omitempty" doc:"The monitors wanted, planned and applied after the endpoints and deployments (changes of kind monitor)."`
	Prune    bool              `json:"prune,omitempty" doc:"Delete the stored endpoints, deployments and monitors that desired and monitors do not name."`
	Plan     *deploy.Plan      `json:"plan,omitempty" doc:"Apply only: carry out exactly this plan (as planDeploy returned it), refused with ECONFLICT when the serial of an endpoint it read has moved since."`
}

type v1TrafficRequest struct {
	Traffic map[string]int `json:"traffic" doc:"Deployment names to percentages summing to 0 or 100."`
	Reason  string         `json:"reason,omitempty" doc:"Who or what moves the traffic, recorded in the audit trail and shown as the drift's via."`
}

type v1EventList struct {
	Events []v1DeployEvent `json:"events"`
}

// v1DeployEvent is deploy.AuditEvent, named apart from the registry's.
type v1DeployEvent deploy.AuditEvent

type v1StatusList struct {
	Statuses []deploy.DeploymentStatus `json:"statuses"`
}

type v1LogsQuery struct {
	Lines flexInt64 `json:"lines,omitempty" doc:"How many of the last lines; absent: all the runtime keeps."`
}

type v1LogsResponse struct {
	Lines []string `json:"lines"`
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
	p, err := s.deploy.Plan(r.Context(), req.Desired, req.Prune)
	if err != nil {
		return deploy.Plan{}, err
	}
	return s.planMonitors(r.Context(), p, req.Monitors, req.Prune)
}

// v1Apply applies the deploy part of the plan, then its monitor part (so a
// monitor may watch an endpoint created in the same apply).
func (s *Server) v1Apply(r *http.Request, req *v1PlanRequest) (deploy.Plan, error) {
	ctx := r.Context()
	if req.Plan != nil {
		if req.Prune || len(req.Desired.Endpoints) > 0 || len(req.Desired.Deployments) > 0 || len(req.Monitors) > 0 {
			return deploy.Plan{}, ferry.Errorf(ferry.EINVALID, "Give either plan or desired, monitors and prune, not both.")
		}
		dep, mon := monitor.SplitPlan(*req.Plan)
		done, err := s.deploy.ApplyPlan(ctx, dep)
		if err != nil {
			return deploy.Plan{}, err
		}
		if len(mon.Changes) > 0 {
			if s.monitor == nil {
				return deploy.Plan{}, errNoMonitor()
			}
			if err := s.monitor.Apply(ctx, mon); err != nil {
				return deploy.Plan{}, err
			}
		}
		return monitor.JoinPlan(done, mon), nil
	}
	if s.monitor != nil || len(req.Monitors) > 0 {
		// Check the monitor part before the deploy part changes anything.
		if _, err := s.planMonitors(ctx, deploy.Plan{}, req.Monitors, req.Prune); err != nil {
			return deploy.Plan{}, err
		}
	}
	done, err := s.deploy.Apply(ctx, req.Desired, req.Prune)
	if err != nil {
		return deploy.Plan{}, err
	}
	p, err := s.planMonitors(ctx, done, req.Monitors, req.Prune)
	if err != nil || s.monitor == nil {
		return p, err
	}
	return p, s.monitor.Apply(ctx, p)
}

// planMonitors appends the monitor part of the plan to p (nothing when the
// server has no monitor service and none is desired).
func (s *Server) planMonitors(ctx context.Context, p deploy.Plan, desired []monitor.Monitor, prune bool) (deploy.Plan, error) {
	if s.monitor == nil {
		if len(desired) > 0 {
			return deploy.Plan{}, errNoMonitor()
		}
		return p, nil
	}
	return s.monitor.Plan(ctx, p, desired, prune)
}

func (s *Server) v1SetTraffic(r *http.Request, req *v1TrafficRequest) (v1EndpointResponse, error) {
	e, err := s.deploy.SetTraffic(r.Context(), r.PathValue("name"), req.Traffic, req.Reason)
	return v1EndpointResponse{Endpoint: e}, err
}

func (s *Server) v1EndpointEvents(r *http.Request, _ *v1NoInput) (v1EventList, error) {
	name := r.PathValue("name")
	evs, err := s.deploy.Audit(r.Context(), name)
	if err == nil && len(evs) == 0 {
		_, err = s.deploy.GetEndpoint(r.Context(), name)
	}
	out := v1EventList{Events: make([]v1DeployEvent, len(evs))}
	for i, ev := range evs {
		out.Events[i] = v1DeployEvent(ev)
	}
	return out, err
}

func (s *Server) v1DeploymentStatus(r *http.Request, q *v1DeploymentsQuery) (v1StatusList, error) {
	names := []string{q.EndpointName}
	if q.EndpointName == "" {
		es, err := s.deploy.ListEndpoints(r.Context())
		if err != nil {
			return v1StatusList{}, err
		}
		names = names[:0]
		for _, e := range es {
			names = append(names, e.Name)
		}
	} else if _, err := s.deploy.GetEndpoint(r.Context(), q.EndpointName); err != nil {
		return v1StatusList{}, err
	}
	out := v1StatusList{Statuses: []deploy.DeploymentStatus{}}
	for _, n := range names {
		for _, st := range s.running.Status(n) {
			st.Endpoint = n
			out.Statuses = append(out.Statuses, st)
		}
	}
	return out, nil
}

func (s *Server) v1DeploymentLogs(r *http.Request, q *v1LogsQuery) (v1LogsResponse, error) {
	endpoint, name := r.PathValue("name"), r.PathValue("deployment")
	if _, err := s.deploy.GetDeployment(r.Context(), endpoint, name); err != nil {
		return v1LogsResponse{}, err
	}
	lines, err := s.running.Logs(endpoint, name, int(q.Lines))
	if lines == nil {
		lines = []string{}
	}
	return v1LogsResponse{Lines: lines}, err
}

func (s *Server) v1RestartDeployment(r *http.Request, _ *v1NoInput) (empty, error) {
	endpoint, name := r.PathValue("name"), r.PathValue("deployment")
	if _, err := s.deploy.GetDeployment(r.Context(), endpoint, name); err != nil {
		return empty{}, err
	}
	return empty{}, s.running.Restart(r.Context(), endpoint, name)
}
