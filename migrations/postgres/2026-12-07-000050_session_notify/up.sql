-- Servers keep the sessions they saw recently in memory (models::session_cache) and must hear
-- of every change that ends or alters one, whoever makes it: another server, `calcweb manage`,
-- plain SQL. These triggers say so on the channel calcweb_sessions, which each server LISTENs
-- on. A NOTIFY is delivered at commit (never if the transaction rolls back), and identical ones
-- in one transaction are delivered once.
--   session:<key_hash>  one session ended or changed state
--   user:<id>           a user changed or went (their sessions' cached user is stale)
-- Writes of last_seen/expires_at alone (the batched idle-timeout bookkeeping) notify nothing.
CREATE FUNCTION calcweb_sessions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sessions' THEN
        PERFORM pg_notify('calcweb_sessions', 'session:' || OLD.key_hash);
    ELSE
        PERFORM pg_notify('calcweb_sessions', 'user:' || OLD.id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_notify
AFTER DELETE OR UPDATE OF key_hash, user_id, state ON sessions
FOR EACH ROW EXECUTE FUNCTION calcweb_sessions_notify();

CREATE TRIGGER users_notify
AFTER DELETE OR UPDATE ON users
FOR EACH ROW EXECUTE FUNCTION calcweb_sessions_notify();
