CREATE TABLE registered_models (
    name              TEXT PRIMARY KEY,
    description       TEXT NOT NULL,
    creation_time     BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    -- The highest version number ever given: numbers are never reused.
    last_version      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE registered_model_tags (
    name  TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE model_versions (
    name              TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    version           BIGINT NOT NULL,
    creation_time     BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    description       TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    stage             TEXT NOT NULL,
    source            TEXT NOT NULL,
    run_id            TEXT NOT NULL,
    status            TEXT NOT NULL,
    status_message    TEXT NOT NULL,
    storage_uri       TEXT NOT NULL,
    model_digest      TEXT NOT NULL,
    git_commit        TEXT NOT NULL,
    git_dirty         BIGINT NOT NULL,
    dataset_digests   TEXT NOT NULL, -- JSON array
    PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_run ON model_versions (run_id);
CREATE UNIQUE INDEX model_versions_digest ON model_versions (name, model_digest);

CREATE TABLE model_version_datasets (
    name    TEXT NOT NULL,
    version BIGINT NOT NULL,
    digest  TEXT NOT NULL,
    PRIMARY KEY (digest, name, version),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE model_version_tags (
    name    TEXT NOT NULL,
    version BIGINT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE model_aliases (
    name    TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    alias   TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias)
);

CREATE TABLE promotion_requests (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    target       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL,
    decided_by   TEXT NOT NULL,
    decided_at   BIGINT NOT NULL,
    comment      TEXT NOT NULL
);
CREATE INDEX promotion_requests_target ON promotion_requests (name, version, target);

CREATE TABLE model_version_checks (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    verdict    TEXT NOT NULL,
    details    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX model_version_checks_version ON model_version_checks (name, version);

-- Append-only: rows are never updated or deleted, not even with their model.
CREATE TABLE registry_audit (
    id        BIGSERIAL PRIMARY KEY,
    time      BIGINT NOT NULL,
    principal TEXT NOT NULL,
    action    TEXT NOT NULL,
    name      TEXT NOT NULL,
    version   BIGINT NOT NULL,
    from_ref  TEXT NOT NULL,
    to_ref    TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX registry_audit_name ON registry_audit (name, id);
