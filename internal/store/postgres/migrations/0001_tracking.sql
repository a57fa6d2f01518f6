CREATE TABLE experiments (
    experiment_id     BIGSERIAL PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage   TEXT NOT NULL,
    creation_time     BIGINT NOT NULL,
    last_update_time  BIGINT NOT NULL
);

CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

CREATE TABLE runs (
    run_uuid        TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    experiment_id   BIGINT NOT NULL REFERENCES experiments (experiment_id),
    user_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    start_time      BIGINT NOT NULL,
    end_time        BIGINT,
    artifact_uri    TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    deleted_time    BIGINT
);
CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time DESC, run_uuid);

CREATE TABLE params (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

CREATE TABLE tags (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

-- Metric points, in chunks: each write appends one row per metric key that
-- holds its points packed as little-endian (step int64, timestamp int64, value
-- float64 bits) triples, NaN and ±Inf included, so that a series of 100,000
-- points is read from a few rows. A point identical in every field to another
-- (a retried call) is dropped when the series is read.
CREATE TABLE metric_chunks (
    id       BIGSERIAL PRIMARY KEY,
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key      TEXT NOT NULL,
    points   BYTEA NOT NULL
);
CREATE INDEX metric_chunks_series ON metric_chunks (run_uuid, key, id);

-- The latest point of each metric of each run (highest step, then timestamp,
-- then value), kept in step with metrics so that search needs no aggregate.
CREATE TABLE latest_metrics (
    run_uuid  TEXT NOT NULL REFERENCES runs (run_uuid),
    key       TEXT NOT NULL,
    step      BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    is_nan    SMALLINT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);
CREATE INDEX latest_metrics_key_value ON latest_metrics (key, value);

CREATE TABLE run_inputs (
    run_uuid    TEXT NOT NULL REFERENCES runs (run_uuid),
    name        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source      TEXT NOT NULL,
    schema      TEXT NOT NULL,
    profile     TEXT NOT NULL,
    context     TEXT NOT NULL,
    tags        TEXT NOT NULL,
    PRIMARY KEY (run_uuid, name, digest)
);
