-- SQLite twin of migrations/postgres/2026-11-22-130000_create_webhooks:
-- same tables, columns and constraint names (see that file for comments).

CREATE TABLE webhooks (
    id             TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    name           TEXT NOT NULL,
    url            TEXT NOT NULL,
    active         BOOLEAN NOT NULL,
    signing_secret BLOB NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT webhooks_pkey PRIMARY KEY (id),
    CONSTRAINT webhooks_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE
);
CREATE INDEX webhooks_environment_id_id_idx ON webhooks (environment_id, id);

CREATE TABLE webhook_events (
    webhook_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    position   INTEGER NOT NULL,
    CONSTRAINT webhook_events_pkey PRIMARY KEY (webhook_id, event_type),
    CONSTRAINT webhook_events_webhook_id_fkey FOREIGN KEY (webhook_id)
        REFERENCES webhooks (id) ON DELETE CASCADE
);
-- The fan-out looks subscriptions up by event type.
CREATE INDEX webhook_events_event_type_idx ON webhook_events (event_type, webhook_id);

CREATE TABLE webhook_deliveries (
    webhook_id      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (webhook_id, event_id),
    CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id)
        REFERENCES webhooks (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id)
        REFERENCES events (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'succeeded', 'failed'))
);
-- The worker's claim: pending rows by due time.
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

CREATE TABLE webhook_delivery_attempts (
    id           TEXT NOT NULL,
    webhook_id   TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    status_code  INTEGER,
    duration_ms  BIGINT NOT NULL,
    error        TEXT,
    outcome      TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    CONSTRAINT webhook_delivery_attempts_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_delivery_attempts_webhook_id_fkey FOREIGN KEY (webhook_id)
        REFERENCES webhooks (id) ON DELETE CASCADE,
    CONSTRAINT webhook_delivery_attempts_outcome_check CHECK (outcome IN ('succeeded', 'retrying', 'failed'))
);
CREATE INDEX webhook_delivery_attempts_webhook_id_id_idx ON webhook_delivery_attempts (webhook_id, id);
