-- Webhooks, their subscriptions, and the transactional outbox of their
-- deliveries. Same conventions as the foundation (ULIDs as text with the
-- "C" collation, UTC `timestamp`, constraint names spelled out).
--
-- The outbox: appending an event inserts, in the same transaction, one
-- `webhook_deliveries` row per active webhook of the environment subscribed
-- to the event's type. A worker claims due rows (`FOR UPDATE SKIP LOCKED`,
-- then pushes `next_attempt_at` forward as a lease), sends them outside any
-- transaction and records each attempt in `webhook_delivery_attempts`.

CREATE TABLE webhooks (
    id             TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    name           TEXT NOT NULL,
    url            TEXT NOT NULL,
    active         BOOLEAN NOT NULL,
    signing_secret BYTEA NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT webhooks_pkey PRIMARY KEY (id),
    CONSTRAINT webhooks_environment_id_fkey FOREIGN KEY (environment_id)
        REFERENCES environments (id) ON DELETE CASCADE
);
CREATE INDEX webhooks_environment_id_id_idx ON webhooks (environment_id, id);
COMMENT ON TABLE webhooks IS 'HTTP endpoints that receive an environment''s events.';
COMMENT ON COLUMN webhooks.signing_secret IS 'Standard Webhooks secret (whsec_...) ciphertext (AES-GCM under the master key).';

CREATE TABLE webhook_events (
    webhook_id TEXT COLLATE "C" NOT NULL,
    event_type TEXT COLLATE "C" NOT NULL,
    position   INTEGER NOT NULL,
    CONSTRAINT webhook_events_pkey PRIMARY KEY (webhook_id, event_type),
    CONSTRAINT webhook_events_webhook_id_fkey FOREIGN KEY (webhook_id)
        REFERENCES webhooks (id) ON DELETE CASCADE
);
-- The fan-out looks subscriptions up by event type.
CREATE INDEX webhook_events_event_type_idx ON webhook_events (event_type, webhook_id);
COMMENT ON TABLE webhook_events IS 'Event types a webhook subscribes to, in the order given.';

CREATE TABLE webhook_deliveries (
    webhook_id      TEXT COLLATE "C" NOT NULL,
    event_id        TEXT COLLATE "C" NOT NULL,
    status          TEXT COLLATE "C" NOT NULL,
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
COMMENT ON TABLE webhook_deliveries IS 'Transactional outbox: one row per event and subscribed webhook.';
COMMENT ON COLUMN webhook_deliveries.next_attempt_at IS 'When the next attempt is due; while a worker sends, the end of its lease.';

CREATE TABLE webhook_delivery_attempts (
    id           TEXT COLLATE "C" NOT NULL,
    webhook_id   TEXT COLLATE "C" NOT NULL,
    event_id     TEXT COLLATE "C" NOT NULL,
    attempt      INTEGER NOT NULL,
    status_code  INTEGER,
    duration_ms  BIGINT NOT NULL,
    error        TEXT,
    outcome      TEXT COLLATE "C" NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    CONSTRAINT webhook_delivery_attempts_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_delivery_attempts_webhook_id_fkey FOREIGN KEY (webhook_id)
        REFERENCES webhooks (id) ON DELETE CASCADE,
    CONSTRAINT webhook_delivery_attempts_outcome_check CHECK (outcome IN ('succeeded', 'retrying', 'failed'))
);
CREATE INDEX webhook_delivery_attempts_webhook_id_id_idx ON webhook_delivery_attempts (webhook_id, id);
COMMENT ON TABLE webhook_delivery_attempts IS 'Every delivery attempt with its status code, duration and error.';
