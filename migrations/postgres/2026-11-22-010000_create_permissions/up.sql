-- Permissions an environment defines (`read:reports`), granted to roles and
-- users later. Same conventions as the foundation: ULIDs as text with the
-- "C" collation, `timestamp` holding UTC, constraint names spelled out and
-- kept in sync with crates/adapters-postgres/src/error.rs.

CREATE TABLE permissions (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    description    TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT permissions_pkey PRIMARY KEY (id),
    CONSTRAINT permissions_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT permissions_environment_id_name_key UNIQUE (environment_id, name)
);
-- Keyset listing in creation (id) order.
CREATE INDEX permissions_environment_id_id_idx ON permissions (environment_id, id);
COMMENT ON TABLE permissions IS 'Permissions an environment defines, granted to roles and users.';
COMMENT ON COLUMN permissions.name IS 'Unique per environment; case is kept and matters.';
COMMENT ON COLUMN permissions.description IS 'Free text, at most 500 characters; may be empty.';
