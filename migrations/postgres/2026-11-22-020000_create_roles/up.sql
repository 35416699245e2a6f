-- Roles an environment defines, and the permissions granted to them. Same
-- conventions as the foundation (see 2026-11-22-010000_create_permissions);
-- constraint names are kept in sync with crates/adapters-postgres/src/error.rs.

CREATE TABLE roles (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    description    TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT roles_pkey PRIMARY KEY (id),
    CONSTRAINT roles_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT roles_environment_id_name_key UNIQUE (environment_id, name)
);
-- Keyset listing in creation (id) order.
CREATE INDEX roles_environment_id_id_idx ON roles (environment_id, id);
COMMENT ON TABLE roles IS 'Roles an environment defines: named sets of permissions.';
COMMENT ON COLUMN roles.name IS 'Unique per environment; case is kept and matters.';

CREATE TABLE role_permissions (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    role_id        TEXT COLLATE "C" NOT NULL,
    permission_id  TEXT COLLATE "C" NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    CONSTRAINT role_permissions_pkey PRIMARY KEY (id),
    CONSTRAINT role_permissions_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    -- Deleting a role or a permission deletes its joins.
    CONSTRAINT role_permissions_role_id_fkey FOREIGN KEY (role_id)
        REFERENCES roles (id) ON DELETE CASCADE,
    CONSTRAINT role_permissions_permission_id_fkey FOREIGN KEY (permission_id)
        REFERENCES permissions (id) ON DELETE CASCADE,
    CONSTRAINT role_permissions_role_id_permission_id_key UNIQUE (role_id, permission_id)
);
CREATE INDEX role_permissions_environment_id_id_idx ON role_permissions (environment_id, id);
-- The unique key serves lookups by role (and permission_count); this one by permission.
CREATE INDEX role_permissions_permission_id_idx ON role_permissions (permission_id);
COMMENT ON TABLE role_permissions IS 'Permissions granted to roles; one row per pair.';
