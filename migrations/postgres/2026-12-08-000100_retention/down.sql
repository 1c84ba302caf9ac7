ALTER TABLE calcs DROP COLUMN purge_warned_at;
ALTER TABLE calcs DROP COLUMN pinned_at;
ALTER TABLE calcs DROP COLUMN pinned_by;
ALTER TABLE calcs DROP COLUMN is_pinned;
