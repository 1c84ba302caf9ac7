DROP TRIGGER calcs_remove_logs ON calcs;
DROP FUNCTION calc_logs_remove();
DELETE FROM calc_logs WHERE calc_id NOT IN (SELECT id FROM calcs);
ALTER TABLE calc_logs ADD CONSTRAINT calc_logs_calc_id_fkey
    FOREIGN KEY (calc_id) REFERENCES calcs (id) ON DELETE CASCADE;
