-- Failed logins, counted per client IP and per username for throttling.
CREATE TABLE auth_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- 'ip' or 'user'
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX auth_failures_key ON auth_failures (kind, key, failed_at);

-- Personal API tokens: only a hash of the secret is kept, plus a short prefix to recognise it.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    -- 'read' or 'run'
    scope TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
