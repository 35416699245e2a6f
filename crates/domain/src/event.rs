//! Audit events: one per change, written in the change's own transaction.

use crate::{EnvironmentId, EventId, Timestamp};

/// What happened to which resource, and who did it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Identity (ULID order is the order of occurrence).
    pub id: EventId,
    /// The environment the change happened in.
    pub environment_id: EnvironmentId,
    /// `resource.verb`, e.g. `user.created`.
    pub event_type: String,
    /// Who made the change: a client's `client_id`, or `system` for the CLI and start-up.
    pub actor: String,
    /// The JSON:API `type` of the changed resource.
    pub resource_type: String,
    /// The id of the changed resource.
    pub resource_id: String,
    /// The resource object as the API returns it (JSON text), never a secret.
    pub data: String,
    /// When it happened.
    pub occurred_at: Timestamp,
}

/// The actor recorded for changes made by the server itself or its CLI.
pub const SYSTEM_ACTOR: &str = "system";
