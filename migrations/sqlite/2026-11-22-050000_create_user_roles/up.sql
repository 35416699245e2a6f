-- Roles held by users. Same conventions as the foundation; constraint names
-- are kept in sync with crates/adapters-postgres/src/error.rs.

CREATE TABLE user_roles (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    role_id        TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    CONSTRAINT user_roles_pkey PRIMARY KEY (id),
    CONSTRAINT user_roles_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    -- Deleting a user or a role deletes its joins.
    CONSTRAINT user_roles_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT user_roles_role_id_fkey FOREIGN KEY (role_id)
        REFERENCES roles (id) ON DELETE CASCADE,
    CONSTRAINT user_roles_user_id_role_id_key UNIQUE (user_id, role_id)
);
CREATE INDEX user_roles_environment_id_id_idx ON user_roles (environment_id, id);
-- The unique key serves lookups by user; this one by role (and user_count).
CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);
