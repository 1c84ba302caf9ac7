-- Kept in step with migrations/postgres: there, triggers NOTIFY the servers of changes to
-- sessions and users for their session caches. SQLite has no NOTIFY; its servers read
-- sessions from the database on every request (models::session_cache).
SELECT 1;
