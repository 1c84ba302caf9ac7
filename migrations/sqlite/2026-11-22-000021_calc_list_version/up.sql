-- A counter bumped by every change that can change what a calculation list holds or how many
-- rows it has: calculations added or removed, their status, sharing, owner, calculator,
-- description or time; group memberships; usernames. Servers keep list totals (the "N
-- calculations" above /engine/) and count again only when the counter moved, instead of
-- counting up to every calculation on each request. Progress updates do not bump it.
CREATE TABLE calc_list_version (
    id INTEGER PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO calc_list_version (id, version) VALUES (1, 0);

CREATE TRIGGER calcs_insert_list_version AFTER INSERT ON calcs
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER calcs_delete_list_version AFTER DELETE ON calcs
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER calcs_update_list_version
AFTER UPDATE OF user_id, status, is_shared, calculator, description, created_at ON calcs
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER user_groups_insert_list_version AFTER INSERT ON user_groups
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER user_groups_delete_list_version AFTER DELETE ON user_groups
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER user_groups_update_list_version AFTER UPDATE ON user_groups
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER users_update_list_version AFTER UPDATE OF username ON users
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
END;
