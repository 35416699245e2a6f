-- Organizations, memberships of users in them, and the roles each member
-- holds there. Same conventions as the foundation; constraint names are
-- kept in sync with crates/adapters-postgres/src/error.rs.

CREATE TABLE organizations (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    name           TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    CONSTRAINT organizations_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE
);
CREATE INDEX organizations_environment_id_id_idx ON organizations (environment_id, id);

CREATE TABLE memberships (
    id              TEXT COLLATE "C" NOT NULL,
    environment_id  TEXT COLLATE "C" NOT NULL,
    organization_id TEXT COLLATE "C" NOT NULL,
    user_id         TEXT COLLATE "C" NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (id),
    CONSTRAINT memberships_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    -- Deleting an organization or a user deletes its memberships.
    CONSTRAINT memberships_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT memberships_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    -- One membership per user per organization.
    CONSTRAINT memberships_organization_id_user_id_key UNIQUE (organization_id, user_id)
);
CREATE INDEX memberships_environment_id_id_idx ON memberships (environment_id, id);
-- The unique key serves lookups by organization (and member_count); this one by user.
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

-- Roles held by a member in its organization; position keeps the order given.
CREATE TABLE membership_roles (
    membership_id TEXT COLLATE "C" NOT NULL,
    role_id       TEXT COLLATE "C" NOT NULL,
    position      INTEGER NOT NULL,
    CONSTRAINT membership_roles_pkey PRIMARY KEY (membership_id, role_id),
    -- Deleting a membership or a role deletes its rows.
    CONSTRAINT membership_roles_membership_id_fkey FOREIGN KEY (membership_id)
        REFERENCES memberships (id) ON DELETE CASCADE,
    CONSTRAINT membership_roles_role_id_fkey FOREIGN KEY (role_id)
        REFERENCES roles (id) ON DELETE CASCADE
);
CREATE INDEX membership_roles_role_id_idx ON membership_roles (role_id);
COMMENT ON TABLE organizations IS 'Organizations of an environment.';
COMMENT ON COLUMN organizations.metadata IS 'Free-form JSON object (text), at most 16 KiB.';
COMMENT ON TABLE memberships IS 'Users in organizations; one row per pair.';
COMMENT ON TABLE membership_roles IS 'Roles held by members in their organization.';
