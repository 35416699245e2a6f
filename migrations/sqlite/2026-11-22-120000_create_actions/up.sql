-- SQLite twin of migrations/postgres/2026-11-22-120000_create_actions:
-- same tables, columns and constraint names (see that file for comments).

CREATE TABLE actions (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    "trigger"      TEXT NOT NULL,
    code           TEXT NOT NULL,
    enabled        BOOLEAN NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT actions_pkey PRIMARY KEY (id),
    CONSTRAINT actions_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE,
    CONSTRAINT actions_environment_id_trigger_key UNIQUE (environment_id, "trigger"),
    CONSTRAINT actions_trigger_check CHECK ("trigger" IN ('pre_token', 'post_login')),
    CONSTRAINT actions_code_check CHECK (length(CAST(code AS BLOB)) <= 65536)
);
CREATE INDEX actions_environment_id_id_idx ON actions (environment_id, id);

CREATE TABLE action_executions (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    action_id      TEXT NOT NULL,
    outcome        TEXT NOT NULL,
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
CREATE INDEX action_executions_action_id_id_idx ON action_executions (action_id, id);

-- What a pre_token action added to an opaque token, shown by introspection.
ALTER TABLE access_tokens ADD COLUMN custom_claims TEXT;
