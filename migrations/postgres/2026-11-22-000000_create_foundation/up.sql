-- The foundation: environments (tenants), users, OAuth clients, resource
-- servers with their scopes, client grants, signing keys and the audit trail.
--
-- Kept to the type subset shared with the SQLite twin of this migration
-- (migrations/sqlite/<same name>): ULIDs as text, `timestamp` without time
-- zone holding UTC, booleans, bigints, JSON as text, ciphertext as bytea.
-- Constraint names are spelled out because the store maps unique violations
-- to domain conflicts by constraint name; keep them in sync with
-- crates/adapters-postgres/src/error.rs.
--
-- Identifier-like text columns use the "C" collation: ULIDs and e-mail
-- addresses then sort byte-wise, as they do on SQLite, and keyset pagination
-- orders the same way on both stores.

CREATE TABLE environments (
    id         TEXT COLLATE "C" NOT NULL,
    slug       TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT environments_pkey PRIMARY KEY (id),
    CONSTRAINT environments_slug_key UNIQUE (slug)
);
COMMENT ON TABLE environments IS 'Tenants: every other row belongs to exactly one environment and is deleted with it.';
COMMENT ON COLUMN environments.id IS 'ULID.';
COMMENT ON COLUMN environments.slug IS 'Host label selecting the environment (one lower-case DNS label).';
COMMENT ON COLUMN environments.created_at IS 'Creation time (UTC).';

CREATE TABLE users (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    email          TEXT COLLATE "C" NOT NULL,
    first_name     TEXT,
    last_name      TEXT,
    password_hash  TEXT,
    email_verified BOOLEAN NOT NULL,
    blocked        BOOLEAN NOT NULL,
    metadata       TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT users_environment_id_email_key UNIQUE (environment_id, email)
);
-- Keyset listing in creation (id) order; listing by e-mail uses the unique index.
CREATE INDEX users_environment_id_id_idx ON users (environment_id, id);
COMMENT ON TABLE users IS 'People who sign in to an environment.';
COMMENT ON COLUMN users.email IS 'Lower-cased by the domain, so the unique key ignores case.';
COMMENT ON COLUMN users.password_hash IS 'bcrypt modular crypt format; NULL for users without a password.';
COMMENT ON COLUMN users.metadata IS 'Free-form JSON object (text), at most 16 KiB.';

CREATE TABLE clients (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    client_id      TEXT COLLATE "C" NOT NULL,
    name           TEXT NOT NULL,
    client_type    TEXT NOT NULL,
    grant_types    TEXT NOT NULL,
    redirect_uris  TEXT NOT NULL,
    token_format   TEXT NOT NULL,
    first_party    BOOLEAN NOT NULL,
    secret_digest  TEXT,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT clients_pkey PRIMARY KEY (id),
    CONSTRAINT clients_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT clients_environment_id_client_id_key UNIQUE (environment_id, client_id),
    CONSTRAINT clients_client_type_check CHECK (client_type IN ('confidential', 'public')),
    CONSTRAINT clients_token_format_check CHECK (token_format IN ('jwt', 'opaque'))
);
COMMENT ON TABLE clients IS 'OAuth clients (applications and machines).';
COMMENT ON COLUMN clients.client_id IS 'Public OAuth client_id, unique per environment.';
COMMENT ON COLUMN clients.grant_types IS 'JSON array of grant type names (text).';
COMMENT ON COLUMN clients.redirect_uris IS 'JSON array of redirect URIs (text).';
COMMENT ON COLUMN clients.secret_digest IS 'SHA-256 (hex) of the generated secret; NULL for public clients.';

