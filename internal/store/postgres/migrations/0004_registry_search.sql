-- Registry searches sort and page in SQL: these indexes serve their orders
-- and the newest version per stage.
CREATE INDEX registered_models_created ON registered_models (creation_time, name);
CREATE INDEX registered_models_updated ON registered_models (last_updated_time, name);
CREATE INDEX model_versions_stage ON model_versions (name, stage, version);
CREATE INDEX model_versions_created ON model_versions (creation_time);
