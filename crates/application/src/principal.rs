//! Who calls, and the proof that they may.

use std::collections::HashSet;
use std::sync::Arc;

use portcullis_domain::EnvironmentId;
use portcullis_domain::event::SYSTEM_ACTOR;

/// A verified caller of the Management API: the client a token was issued
/// to, in one environment, with the token's scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    environment_id: EnvironmentId,
    client_id: Arc<str>,
    // Shared, so that a principal from the verified-token cache clones cheaply.
    scopes: Arc<HashSet<String>>,
}

/// The caller's token lacks a scope the operation needs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the token lacks the `{0}` scope")]
pub struct MissingScope(pub String);

impl Principal {
    /// Built by the token service after verifying a token.
    pub(crate) fn new(
        environment_id: EnvironmentId,
        client_id: String,
        scopes: HashSet<String>,
    ) -> Self {
        Self {
            environment_id,
            client_id: client_id.into(),
            scopes: Arc::new(scopes),
        }
    }

    /// The environment the token belongs to.
    #[must_use]
    pub fn environment_id(&self) -> EnvironmentId {
        self.environment_id
    }

    /// The client the token was issued to.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The same caller limited to the scopes its grant still allows: a token
    /// never reaches beyond the client's current grant.
    #[must_use]
    pub(crate) fn within(&self, allowed: &[String]) -> Self {
        if self.scopes.iter().all(|scope| allowed.contains(scope)) {
            return self.clone();
        }
        let scopes = self
            .scopes
            .iter()
            .filter(|scope| allowed.contains(scope))
            .cloned()
            .collect();
        Self {
            environment_id: self.environment_id,
            client_id: Arc::clone(&self.client_id),
            scopes: Arc::new(scopes),
        }
    }

    /// Whether the token carries `scope`.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// The proof services ask for: an [`Actor`] exists only for a caller that
    /// holds `scope`.
    ///
    /// # Errors
    /// [`MissingScope`] naming the scope.
    pub fn require(&self, scope: &str) -> Result<Actor, MissingScope> {
        if self.has_scope(scope) {
            Ok(Actor {
                environment_id: self.environment_id,
                name: self.client_id.to_string(),
                holds: Holds::Scopes(Arc::clone(&self.scopes)),
            })
        } else {
            Err(MissingScope(scope.to_owned()))
        }
    }
}

/// Someone allowed to act in an environment: a caller whose scope was
/// checked, or the server itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    environment_id: EnvironmentId,
    name: String,
    holds: Holds,
}

/// The Management API scopes an actor holds: what it may hand on to a
/// client (a caller never grants a scope it does not hold itself).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Holds {
    /// The server itself: every scope.
    Everything,
    /// A caller's token scopes.
    Scopes(Arc<HashSet<String>>),
}

impl Actor {
    /// The server itself (start-up, CLI), recorded as `system`.
    #[must_use]
    pub fn system(environment_id: EnvironmentId) -> Self {
        Self {
            environment_id,
            name: SYSTEM_ACTOR.to_owned(),
            holds: Holds::Everything,
        }
    }

    /// An OAuth client acting on its own behalf (revoking its tokens),
    /// recorded by its `client_id`.
    #[must_use]
    pub(crate) fn client(environment_id: EnvironmentId, client_id: &str) -> Self {
        Self {
            environment_id,
            name: client_id.to_owned(),
            holds: Holds::Scopes(Arc::default()),
        }
    }

    /// Whether the actor holds the Management API scope `scope` (the
    /// server itself holds every scope).
    #[must_use]
    pub fn holds(&self, scope: &str) -> bool {
        match &self.holds {
            Holds::Everything => true,
            Holds::Scopes(scopes) => scopes.contains(scope),
        }
    }

    /// The environment acted in.
    #[must_use]
    pub fn environment_id(&self) -> EnvironmentId {
        self.environment_id
    }

    /// Recorded in audit events.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_exists_only_for_a_held_scope() {
        let env = EnvironmentId::from_ulid(ulid::Ulid::nil());
        let principal = Principal::new(env, "cli".into(), HashSet::from(["users:read".to_owned()]));
        let actor = principal.require("users:read").unwrap();
        assert_eq!(actor.name(), "cli");
        assert!(actor.holds("users:read"));
        assert!(!actor.holds("users:write"));
        assert!(Actor::system(env).holds("users:write"));
        assert_eq!(
            principal.require("users:write"),
            Err(MissingScope("users:write".into()))
        );
    }
}
