-- Browsers a user logged in from: the SHA-256 of the random value of the browser's device
-- cookie (auth::throttle spares a known browser its user's lockout). A password change
-- forgets them all; deleting the user deletes them.
CREATE TABLE known_devices (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, device_hash)
);
