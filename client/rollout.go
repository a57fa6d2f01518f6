package client

import (
	"context"
	"net/http"

	"github.com/ferry-ml/ferry/internal/deploy"
)

// The rollout resources, as the server's /api/v1 speaks them.
type (
	Rollout         = deploy.RolloutStatus
	RolloutVerdict  = deploy.Verdict
	RolloutAnalysis = deploy.Analysis
)

// GetRollout returns endpoint's rollout in progress, or its latest one;
// ENOTFOUND when it never had one.
func (c *Client) GetRollout(ctx context.Context, endpoint string) (Rollout, error) {
	return c.rolloutCall(ctx, http.MethodGet, endpoint, "")
}

// PauseRollout pauses endpoint's rollout where it is.
func (c *Client) PauseRollout(ctx context.Context, endpoint string) (Rollout, error) {
	return c.rolloutCall(ctx, http.MethodPost, endpoint, "/pause")
}

// ResumeRollout resumes endpoint's paused rollout.
func (c *Client) ResumeRollout(ctx context.Context, endpoint string) (Rollout, error) {
	return c.rolloutCall(ctx, http.MethodPost, endpoint, "/resume")
}

// PromoteRollout moves endpoint's traffic to the rollout's goal now,
// skipping the analysis, and approves a rollout awaiting approval; when the
// policy requires an approval, the principal who started it may not
// (EFORBIDDEN).
func (c *Client) PromoteRollout(ctx context.Context, endpoint string) (Rollout, error) {
	return c.rolloutCall(ctx, http.MethodPost, endpoint, "/promote")
}

// RollbackRollout ends endpoint's rollout and moves its traffic back to
// where it started.
func (c *Client) RollbackRollout(ctx context.Context, endpoint string) (Rollout, error) {
	return c.rolloutCall(ctx, http.MethodPost, endpoint, "/rollback")
}

func (c *Client) rolloutCall(ctx context.Context, method, endpoint, action string) (Rollout, error) {
	var out struct {
		Rollout Rollout `json:"rollout"`
	}
	err := c.do(ctx, method, "/api/v1/endpoints"+pathEscape(endpoint)+"/rollout"+action, nil, nil, &out)
	return out.Rollout, err
}
