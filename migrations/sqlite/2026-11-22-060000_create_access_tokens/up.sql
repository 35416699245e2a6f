-- Opaque access tokens: only the SHA-256 digest of the token string is kept.
-- A token dies with its client and with its resource server (cascades).
-- Same conventions as the foundation.

CREATE TABLE access_tokens (
    id                 TEXT NOT NULL,
    environment_id     TEXT NOT NULL,
    client             TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    resource_server_id TEXT NOT NULL,
    audience           TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    digest             TEXT NOT NULL,
    issued_at          TIMESTAMP NOT NULL,
    expires_at         TIMESTAMP NOT NULL,
    revoked_at         TIMESTAMP,
    CONSTRAINT access_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT access_tokens_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT access_tokens_client_fkey FOREIGN KEY (client)
        REFERENCES clients (id) ON DELETE CASCADE,
    CONSTRAINT access_tokens_resource_server_id_fkey FOREIGN KEY (resource_server_id)
        REFERENCES resource_servers (id) ON DELETE CASCADE,
    CONSTRAINT access_tokens_digest_key UNIQUE (digest)
);
-- The cascades look tokens up by client and by resource server.
CREATE INDEX access_tokens_client_idx ON access_tokens (client);
CREATE INDEX access_tokens_resource_server_id_idx ON access_tokens (resource_server_id);
-- Purging expired tokens scans by expiry.
CREATE INDEX access_tokens_expires_at_idx ON access_tokens (expires_at);
