ALTER TABLE calcs DROP COLUMN phase;
ALTER TABLE calcs DROP COLUMN engine_job_id;
