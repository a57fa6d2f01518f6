-- MLflow 3's logged models: created in an experiment (usually by a run),
-- files uploaded under artifact_location, finalized READY or UPLOAD_FAILED.
CREATE TABLE logged_models (
    model_id                  TEXT PRIMARY KEY,
    experiment_id             BIGINT NOT NULL REFERENCES experiments (experiment_id),
    name                      TEXT NOT NULL,
    artifact_location         TEXT NOT NULL,
    creation_timestamp_ms     BIGINT NOT NULL,
    last_updated_timestamp_ms BIGINT NOT NULL,
    status                    TEXT NOT NULL,
    status_message            TEXT NOT NULL,
    model_type                TEXT NOT NULL,
    source_run_id             TEXT NOT NULL,
    lifecycle_stage           TEXT NOT NULL
);
CREATE INDEX logged_models_experiment ON logged_models (experiment_id, creation_timestamp_ms DESC, model_id);
CREATE INDEX logged_models_source_run ON logged_models (source_run_id, name);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

-- The logged models a run produced (LogOutputs).
CREATE TABLE run_model_outputs (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    step     BIGINT NOT NULL,
    PRIMARY KEY (run_uuid, model_id)
);
