-- The retention policy ([retention], issue #21 part 4). A superuser can pin a calculation so the
-- policy never removes it (who and when, for the page and the audit). purge_warned_at: when its
-- owner was told it would go; the policy removes only calculations warned at least
-- [retention] warn_days_before ago, and forgets the warning when one stops being due.
ALTER TABLE calcs ADD COLUMN is_pinned BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE calcs ADD COLUMN pinned_by TEXT;
ALTER TABLE calcs ADD COLUMN pinned_at TIMESTAMP;
ALTER TABLE calcs ADD COLUMN purge_warned_at TIMESTAMP;
