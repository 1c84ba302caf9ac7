-- Servers keep calculation lists while the counters of calc_list_version stand still
-- (models::list_cache). Instead of reading the counters on every request, a server LISTENs on
-- calcweb_lists and hears their new values at each commit that moves them (payload
-- "<version>:<rows_version>"; several in one transaction arrive in order, the last one
-- holding the committed values).
CREATE FUNCTION calc_list_version_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('calcweb_lists', NEW.version || ':' || NEW.rows_version);
    RETURN NULL;
END;
$$;

CREATE TRIGGER calc_list_version_notify
AFTER UPDATE ON calc_list_version
FOR EACH ROW EXECUTE FUNCTION calc_list_version_notify();

-- The list's tag filter offers every tag, kept with the counters too: a tag created or
-- deleted alone (no calculation linked yet) moves them as well.
CREATE CONSTRAINT TRIGGER tags_list_version
AFTER INSERT OR DELETE OR UPDATE ON tags DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_list_version_bump();

-- The usage meter above the list ("2 of 4 running") is kept with the counters too: a change
-- of a quota, or of the name of a group it names, moves them.
CREATE CONSTRAINT TRIGGER user_quotas_list_version
AFTER INSERT OR DELETE OR UPDATE ON user_quotas DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_list_version_bump();
CREATE CONSTRAINT TRIGGER group_quotas_list_version
AFTER INSERT OR DELETE OR UPDATE ON group_quotas DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_list_version_bump();
CREATE CONSTRAINT TRIGGER groups_list_version
AFTER UPDATE OF name ON groups DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_list_version_bump();
