-- The maintenance window, shared by every server process: a row means it is scheduled or on.
CREATE TABLE maintenance (
    id INTEGER PRIMARY KEY NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    message TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
