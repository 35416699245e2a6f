-- SQLite twin of migrations/postgres/2026-11-22-010000_create_permissions:
-- same table, columns and constraint names (see that file for comments).

CREATE TABLE permissions (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT permissions_pkey PRIMARY KEY (id),
    CONSTRAINT permissions_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT permissions_environment_id_name_key UNIQUE (environment_id, name)
);
CREATE INDEX permissions_environment_id_id_idx ON permissions (environment_id, id);
