-- Monitor resources (kind: Monitor): each stored as its normalized JSON spec.
-- serial counts the changes to a monitor; updated_at is Unix milliseconds.
CREATE TABLE monitors (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    serial     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Append-only: one row per change to a monitor (create_monitor,
-- update_monitor, delete_monitor) with who made it.
CREATE TABLE monitor_audit (
    id        INTEGER PRIMARY KEY,
    time      INTEGER NOT NULL,
    principal TEXT NOT NULL,
    action    TEXT NOT NULL,
    monitor   TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX monitor_audit_monitor ON monitor_audit (monitor, id);
