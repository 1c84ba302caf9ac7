-- Log lines arrive by the hundred thousand: the foreign key on calc_logs.calc_id made
-- PostgreSQL look up and lock the calculation's row for every line stored (60% of the
-- server's time per row in bench/run's log burst). LogRow::append now checks the calculation
-- once per batch instead: it updates calcs.log_rows first, in the same transaction, and stores
-- nothing when no row was updated; that update also holds the row, so a concurrent removal
-- waits for the batch. Removing a calculation still removes its lines, by this trigger.
ALTER TABLE calc_logs DROP CONSTRAINT calc_logs_calc_id_fkey;

CREATE FUNCTION calc_logs_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM calc_logs WHERE calc_id = OLD.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER calcs_remove_logs AFTER DELETE ON calcs
FOR EACH ROW EXECUTE FUNCTION calc_logs_remove();
