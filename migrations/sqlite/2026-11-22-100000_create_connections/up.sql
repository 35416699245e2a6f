-- SQLite twin of migrations/postgres/2026-11-22-100000_create_connections:
-- same table, columns and constraint names (see that file for comments).

CREATE TABLE connections (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    strategy       TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    client_secret  BLOB,
    scopes         TEXT NOT NULL,
    discovery_url  TEXT,
    enforce_sso    BOOLEAN NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT connections_pkey PRIMARY KEY (id),
    CONSTRAINT connections_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT connections_strategy_check CHECK (strategy IN ('google', 'microsoft',
        'github', 'facebook', 'discord', 'gitlab', 'slack', 'linkedin', 'bitbucket',
        'auth0', 'oidc')),
    CONSTRAINT connections_discovery_url_check CHECK (
        strategy NOT IN ('auth0', 'oidc') OR discovery_url IS NOT NULL)
);
CREATE INDEX connections_environment_id_id_idx ON connections (environment_id, id);
