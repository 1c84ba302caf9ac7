DROP TRIGGER calcs_rows_version ON calcs;
DROP FUNCTION calc_rows_version_bump();
ALTER TABLE calc_list_version DROP COLUMN rows_version;
