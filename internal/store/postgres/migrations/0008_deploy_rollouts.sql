-- Deploy: rollouts, the persisted state machine the rollout controller
-- advances. spec is the JSON of deploy.RolloutStatus; state, active and
-- version are columns to query on. version counts updates: an update made
-- from an older version is refused. At most one active rollout per endpoint.
CREATE TABLE deploy_rollouts (
    id       BIGSERIAL PRIMARY KEY,
    endpoint TEXT NOT NULL,
    state    TEXT NOT NULL,
    active   INTEGER NOT NULL,
    version  BIGINT NOT NULL,
    spec     TEXT NOT NULL
);
CREATE INDEX deploy_rollouts_endpoint ON deploy_rollouts (endpoint, id);
CREATE UNIQUE INDEX deploy_rollouts_one_active ON deploy_rollouts (endpoint) WHERE active = 1;
