-- SQLite twin of migrations/postgres/2026-11-22-020000_create_roles:
-- same tables, columns and constraint names (see that file for comments).

CREATE TABLE roles (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT roles_pkey PRIMARY KEY (id),
    CONSTRAINT roles_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT roles_environment_id_name_key UNIQUE (environment_id, name)
);
CREATE INDEX roles_environment_id_id_idx ON roles (environment_id, id);

CREATE TABLE role_permissions (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    role_id        TEXT NOT NULL,
    permission_id  TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    CONSTRAINT role_permissions_pkey PRIMARY KEY (id),
    CONSTRAINT role_permissions_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT role_permissions_role_id_fkey FOREIGN KEY (role_id)
        REFERENCES roles (id) ON DELETE CASCADE,
    CONSTRAINT role_permissions_permission_id_fkey FOREIGN KEY (permission_id)
        REFERENCES permissions (id) ON DELETE CASCADE,
    CONSTRAINT role_permissions_role_id_permission_id_key UNIQUE (role_id, permission_id)
);
CREATE INDEX role_permissions_environment_id_id_idx ON role_permissions (environment_id, id);
CREATE INDEX role_permissions_permission_id_idx ON role_permissions (permission_id);
