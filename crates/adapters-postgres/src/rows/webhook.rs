//! `webhooks`, `webhook_events`, `webhook_deliveries` and
//! `webhook_delivery_attempts` rows.

use diesel::prelude::*;
use portcullis_domain::webhook::{
    DeliveryAttempt, DeliveryOutcome, EncryptedSigningSecret, Webhook, WebhookName, WebhookUrl,
};
use portcullis_domain::{DeliveryAttemptId, EnvironmentId, EventId, Timestamp, WebhookId};
use portcullis_ports::store::{ClaimedDelivery, StoreError};
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::{webhook_deliveries, webhook_delivery_attempts, webhook_events, webhooks};

/// A stored webhook (its subscriptions are separate rows).
#[derive(Queryable, Selectable)]
#[diesel(table_name = webhooks)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct WebhookRow {
    pub(crate) id: String,
    environment_id: String,
    name: String,
    url: String,
    active: bool,
    signing_secret: Vec<u8>,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl WebhookRow {
    /// The domain entity, with `events` read in position order.
    pub(crate) fn into_domain(self, events: Vec<String>) -> Result<Webhook, StoreError> {
        const T: &str = "webhooks";
        let parts = Webhook {
            id: parse_id(T, "id", &self.id, WebhookId::parse)?,
            environment_id: parse_id(
                T,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            name: WebhookName::parse(&self.name).map_err(|e| corrupt(T, "name", e))?,
            url: WebhookUrl::from_stored(&self.url).map_err(|e| corrupt(T, "url", e))?,
            events,
            active: self.active,
            signing_secret: EncryptedSigningSecret::new(self.signing_secret),
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        Webhook::from_parts(parts).map_err(|e| corrupt(T, "updated_at", e))
    }
}

/// A webhook to insert.
#[derive(Insertable)]
#[diesel(table_name = webhooks)]
pub(crate) struct NewWebhookRow<'a> {
    id: String,
    environment_id: String,
    #[diesel(embed)]
    fields: WebhookChangeset<'a>,
    created_at: PrimitiveDateTime,
}

impl<'a> NewWebhookRow<'a> {
    /// The row of `webhook`.
    pub(crate) fn from_domain(webhook: &'a Webhook) -> Self {
        Self {
            id: webhook.id.to_string(),
            environment_id: webhook.environment_id.to_string(),
            fields: WebhookChangeset::from_domain(webhook),
            created_at: webhook.created_at.as_primitive(),
        }
    }
}

/// Every mutable column of a webhook.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = webhooks)]
pub(crate) struct WebhookChangeset<'a> {
    name: &'a str,
    url: &'a str,
    active: bool,
    signing_secret: &'a [u8],
    updated_at: PrimitiveDateTime,
}

impl<'a> WebhookChangeset<'a> {
    /// The mutable state of `webhook`.
    pub(crate) fn from_domain(webhook: &'a Webhook) -> Self {
        Self {
            name: webhook.name.as_str(),
            url: webhook.url.as_str(),
            active: webhook.active,
            signing_secret: webhook.signing_secret.as_bytes(),
            updated_at: webhook.updated_at.as_primitive(),
        }
    }
}

/// One subscription.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_events)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct WebhookEventRow {
    pub(crate) webhook_id: String,
    pub(crate) event_type: String,
    position: i32,
}

impl WebhookEventRow {
    /// The subscription rows of `webhook`, in list order.
    pub(crate) fn of(webhook: &Webhook) -> Vec<Self> {
        webhook
            .events
            .iter()
            .enumerate()
            .map(|(position, event_type)| Self {
                webhook_id: webhook.id.to_string(),
                event_type: event_type.clone(),
                position: i32::try_from(position).unwrap_or(i32::MAX),
            })
            .collect()
    }
}

/// A delivery to queue.
#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub(crate) struct NewDeliveryRow<'a> {
    pub(crate) webhook_id: String,
    pub(crate) event_id: &'a str,
    pub(crate) status: &'static str,
    pub(crate) attempts: i32,
    pub(crate) next_attempt_at: PrimitiveDateTime,
    pub(crate) created_at: PrimitiveDateTime,
}

/// A due delivery joined with its webhook and event.
#[derive(Queryable)]
pub(crate) struct ClaimRow {
    pub(crate) webhook_id: String,
    pub(crate) event_id: String,
    environment_id: String,
    attempts: i32,
    created_at: PrimitiveDateTime,
    url: String,
    signing_secret: Vec<u8>,
    event_type: String,
    data: String,
    occurred_at: PrimitiveDateTime,
}

impl ClaimRow {
    /// The claimed delivery (its attempt number is one past those made).
    pub(crate) fn into_claimed(self) -> Result<ClaimedDelivery, StoreError> {
        const T: &str = "webhook_deliveries";
        Ok(ClaimedDelivery {
            webhook_id: parse_id(T, "webhook_id", &self.webhook_id, WebhookId::parse)?,
            event_id: parse_id(T, "event_id", &self.event_id, EventId::parse)?,
            environment_id: parse_id(
                "webhooks",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            attempt: u32::try_from(self.attempts)
                .map_err(|e| corrupt(T, "attempts", e))?
                .saturating_add(1),
            url: self.url,
            signing_secret: EncryptedSigningSecret::new(self.signing_secret),
            event_type: self.event_type,
            data: self.data,
            occurred_at: Timestamp::from_primitive(self.occurred_at),
            queued_at: Timestamp::from_primitive(self.created_at),
        })
    }
}

/// A stored attempt.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_delivery_attempts)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct AttemptRow {
    id: String,
    webhook_id: String,
    event_id: String,
    attempt: i32,
    status_code: Option<i32>,
    duration_ms: i64,
    error: Option<String>,
    outcome: String,
    attempted_at: PrimitiveDateTime,
}

impl AttemptRow {
    /// The row of `attempt`.
    pub(crate) fn from_domain(attempt: &DeliveryAttempt) -> Self {
        Self {
            id: attempt.id.to_string(),
            webhook_id: attempt.webhook_id.to_string(),
            event_id: attempt.event_id.to_string(),
            attempt: i32::try_from(attempt.attempt).unwrap_or(i32::MAX),
            status_code: attempt.status_code.map(i32::from),
            duration_ms: i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
            error: attempt.error.clone(),
            outcome: attempt.outcome.as_str().to_owned(),
            attempted_at: attempt.attempted_at.as_primitive(),
        }
    }

    /// The domain value.
    pub(crate) fn into_domain(self) -> Result<DeliveryAttempt, StoreError> {
        const T: &str = "webhook_delivery_attempts";
        Ok(DeliveryAttempt {
            id: parse_id(T, "id", &self.id, DeliveryAttemptId::parse)?,
            webhook_id: parse_id(T, "webhook_id", &self.webhook_id, WebhookId::parse)?,
            event_id: parse_id(T, "event_id", &self.event_id, EventId::parse)?,
            attempt: u32::try_from(self.attempt).map_err(|e| corrupt(T, "attempt", e))?,
            status_code: self
                .status_code
                .map(u16::try_from)
                .transpose()
                .map_err(|e| corrupt(T, "status_code", e))?,
            duration_ms: u64::try_from(self.duration_ms)
                .map_err(|e| corrupt(T, "duration_ms", e))?,
            error: self.error,
            outcome: DeliveryOutcome::parse(&self.outcome).map_err(|e| corrupt(T, "outcome", e))?,
            attempted_at: Timestamp::from_primitive(self.attempted_at),
        })
    }
}
