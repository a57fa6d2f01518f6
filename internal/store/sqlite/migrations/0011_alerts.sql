-- Monitor alerts (internal/monitor/alert): the state of each alert, one row
-- per monitor, deployment, signal and feature ('' when the signal is not
-- per feature);
-- version counts writes, and a write made from an older version is refused.
-- Times are Unix milliseconds.
CREATE TABLE alert_states (
    monitor    TEXT NOT NULL,
    signal     TEXT NOT NULL,
    feature    TEXT NOT NULL,
    state      TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    deployment TEXT NOT NULL,
    metric     TEXT NOT NULL,
    score      REAL NOT NULL,
    threshold  REAL NOT NULL,
    breached   INTEGER NOT NULL,
    detail     TEXT NOT NULL,
    since      INTEGER NOT NULL,
    evaluated  INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    PRIMARY KEY (monitor, deployment, signal, feature)
);

-- Append-only: every transition (firing, resolved), in id order; subscribers
-- poll it from the last id they have seen.
CREATE TABLE alert_events (
    id         INTEGER PRIMARY KEY,
    time       INTEGER NOT NULL,
    monitor    TEXT NOT NULL,
    signal     TEXT NOT NULL,
    feature    TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    deployment TEXT NOT NULL,
    metric     TEXT NOT NULL,
    state      TEXT NOT NULL,
    previous   TEXT NOT NULL,
    score      REAL NOT NULL,
    threshold  REAL NOT NULL,
    detail     TEXT NOT NULL
);

-- Append-only: the webhook delivery log, one row per attempt (attempt 0: a
-- delivery dropped because the queue was full). webhook names the receiver
-- without secrets. duration is in nanoseconds.
CREATE TABLE alert_deliveries (
    id          INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    event_id    INTEGER NOT NULL,
    webhook     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    error       TEXT NOT NULL,
    duration    INTEGER NOT NULL
);
CREATE INDEX alert_deliveries_event ON alert_deliveries (event_id, id);
