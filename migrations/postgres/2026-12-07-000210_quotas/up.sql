-- Quota overrides set in /admin (issue #21). Per column: NULL = not set here (the next rule
-- decides: user override, then the user's groups, then [quotas] in the config), -1 = no limit,
-- N >= 0 = the limit. max_disk is in bytes. Deleting the user or group deletes its row.
CREATE TABLE user_quotas (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    max_running INTEGER,
    max_queued INTEGER,
    max_disk BIGINT
);
CREATE TABLE group_quotas (
    group_id BIGINT PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
    max_running INTEGER,
    max_queued INTEGER,
    max_disk BIGINT
);
-- Counting a user's running and queued calculations (quota checks, the fair queue, the meter).
CREATE INDEX calcs_user_status ON calcs (user_id, status);
