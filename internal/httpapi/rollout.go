package httpapi

import (
	"context"
	"net/http"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// The /api/v1 rollout routes: an endpoint's current rollout and the moves a
// person makes on it. The Controller makes the others.

func (s *Server) v1RolloutRoutes() []v1Route {
	return []v1Route{
		v1JSON(s, "GET", "/endpoints/{name}/rollout", "getRollout", "Get the endpoint's rollout in progress, or its latest one, with its step, state and last analysis verdict.", http.StatusOK, withDeploy(s, s.v1GetRollout)),
		v1JSON(s, "POST", "/endpoints/{name}/rollout/pause", "pauseRollout", "Pause the endpoint's rollout where it is; its traffic stays.", http.StatusOK, withDeploy(s, s.rolloutAction((*deploy.Service).PauseRollout))),
		v1JSON(s, "POST", "/endpoints/{name}/rollout/resume", "resumeRollout", "Resume the endpoint's paused rollout; the current step's analysis window restarts.", http.StatusOK, withDeploy(s, s.rolloutAction((*deploy.Service).ResumeRollout))),
		v1JSON(s, "POST", "/endpoints/{name}/rollout/promote", "promoteRollout", "Move the endpoint's traffic to the rollout's goal now, skipping the analysis; approves a rollout awaiting approval. When the policy requires an approval, the principal who started the rollout may not (EFORBIDDEN).", http.StatusOK, withDeploy(s, s.rolloutAction((*deploy.Service).PromoteRollout))),
		v1JSON(s, "POST", "/endpoints/{name}/rollout/rollback", "rollbackRollout", "End the endpoint's rollout and move its traffic back to where it started; the deployment is kept.", http.StatusOK, withDeploy(s, s.rolloutAction((*deploy.Service).RollbackRollout))),
	}
}

type v1RolloutResponse struct {
	Rollout deploy.RolloutStatus `json:"rollout"`
}

func (s *Server) v1GetRollout(r *http.Request, _ *v1NoInput) (v1RolloutResponse, error) {
	ro, err := s.deploy.GetRollout(r.Context(), r.PathValue("name"))
	return v1RolloutResponse{Rollout: ro}, err
}

// rolloutAction is the handler of a move on the rollout of the path's
// endpoint.
func (s *Server) rolloutAction(fn func(*deploy.Service, context.Context, string) (deploy.RolloutStatus, error)) func(*http.Request, *v1NoInput) (v1RolloutResponse, error) {
	return func(r *http.Request, _ *v1NoInput) (v1RolloutResponse, error) {
		ro, err := fn(s.deploy, r.Context(), r.PathValue("name"))
		return v1RolloutResponse{Rollout: ro}, err
	}
}
