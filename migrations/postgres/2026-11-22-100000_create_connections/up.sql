-- Identity provider connections (social and enterprise SSO). Same
-- conventions as the foundation: ULIDs as text with the "C" collation,
-- `timestamp` holding UTC, constraint names spelled out. The provider's
-- client secret is stored only as ciphertext, as signing_keys.private_key.

CREATE TABLE connections (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    strategy       TEXT COLLATE "C" NOT NULL,
    display_name   TEXT NOT NULL,
    client_id      TEXT COLLATE "C" NOT NULL,
    client_secret  BYTEA,
    scopes         TEXT COLLATE "C" NOT NULL,
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
-- Keyset listing in creation (id) order.
CREATE INDEX connections_environment_id_id_idx ON connections (environment_id, id);
COMMENT ON TABLE connections IS 'Identity provider connections of an environment.';
COMMENT ON COLUMN connections.strategy IS 'Provider protocol; fixed after creation.';
COMMENT ON COLUMN connections.client_secret IS 'Provider client secret ciphertext (AES-GCM under the master key); NULL when not set.';
COMMENT ON COLUMN connections.scopes IS 'Space-separated scope tokens, normalized.';
COMMENT ON COLUMN connections.discovery_url IS 'OpenID Connect discovery URL (https); required for auth0 and oidc.';
