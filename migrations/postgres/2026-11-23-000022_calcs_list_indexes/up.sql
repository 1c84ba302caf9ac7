-- Counting the calculations a user may see (the "N calculations" above /engine/, counted again
-- after every change to a list) reads only this index: owner and shared flag, no table rows.
-- With 100,000 calculations the count went from 24-33 ms to 13-20 ms (an index-only scan).
CREATE INDEX calcs_owner_shared ON calcs (user_id, is_shared);

-- A list filtered by a rare status (running, aborted) goes through the status index; with the
-- owner and shared flag in it, who may see each one is decided from the index, and only the
-- rows shown are read from the table.
DROP INDEX calcs_status;
CREATE INDEX calcs_status ON calcs (status, id, user_id, is_shared);

-- The running calculations, newest first. PostgreSQL cannot read several statuses of the status
-- index in id order, so for "running" it walked the primary key backwards through every
-- calculation until it found a page (34 ms with 100,000, 0.7 ms with this index). Queries use
-- it because they state this condition with literal values (models::calc::status::sql_in).
-- SQLite's planner prefers the status index for the same query, so its schema has no such index.
CREATE INDEX calcs_running ON calcs (id, user_id, is_shared)
    WHERE status IN ('created', 'submitted', 'executing');
