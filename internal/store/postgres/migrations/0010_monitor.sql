-- Monitor: ground-truth labels, one per request of an endpoint (the last
-- one sent replaces the one before), and per-window profiles, one row per
-- source (replica) per window; readers merge a window's rows.
CREATE TABLE monitor_labels (
    endpoint    TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    label       TEXT NOT NULL,
    time        BIGINT,
    received_at BIGINT NOT NULL,
    principal   TEXT NOT NULL,
    PRIMARY KEY (endpoint, request_id)
);
CREATE INDEX monitor_labels_received ON monitor_labels (endpoint, received_at);

CREATE TABLE monitor_profiles (
    endpoint       TEXT NOT NULL,
    deployment     TEXT NOT NULL,
    window_start   BIGINT NOT NULL,
    window_seconds BIGINT NOT NULL,
    source         TEXT NOT NULL,
    row_count      BIGINT NOT NULL,
    profile        TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (endpoint, deployment, window_start, window_seconds, source)
);
CREATE INDEX monitor_profiles_window ON monitor_profiles (endpoint, window_start);
