-- Actions (operator-written JavaScript run on a trigger) and the record of
-- their runs. Same conventions as the foundation: ULIDs as text with the
-- "C" collation, `timestamp` holding UTC, constraint names spelled out.

CREATE TABLE actions (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    name           TEXT NOT NULL,
    "trigger"      TEXT COLLATE "C" NOT NULL,
    code           TEXT NOT NULL,
    enabled        BOOLEAN NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT actions_pkey PRIMARY KEY (id),
    CONSTRAINT actions_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    -- One action per trigger per environment (409); also the token path's lookup.
    CONSTRAINT actions_environment_id_trigger_key UNIQUE (environment_id, "trigger"),
    CONSTRAINT actions_trigger_check CHECK ("trigger" IN ('pre_token', 'post_login')),
    CONSTRAINT actions_code_check CHECK (octet_length(code) <= 65536)
);
-- Keyset listing in creation (id) order.
CREATE INDEX actions_environment_id_id_idx ON actions (environment_id, id);
COMMENT ON TABLE actions IS 'JavaScript actions of an environment, one per trigger.';
COMMENT ON COLUMN actions.code IS 'ES module source (at most 64 KiB); its default export runs.';
COMMENT ON COLUMN actions.updated_at IS 'Also the version of the code: compiled code is cached under (id, updated_at).';

CREATE TABLE action_executions (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    action_id      TEXT COLLATE "C" NOT NULL,
    outcome        TEXT COLLATE "C" NOT NULL,
    duration_ms    INTEGER NOT NULL,
    error          TEXT,
    executed_at    TIMESTAMP NOT NULL,
    CONSTRAINT action_executions_pkey PRIMARY KEY (id),
    CONSTRAINT action_executions_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT action_executions_action_id_fkey FOREIGN KEY (action_id)
        REFERENCES actions (id) ON DELETE CASCADE,
    CONSTRAINT action_executions_outcome_check CHECK (outcome IN ('ok', 'error', 'timeout', 'memory')),
    CONSTRAINT action_executions_duration_ms_check CHECK (duration_ms >= 0)
);
-- Listing and pruning an action's runs by id (run order).
CREATE INDEX action_executions_action_id_id_idx ON action_executions (action_id, id);
COMMENT ON TABLE action_executions IS 'Recent runs of actions (the most recent N per action are kept).';
COMMENT ON COLUMN action_executions.error IS 'What went wrong, or on ok what was ignored (reserved claims); never a secret.';

-- What a pre_token action added to an opaque token, shown by introspection.
ALTER TABLE access_tokens ADD COLUMN custom_claims TEXT;
