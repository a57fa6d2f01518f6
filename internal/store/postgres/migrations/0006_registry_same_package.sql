-- Registering the same package twice makes a new version, as MLflow does:
-- (name, model_digest) is no longer unique. The index stays, for finding the
-- versions (and the stored copy) of a package.
DROP INDEX model_versions_digest;
CREATE INDEX model_versions_digest ON model_versions (name, model_digest);
