-- Deploy audit: what made each change (ferry apply, a reason given to
-- SetTraffic, or '' for a direct API call), for the plan's drift.
ALTER TABLE deploy_audit ADD COLUMN via TEXT NOT NULL DEFAULT '';