CREATE TABLE resource_servers (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    name           TEXT NOT NULL,
    identifier     TEXT COLLATE "C" NOT NULL,
    token_lifetime BIGINT NOT NULL,
    is_system      BOOLEAN NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT resource_servers_pkey PRIMARY KEY (id),
    CONSTRAINT resource_servers_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT resource_servers_environment_id_identifier_key UNIQUE (environment_id, identifier)
);
COMMENT ON TABLE resource_servers IS 'APIs that accept access tokens; the identifier is the token audience.';
COMMENT ON COLUMN resource_servers.token_lifetime IS 'Access token lifetime in seconds (60 to 86400).';
COMMENT ON COLUMN resource_servers.is_system IS 'The environment''s own Management API: immutable.';

CREATE TABLE scopes (
    id                 TEXT COLLATE "C" NOT NULL,
    environment_id     TEXT COLLATE "C" NOT NULL,
    resource_server_id TEXT COLLATE "C" NOT NULL,
    name               TEXT COLLATE "C" NOT NULL,
    description        TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    CONSTRAINT scopes_pkey PRIMARY KEY (id),
    CONSTRAINT scopes_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT scopes_resource_server_id_fkey FOREIGN KEY (resource_server_id)
        REFERENCES resource_servers (id) ON DELETE CASCADE,
    CONSTRAINT scopes_resource_server_id_name_key UNIQUE (resource_server_id, name)
);
CREATE INDEX scopes_environment_id_idx ON scopes (environment_id);
COMMENT ON TABLE scopes IS 'Scopes a resource server defines.';

CREATE TABLE client_grants (
    id                 TEXT COLLATE "C" NOT NULL,
    environment_id     TEXT COLLATE "C" NOT NULL,
    client_id          TEXT COLLATE "C" NOT NULL,
    resource_server_id TEXT COLLATE "C" NOT NULL,
    allowed_scopes     TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    CONSTRAINT client_grants_pkey PRIMARY KEY (id),
    CONSTRAINT client_grants_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT client_grants_client_id_fkey FOREIGN KEY (client_id)
        REFERENCES clients (id) ON DELETE CASCADE,
    CONSTRAINT client_grants_resource_server_id_fkey FOREIGN KEY (resource_server_id)
        REFERENCES resource_servers (id) ON DELETE CASCADE,
    CONSTRAINT client_grants_client_id_resource_server_id_key UNIQUE (client_id, resource_server_id)
);
CREATE INDEX client_grants_environment_id_idx ON client_grants (environment_id);
CREATE INDEX client_grants_resource_server_id_idx ON client_grants (resource_server_id);
COMMENT ON TABLE client_grants IS 'Which scopes of a resource server a client may get tokens for.';
COMMENT ON COLUMN client_grants.client_id IS 'The client record (clients.id), not its public client_id.';
COMMENT ON COLUMN client_grants.allowed_scopes IS 'JSON array of scope names (text).';

CREATE TABLE signing_keys (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    kid            TEXT COLLATE "C" NOT NULL,
    status         TEXT NOT NULL,
    is_primary     BOOLEAN NOT NULL,
    public_jwk     TEXT NOT NULL,
    private_key    BYTEA NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    deactivated_at TIMESTAMP,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (id),
    CONSTRAINT signing_keys_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT signing_keys_environment_id_kid_key UNIQUE (environment_id, kid),
    CONSTRAINT signing_keys_status_check CHECK (status IN ('active', 'inactive'))
);
COMMENT ON TABLE signing_keys IS 'RS256 key pairs of an environment; the private key is encrypted with the master key.';
COMMENT ON COLUMN signing_keys.public_jwk IS 'Public key as a JWK (JSON text).';
COMMENT ON COLUMN signing_keys.private_key IS 'Private key ciphertext (AES-GCM under the master key).';

CREATE TABLE events (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    event_type     TEXT NOT NULL,
    actor          TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    data           TEXT NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (id),
    CONSTRAINT events_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE
);
CREATE INDEX events_environment_id_id_idx ON events (environment_id, id);
COMMENT ON TABLE events IS 'Audit trail: one row per change, written in the change''s own transaction.';
COMMENT ON COLUMN events.data IS 'The changed resource as the API returns it (JSON text), never a secret.';
