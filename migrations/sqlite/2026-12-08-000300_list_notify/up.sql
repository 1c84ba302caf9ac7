-- On PostgreSQL a trigger NOTIFYs the servers of the new calc_list_version counters; SQLite
-- has no NOTIFY, and its servers read the counters on each list request (microseconds there).
-- The list's tag filter offers every tag, kept with the counters: a tag created or deleted
-- alone (no calculation linked yet) moves them as well.
CREATE TRIGGER tags_insert_list_version AFTER INSERT ON tags
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER tags_delete_list_version AFTER DELETE ON tags
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER tags_update_list_version AFTER UPDATE ON tags
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;

-- The usage meter above the list ("2 of 4 running") is kept with the counters too: a change
-- of a quota, or of the name of a group it names, moves them.
CREATE TRIGGER user_quotas_insert_list_version AFTER INSERT ON user_quotas
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER user_quotas_delete_list_version AFTER DELETE ON user_quotas
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER user_quotas_update_list_version AFTER UPDATE ON user_quotas
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER group_quotas_insert_list_version AFTER INSERT ON group_quotas
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER group_quotas_delete_list_version AFTER DELETE ON group_quotas
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER group_quotas_update_list_version AFTER UPDATE ON group_quotas
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER groups_update_list_version AFTER UPDATE OF name ON groups
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
