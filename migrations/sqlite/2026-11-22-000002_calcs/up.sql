-- Calculations, their log rows and their outputs.
CREATE TABLE calcs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Deleting a user never silently deletes calculations: /admin asks what to do with them.
    user_id INTEGER NOT NULL REFERENCES users (id),
    calculator TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- created -> submitted -> executing -> complete | failed | aborted
    status TEXT NOT NULL,
    is_shared BOOLEAN NOT NULL DEFAULT 0,
    parent_id INTEGER REFERENCES calcs (id) ON DELETE SET NULL,
    progress INTEGER NOT NULL DEFAULT 0,
    -- The .ini file the calculator runs, relative to the input directory.
    job_ini TEXT NOT NULL DEFAULT '',
    notify_to TEXT,
    -- Which server claimed it, and the supervisor's process id on that host.
    host TEXT,
    pid INTEGER,
    abort_requested BOOLEAN NOT NULL DEFAULT 0,
    log_rows INTEGER NOT NULL DEFAULT 0,
    size_bytes BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX calcs_status ON calcs (status, id);
CREATE INDEX calcs_user ON calcs (user_id, id);
CREATE INDEX calcs_shared ON calcs (is_shared, id);

CREATE TABLE calc_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    calc_id INTEGER NOT NULL REFERENCES calcs (id) ON DELETE CASCADE,
    logged_at TIMESTAMP NOT NULL,
    level TEXT NOT NULL,
    process TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX calc_logs_calc ON calc_logs (calc_id, id);

CREATE TABLE outputs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    calc_id INTEGER NOT NULL REFERENCES calcs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX outputs_calc ON outputs (calc_id);
