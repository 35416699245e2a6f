//! The driven ports every service shares, bundled so that services stay
//! generic over the unit of work alone.

use std::sync::Arc;

use portcullis_domain::EventId;
use portcullis_domain::event::AuditEvent;
use portcullis_ports::crypto::{JwtKeys, PasswordHasher, SecretCipher, SecretGenerator};
use portcullis_ports::store::{StoreError, Tx, UnitOfWork};
use portcullis_ports::{Clock, IdGen};

use crate::principal::Actor;

/// The outside world as the core sees it.
pub struct Ports<U> {
    /// The store.
    pub store: Arc<U>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Generated secrets and their digests.
    pub secrets: Arc<dyn SecretGenerator>,
    /// Encryption at rest.
    pub cipher: Arc<dyn SecretCipher>,
    /// JWT keys.
    pub jwt: Arc<dyn JwtKeys>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The id source.
    pub ids: Arc<dyn IdGen>,
}

impl<U> Clone for Ports<U> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            hasher: Arc::clone(&self.hasher),
            secrets: Arc::clone(&self.secrets),
            cipher: Arc::clone(&self.cipher),
            jwt: Arc::clone(&self.jwt),
            clock: Arc::clone(&self.clock),
            ids: Arc::clone(&self.ids),
        }
    }
}

impl<U> std::fmt::Debug for Ports<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> Ports<U> {
    /// An audit event for `resource` (a JSON:API resource object) changed by `actor`.
    pub(crate) fn event(
        &self,
        actor: &Actor,
        event_type: &str,
        resource: &serde_json::Value,
    ) -> AuditEvent {
        let field = |name: &str| {
            resource
                .get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        AuditEvent {
            id: EventId::from_ulid(self.ids.next_ulid()),
            environment_id: actor.environment_id(),
            event_type: event_type.to_owned(),
            actor: actor.name().to_owned(),
            resource_type: field("type"),
            resource_id: field("id"),
            data: resource.to_string(),
            occurred_at: self.clock.now(),
        }
    }

    /// Deletes one resource and records `event_type` with the resource as
    /// it was, in one transaction: `find` reads it (`None` is `not_found`),
    /// `delete` removes it (`false`, a concurrent delete, is `not_found`
    /// too), and `represent` renders the event's data.
    pub(crate) async fn delete_recorded<T, E>(
        &self,
        actor: &Actor,
        event_type: &'static str,
        find: impl FnOnce(&mut dyn Tx) -> Result<Option<T>, StoreError> + Send + 'static,
        delete: impl FnOnce(&mut dyn Tx) -> Result<bool, StoreError> + Send + 'static,
        represent: fn(&T) -> serde_json::Value,
        not_found: fn() -> E,
    ) -> Result<(), E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let ports = self.clone();
        let actor = actor.clone();
        self.store
            .transaction(move |tx| {
                let found = find(tx)?.ok_or_else(not_found)?;
                if !delete(tx)? {
                    return Err(not_found());
                }
                tx.append_event(&ports.event(&actor, event_type, &represent(&found)))?;
                Ok(())
            })
            .await
    }
}
