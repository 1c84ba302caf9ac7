ALTER TABLE calcs DROP COLUMN dispatched_at;
ALTER TABLE calcs DROP COLUMN slurm_reason;
ALTER TABLE calcs DROP COLUMN slurm_job_id;
