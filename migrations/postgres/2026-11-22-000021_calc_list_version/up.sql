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

CREATE FUNCTION calc_list_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE calc_list_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

-- Deferred to the commit: the counter row is locked only for the commit itself, and always
-- last, so transactions cannot deadlock on it; and a reader that sees the new counter value
-- also sees the change.
CREATE CONSTRAINT TRIGGER calcs_list_version
AFTER INSERT OR DELETE OR UPDATE OF user_id, status, is_shared, calculator, description, created_at
ON calcs DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_list_version_bump();
CREATE CONSTRAINT TRIGGER user_groups_list_version
AFTER INSERT OR DELETE OR UPDATE ON user_groups DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_list_version_bump();
CREATE CONSTRAINT TRIGGER users_list_version
AFTER UPDATE OF username ON users DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_list_version_bump();
