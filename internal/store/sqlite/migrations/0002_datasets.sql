-- Versions of registered data assets. A version is immutable; the digest of its
-- bytes is unique per asset, so registering the same bytes again finds it.
CREATE TABLE data_assets (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    uri         TEXT NOT NULL,
    source      TEXT NOT NULL,
    digest      TEXT NOT NULL,
    format      TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    schema      TEXT NOT NULL,
    profile     TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (name, version),
    UNIQUE (name, digest)
);
