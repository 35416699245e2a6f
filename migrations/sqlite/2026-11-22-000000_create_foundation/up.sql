-- SQLite twin of migrations/postgres/2026-11-22-000000_create_foundation:
-- same tables, columns and constraint names (see that file for comments).
-- SQLite has no COMMENT ON; timestamps are TIMESTAMP text written by diesel
-- ('YYYY-MM-DD HH:MM:SS.ffffff', UTC), booleans 0/1, ciphertext a BLOB.
-- Text compares byte-wise (BINARY), like the "C" collation on PostgreSQL.
-- Foreign keys need `PRAGMA foreign_keys = ON`, which the store sets on
-- every connection.

CREATE TABLE environments (
    id         TEXT NOT NULL,
    slug       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT environments_pkey PRIMARY KEY (id),
    CONSTRAINT environments_slug_key UNIQUE (slug)
);

CREATE TABLE users (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    email          TEXT NOT NULL,
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
CREATE INDEX users_environment_id_id_idx ON users (environment_id, id);

CREATE TABLE clients (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    client_id      TEXT NOT NULL,
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

CREATE TABLE resource_servers (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    identifier     TEXT NOT NULL,
    token_lifetime BIGINT NOT NULL,
    is_system      BOOLEAN NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT resource_servers_pkey PRIMARY KEY (id),
    CONSTRAINT resource_servers_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT resource_servers_environment_id_identifier_key UNIQUE (environment_id, identifier)
);

CREATE TABLE scopes (
    id                 TEXT NOT NULL,
    environment_id     TEXT NOT NULL,
    resource_server_id TEXT NOT NULL,
    name               TEXT NOT NULL,
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

CREATE TABLE client_grants (
    id                 TEXT NOT NULL,
    environment_id     TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    resource_server_id TEXT NOT NULL,
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

CREATE TABLE signing_keys (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    kid            TEXT NOT NULL,
    status         TEXT NOT NULL,
    is_primary     BOOLEAN NOT NULL,
    public_jwk     TEXT NOT NULL,
    private_key    BLOB NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    deactivated_at TIMESTAMP,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (id),
    CONSTRAINT signing_keys_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT signing_keys_environment_id_kid_key UNIQUE (environment_id, kid),
    CONSTRAINT signing_keys_status_check CHECK (status IN ('active', 'inactive'))
);

CREATE TABLE events (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
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
