-- Deploy: endpoints and their deployments, each stored as its JSON spec.
-- serial counts every change to an endpoint or one of its deployments.
CREATE TABLE deploy_endpoints (
    name   TEXT PRIMARY KEY,
    spec   TEXT NOT NULL,
    serial BIGINT NOT NULL
);

CREATE TABLE deploy_deployments (
    endpoint_name TEXT NOT NULL REFERENCES deploy_endpoints (name),
    name          TEXT NOT NULL,
    spec          TEXT NOT NULL,
    PRIMARY KEY (endpoint_name, name)
);

-- Append-only: rows are never updated or deleted.
CREATE TABLE deploy_audit (
    id        BIGSERIAL PRIMARY KEY,
    time       BIGINT NOT NULL,
    principal  TEXT NOT NULL,
    action     TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    deployment TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX deploy_audit_endpoint ON deploy_audit (endpoint, id);
