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

/// A part of what each server node keeps in memory, made stale by some
/// changes. Every node forgets an environment's part when another node
/// announces such a change (see `docs/operations.md`, "Several nodes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CachedArea {
    /// Signing keys: the signer of the primary key and the verifiers.
    Keys,
    /// Clients, their grants, and the resource servers and scopes they reach.
    Clients,
    /// Actions run on triggers.
    Actions,
}

impl CachedArea {
    /// Every area.
    pub const ALL: [Self; 3] = [Self::Keys, Self::Clients, Self::Actions];

    /// The area's name in change announcements.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keys => "keys",
            Self::Clients => "clients",
            Self::Actions => "actions",
        }
    }

    /// The area named `name`, if any.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|area| area.as_str() == name)
    }
}

impl AuditEvent {
    /// The area this change makes stale on the nodes that did not make it,
    /// from the changed resource's type; `None` for resources no node keeps
    /// in memory (users, roles, sessions...).
    #[must_use]
    pub fn cached_area(&self) -> Option<CachedArea> {
        match self.resource_type.as_str() {
            "signing_key" => Some(CachedArea::Keys),
            "client" | "client_grant" | "resource_server" | "scope" => Some(CachedArea::Clients),
            "action" => Some(CachedArea::Actions),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(resource_type: &str) -> AuditEvent {
        AuditEvent {
            id: EventId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            environment_id: EnvironmentId::from_ulid(ulid::Ulid::from_parts(2, 2)),
            event_type: format!("{resource_type}.updated"),
            actor: SYSTEM_ACTOR.into(),
            resource_type: resource_type.into(),
            resource_id: "x".into(),
            data: "{}".into(),
            occurred_at: Timestamp::from_unix_micros(0).expect("epoch"),
        }
    }

    #[test]
    fn changes_to_cached_resources_name_their_area() {
        assert_eq!(event("signing_key").cached_area(), Some(CachedArea::Keys));
        for kind in ["client", "client_grant", "resource_server", "scope"] {
            assert_eq!(
                event(kind).cached_area(),
                Some(CachedArea::Clients),
                "{kind}"
            );
        }
        assert_eq!(event("action").cached_area(), Some(CachedArea::Actions));
        for kind in ["user", "role", "session", "webhook", "membership"] {
            assert_eq!(event(kind).cached_area(), None, "{kind}");
        }
    }

    #[test]
    fn area_names_round_trip() {
        for area in CachedArea::ALL {
            assert_eq!(CachedArea::parse(area.as_str()), Some(area));
        }
        assert_eq!(CachedArea::parse("users"), None);
    }
}
