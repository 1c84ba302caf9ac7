-- The audit log of admin actions (web /admin and `calcweb manage`).
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    -- NULL once the acting user is deleted; actor_name keeps who it was.
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_name TEXT NOT NULL,
    -- e.g. user.create, user.deactivate, group.rename, session.revoke
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL DEFAULT '',
    object_repr TEXT NOT NULL DEFAULT '',
    -- what changed, as "field: before -> after; ..."
    summary TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    -- web or cli
    source TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
CREATE INDEX audit_log_action ON audit_log (action, created_at);
CREATE INDEX audit_log_actor ON audit_log (actor_id);
