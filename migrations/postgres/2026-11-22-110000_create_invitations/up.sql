-- Invitations into organizations and the roles each grants on acceptance.
-- Same conventions as the foundation; constraint names are kept in sync
-- with crates/adapters-postgres/src/error.rs.

CREATE TABLE invitations (
    id              TEXT COLLATE "C" NOT NULL,
    environment_id  TEXT COLLATE "C" NOT NULL,
    organization_id TEXT COLLATE "C" NOT NULL,
    email           TEXT COLLATE "C" NOT NULL,
    status          TEXT NOT NULL,
    token_digest    TEXT NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    user_id         TEXT COLLATE "C" NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CONSTRAINT invitations_pkey PRIMARY KEY (id),
    CONSTRAINT invitations_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    -- Deleting an organization deletes its invitations.
    CONSTRAINT invitations_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    -- The accepting user; the invitation outlives it as a record.
    CONSTRAINT invitations_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT invitations_status_check
        CHECK (status IN ('pending', 'accepted', 'declined', 'revoked'))
);
CREATE INDEX invitations_environment_id_id_idx ON invitations (environment_id, id);
CREATE INDEX invitations_organization_id_idx ON invitations (organization_id);
CREATE INDEX invitations_environment_id_email_idx ON invitations (environment_id, email);
CREATE INDEX invitations_user_id_idx ON invitations (user_id);

-- Roles an invitation grants; position keeps the order given.
CREATE TABLE invitation_roles (
    invitation_id TEXT COLLATE "C" NOT NULL,
    role_id       TEXT COLLATE "C" NOT NULL,
    position      INTEGER NOT NULL,
    CONSTRAINT invitation_roles_pkey PRIMARY KEY (invitation_id, role_id),
    -- Deleting an invitation or a role deletes its rows.
    CONSTRAINT invitation_roles_invitation_id_fkey FOREIGN KEY (invitation_id)
        REFERENCES invitations (id) ON DELETE CASCADE,
    CONSTRAINT invitation_roles_role_id_fkey FOREIGN KEY (role_id)
        REFERENCES roles (id) ON DELETE CASCADE
);
CREATE INDEX invitation_roles_role_id_idx ON invitation_roles (role_id);
COMMENT ON TABLE invitations IS 'Invitations into organizations; the token is kept only as its SHA-256 digest.';
COMMENT ON TABLE invitation_roles IS 'Roles granted by an invitation when accepted.';
