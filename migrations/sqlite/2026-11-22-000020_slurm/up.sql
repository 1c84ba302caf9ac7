-- Calculations sent to a Slurm cluster ([executor] kind = "slurm").
-- slurm_job_id: NULL = not sent to Slurm; '' = a server is submitting it right now (claimed,
-- so no other server submits it too); otherwise the id sbatch answered.
ALTER TABLE calcs ADD COLUMN slurm_job_id TEXT;
-- Why Slurm keeps the job pending ("Resources", "Priority", ...), or how it ended a job
-- the supervisor could not report on ("TIMEOUT (TimeLimit)").
ALTER TABLE calcs ADD COLUMN slurm_reason TEXT;
-- When a server claimed it for submission (a claim older than a grace period was lost).
ALTER TABLE calcs ADD COLUMN dispatched_at TIMESTAMP;
