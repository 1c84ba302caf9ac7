DROP TRIGGER calcs_update_rows_version;
ALTER TABLE calc_list_version DROP COLUMN rows_version;
