-- PostgreSQL only (see its migration): SQLite's check of calc_logs.calc_id is one lookup in
-- an index it has in memory, and dropping a foreign key would mean rebuilding the table.
SELECT 1;
