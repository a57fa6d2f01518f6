CREATE TABLE experiments (
    experiment_id     INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage   TEXT NOT NULL,
    creation_time     INTEGER NOT NULL,
    last_update_time  INTEGER NOT NULL
);

CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;

CREATE TABLE runs (
    run_uuid        TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (experiment_id),
    user_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    start_time      INTEGER NOT NULL,
    end_time        INTEGER,
    artifact_uri    TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    deleted_time    INTEGER
);
CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time DESC, run_uuid);

CREATE TABLE params (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;

CREATE TABLE tags (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;

-- Metric points, in chunks: each write appends one row per metric key that
-- holds its points packed as little-endian (step int64, timestamp int64, value
-- float64 bits) triples, NaN and ±Inf included, so that a series of 100,000
-- points is read from a few rows. A point identical in every field to another
-- (a retried call) is dropped when the series is read.
CREATE TABLE metric_chunks (
    id       INTEGER PRIMARY KEY,
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key      TEXT NOT NULL,
    points   BLOB NOT NULL
);
CREATE INDEX metric_chunks_series ON metric_chunks (run_uuid, key, id);

-- The latest point of each metric of each run (highest step, then timestamp,
-- then value), kept in step with metrics so that search needs no aggregate.
CREATE TABLE latest_metrics (
    run_uuid  TEXT NOT NULL REFERENCES runs (run_uuid),
    key       TEXT NOT NULL,
    step      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value     REAL NOT NULL,
    is_nan    INTEGER NOT NULL,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
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
) WITHOUT ROWID;
