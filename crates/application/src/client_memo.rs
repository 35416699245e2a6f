//! Clients with their grants, remembered for the token endpoint so that
//! issuing a token reads no store on the hot path. Every use case that
//! changes a client, its secret, a grant, a resource server or a scope calls
//! [`ClientMemo::forget`] for the environment after its transaction commits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use portcullis_domain::oauth::{Client, ClientGrant, ResourceServer};
use portcullis_domain::{EnvironmentId, Timestamp};

/// (environment, public client id, audience).
type Key = (EnvironmentId, Box<str>, Box<str>);

/// A client with the resource server and the grant read for one audience.
#[derive(Debug, Clone)]
pub struct ClientTarget {
    /// The client.
    pub client: Client,
    /// The resource server (the audience).
    pub server: ResourceServer,
    /// The client's grant for it.
    pub grant: ClientGrant,
}

struct Entry {
    target: Arc<ClientTarget>,
    loaded_at: Timestamp,
}

/// Entries remembered at most; the memo is emptied when full.
const CAPACITY: usize = 10_000;

/// The memo; shared (`Arc`) by the token service and the use cases that
/// invalidate it.
pub struct ClientMemo {
    ttl_seconds: i64,
    entries: RwLock<HashMap<Key, Entry>>,
    /// Bumped by every [`ClientMemo::forget`]: a load that started before an
    /// invalidation is not remembered.
    generation: AtomicU64,
}

impl std::fmt::Debug for ClientMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMemo")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

impl ClientMemo {
    /// A memo keeping entries for `ttl_seconds` (0 disables it).
    pub fn new(ttl_seconds: i64) -> Self {
        Self {
            ttl_seconds,
            entries: RwLock::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// What a load must hand back to [`ClientMemo::remember`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The remembered target, if fresh at `now`.
    pub fn get(
        &self,
        environment: EnvironmentId,
        client_id: &str,
        audience: &str,
        now: Timestamp,
    ) -> Option<Arc<ClientTarget>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let key: Key = (environment, client_id.into(), audience.into());
        entries
            .get(&key)
            .filter(|e| e.loaded_at.plus_seconds(self.ttl_seconds) > now)
            .map(|e| Arc::clone(&e.target))
    }

    /// Remembers a target loaded at `now`, unless the memo is disabled or an
    /// invalidation happened since `generation` was read; hands it back
    /// shared either way.
    pub fn remember(
        &self,
        generation: u64,
        target: ClientTarget,
        now: Timestamp,
    ) -> Arc<ClientTarget> {
        let target = Arc::new(target);
        if self.ttl_seconds <= 0 {
            return target;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the write lock, which `forget` also takes.
        if self.generation() != generation {
            return target;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        let key: Key = (
            target.client.environment_id,
            target.client.client_id.as_str().into(),
            target.server.identifier.as_str().into(),
        );
        entries.insert(
            key,
            Entry {
                target: Arc::clone(&target),
                loaded_at: now,
            },
        );
        target
    }

    /// Forgets every entry of an environment.
    pub fn forget(&self, environment: EnvironmentId) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|(env, _, _), _| *env != environment);
    }

    /// Forgets every entry.
    pub fn forget_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use portcullis_domain::oauth::{ClientType, GrantType, TokenFormat, TokenLifetime};
    use portcullis_domain::{ClientGrantId, ClientId, ResourceServerId};

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_micros(seconds * 1_000_000).unwrap()
    }

    fn target(env: EnvironmentId) -> ClientTarget {
        let client = Client {
            id: ClientId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            environment_id: env,
            client_id: "machine".into(),
            name: "Machine".into(),
            client_type: ClientType::Confidential,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            token_format: TokenFormat::Jwt,
            first_party: false,
            secret_digest: None,
            created_at: at(0),
            updated_at: at(0),
        };
        let server = ResourceServer {
            id: ResourceServerId::from_ulid(ulid::Ulid::from_parts(1, 2)),
            environment_id: env,
            name: "API".into(),
            identifier: "https://api.example".into(),
            token_lifetime: TokenLifetime::DEFAULT,
            system: false,
            created_at: at(0),
            updated_at: at(0),
        };
        let grant = ClientGrant {
            id: ClientGrantId::from_ulid(ulid::Ulid::from_parts(1, 3)),
            environment_id: env,
            client_id: client.id,
            resource_server_id: server.id,
            allowed_scopes: vec![],
            created_at: at(0),
        };
        ClientTarget {
            client,
            server,
            grant,
        }
    }

    #[test]
    fn entries_expire_after_the_ttl_and_are_forgotten_per_environment() {
        let (a, b) = (
            EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 1)),
            EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 2)),
        );
        let memo = ClientMemo::new(30);
        memo.remember(memo.generation(), target(a), at(100));
        memo.remember(memo.generation(), target(b), at(100));
        let api = "https://api.example";
        assert!(memo.get(a, "machine", api, at(129)).is_some());
        assert!(memo.get(a, "machine", api, at(130)).is_none(), "expired");
        assert!(memo.get(a, "other", api, at(101)).is_none());

        memo.forget(a);
        assert!(memo.get(a, "machine", api, at(101)).is_none());
        assert!(
            memo.get(b, "machine", api, at(101)).is_some(),
            "other environments kept"
        );
    }

    #[test]
    fn a_load_overtaken_by_an_invalidation_is_not_remembered() {
        let env = EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 1));
        let memo = ClientMemo::new(30);
        let before_load = memo.generation();
        memo.forget(env);
        memo.remember(before_load, target(env), at(100));
        assert!(
            memo.get(env, "machine", "https://api.example", at(101))
                .is_none()
        );
    }

    #[test]
    fn a_zero_ttl_disables_the_memo() {
        let env = EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 1));
        let memo = ClientMemo::new(0);
        memo.remember(memo.generation(), target(env), at(100));
        assert!(
            memo.get(env, "machine", "https://api.example", at(100))
                .is_none()
        );
    }
}
