//! What this node keeps in memory, and how other nodes' changes reach it.
//!
//! The key cache, the client memo and the action memo are per node. A change
//! made through this node forgets the environment's entries itself, after
//! its transaction commits. A change made through another node on the same
//! PostgreSQL database is announced by the store on commit; the store's
//! listener hands it to [`NodeCaches`] (a [`ChangeSink`]), which forgets the
//! same entries here. Each cache's time-to-live stays as the backstop.

use std::sync::Arc;

use portcullis_domain::EnvironmentId;
use portcullis_domain::event::CachedArea;
use portcullis_ports::changes::ChangeSink;
use portcullis_ports::store::UnitOfWork;

use crate::actions::ActionMemo;
use crate::client_memo::ClientMemo;
use crate::keys::KeyCache;

/// The node's caches, forgotten on announced changes.
pub struct NodeCaches<U> {
    keys: Arc<KeyCache<U>>,
    clients: Arc<ClientMemo>,
    actions: Arc<ActionMemo>,
}

impl<U> std::fmt::Debug for NodeCaches<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCaches").finish_non_exhaustive()
    }
}

impl<U> NodeCaches<U> {
    /// The caches the services of this node share.
    pub fn new(keys: Arc<KeyCache<U>>, clients: Arc<ClientMemo>, actions: Arc<ActionMemo>) -> Self {
        Self {
            keys,
            clients,
            actions,
        }
    }
}

impl<U: UnitOfWork> ChangeSink for NodeCaches<U> {
    fn changed(&self, environment: EnvironmentId, area: CachedArea) {
        tracing::debug!(%environment, area = area.as_str(), "announced change: forgetting");
        match area {
            CachedArea::Keys => self.keys.invalidate(environment),
            CachedArea::Clients => self.clients.forget(environment),
            CachedArea::Actions => self.actions.forget(environment),
        }
    }

    fn missed(&self) {
        tracing::info!("change announcements may have been missed: forgetting every cache");
        self.keys.invalidate_all();
        self.clients.forget_all();
        self.actions.forget_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use portcullis_ports::crypto::MockJwtKeys;
    use portcullis_ports::testing::{InlineUow, MockTx};

    use super::*;
    use crate::testing::ports_with_jwt;

    fn env(n: u64) -> EnvironmentId {
        EnvironmentId::from_ulid(ulid::Ulid::from_parts(n, n.into()))
    }

    fn caches(loads: &Arc<AtomicUsize>) -> NodeCaches<InlineUow> {
        let mut tx = MockTx::new();
        let counted = Arc::clone(loads);
        tx.expect_list_active_signing_keys().returning(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        });
        let ports = ports_with_jwt(InlineUow::new(tx), MockJwtKeys::new());
        NodeCaches::new(
            Arc::new(KeyCache::new(ports, 3600)),
            Arc::new(ClientMemo::new(3600)),
            Arc::new(ActionMemo::new(3600)),
        )
    }

    #[tokio::test]
    async fn an_announced_key_change_reloads_that_environments_keys_only() {
        let loads = Arc::new(AtomicUsize::new(0));
        let caches = caches(&loads);
        caches.keys.keys(env(1)).await.unwrap();
        caches.keys.keys(env(2)).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2);

        caches.changed(env(1), CachedArea::Keys);
        caches.keys.keys(env(1)).await.unwrap();
        caches.keys.keys(env(2)).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 3, "only env 1 is read again");
    }

    #[tokio::test]
    async fn each_area_forgets_its_own_cache() {
        let loads = Arc::new(AtomicUsize::new(0));
        let caches = caches(&loads);
        caches.keys.keys(env(1)).await.unwrap();
        let (clients, actions) = (caches.clients.generation(), caches.actions.generation());

        caches.changed(env(1), CachedArea::Clients);
        assert_eq!(caches.clients.generation(), clients + 1);
        assert_eq!(caches.actions.generation(), actions);
        caches.changed(env(1), CachedArea::Actions);
        assert_eq!(caches.actions.generation(), actions + 1);
        caches.keys.keys(env(1)).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1, "keys untouched");
    }

    #[tokio::test]
    async fn missed_announcements_forget_everything() {
        let loads = Arc::new(AtomicUsize::new(0));
        let caches = caches(&loads);
        caches.keys.keys(env(1)).await.unwrap();
        caches.keys.keys(env(2)).await.unwrap();
        let (clients, actions) = (caches.clients.generation(), caches.actions.generation());

        caches.missed();
        caches.keys.keys(env(1)).await.unwrap();
        caches.keys.keys(env(2)).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 4);
        assert!(caches.clients.generation() > clients);
        assert!(caches.actions.generation() > actions);
    }
}
