-- Sessions of users. Same conventions as the foundation. A session dies
-- with its user (cascade); its status is derived, never stored.

CREATE TABLE sessions (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    ip_address     TEXT,
    user_agent     TEXT,
    last_active_at TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    revoked_at     TIMESTAMP,
    created_at     TIMESTAMP NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    -- Deleting a user deletes its sessions.
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX sessions_environment_id_id_idx ON sessions (environment_id, id);
-- Lookups by user (filter, cascade, revocation on blocking).
CREATE INDEX sessions_user_id_id_idx ON sessions (user_id, id);
