-- Email: the outbox, invitations, activation links of self-registered accounts, and the
-- per-user wish to be told when a calculation ends.

-- Requests and calculation supervisors only insert here; the mail worker of a running server
-- sends. A row is claimed atomically (queued -> sending), so two servers never send it twice.
CREATE TABLE emails (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- reset, activation, registered, invitation, calc_finished, test
    kind TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- Emptied once the message is sent: they may hold one-time links.
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    -- queued -> sending -> sent | queued (retry later) | failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    -- queued: not before this time; sending: the claim lapses at this time.
    next_attempt_at TIMESTAMP NOT NULL
);
CREATE INDEX emails_due ON emails (status, next_attempt_at);
CREATE INDEX emails_created ON emails (created_at);

-- A superuser invites an address into a group; the link creates the account, once.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    group_id INTEGER REFERENCES groups (id) ON DELETE SET NULL,
    -- SHA-256 of the token in the link
    token_hash TEXT NOT NULL UNIQUE,
    invited_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    invited_by_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    -- the account created with it
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX invitations_created ON invitations (created_at);

-- Activation links of accounts created by the sign-up form (registration mode "open").
CREATE TABLE activation_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX activation_tokens_user ON activation_tokens (user_id);

ALTER TABLE users ADD COLUMN notify_on_finish BOOLEAN NOT NULL DEFAULT 0;
