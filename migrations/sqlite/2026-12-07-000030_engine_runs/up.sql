-- What an OpenQuake engine run adds to its calculation: the engine's own job id (the `#N` of
-- its log lines, the N of its datastore calc_N.hdf5) and the phase it is in ("classical 40%"),
-- which the progress bar shows beside the overall percentage.
ALTER TABLE calcs ADD COLUMN engine_job_id BIGINT;
ALTER TABLE calcs ADD COLUMN phase TEXT;
