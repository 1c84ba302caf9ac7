-- A second counter, bumped by changes to what a listed calculation shows without changing
-- which calculations a list holds: progress, size, parent, start time. Together with
-- `version` (every other column a list shows, memberships, usernames) it stamps a page of a
-- list: servers keep pages they have read and serve them again while both counters stand
-- still (models::list_cache). Totals follow `version` alone, so a calculation's progress does
-- not make every viewer count again.
ALTER TABLE calc_list_version ADD COLUMN rows_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION calc_rows_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE calc_list_version SET rows_version = rows_version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

-- Deferred to the commit, as calcs_list_version is (see its migration).
CREATE CONSTRAINT TRIGGER calcs_rows_version
AFTER UPDATE OF progress, size_bytes, parent_id, started_at
ON calcs DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_rows_version_bump();
