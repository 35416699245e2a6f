//! The per-environment key cache: signers and verifiers parsed once, so that
//! neither issuing nor verifying a token reads the store or parses a key.
//!
//! Changes made through this process invalidate an environment's entry at
//! once. Changes made by another node on the same PostgreSQL database are
//! announced through the store and invalidate it within the listener's poll
//! interval (see [`crate::node_caches`]); without announcements (the CLI on
//! the embedded store) an entry expires after `ttl_seconds`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use portcullis_domain::EnvironmentId;
use portcullis_domain::Timestamp;
use portcullis_domain::signing_key::SigningKey;
use portcullis_ports::crypto::{CryptoError, JwtSigner, JwtVerifier};
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::Ports;

/// Why an environment's keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyCacheError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key could not be decrypted or parsed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// An environment's usable keys.
#[derive(Debug)]
pub struct EnvironmentKeys {
    loaded_at: Timestamp,
    /// Set by the one request that reloads this expired entry.
    refreshing: AtomicBool,
    primary: Option<Arc<dyn JwtSigner>>,
    verifiers: HashMap<String, Arc<dyn JwtVerifier>>,
    jwks: Value,
}

impl EnvironmentKeys {
    /// The signer of the primary key, if the environment has one.
    #[must_use]
    pub fn primary(&self) -> Option<&Arc<dyn JwtSigner>> {
        self.primary.as_ref()
    }

    /// The verifier of an active key.
    #[must_use]
    pub fn verifier(&self, kid: &str) -> Option<&Arc<dyn JwtVerifier>> {
        self.verifiers.get(kid)
    }

    /// The JWK Set (RFC 7517) of the active keys.
    #[must_use]
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

/// Cache of [`EnvironmentKeys`] per environment.
pub struct KeyCache<U> {
    ports: Ports<U>,
    ttl_seconds: i64,
    entries: RwLock<HashMap<EnvironmentId, Arc<EnvironmentKeys>>>,
    /// Bumped by every invalidation: a load that began before one must not
    /// put back the key set the invalidation removed.
    generation: AtomicU64,
}

impl<U> std::fmt::Debug for KeyCache<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> KeyCache<U> {
    /// A cache whose entries live `ttl_seconds` at most.
    pub fn new(ports: Ports<U>, ttl_seconds: i64) -> Self {
        Self {
            ports,
            ttl_seconds,
            entries: RwLock::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// The keys of `environment`, loading them if absent or expired.
    ///
    /// # Errors
    /// [`KeyCacheError`] when loading fails.
    pub async fn keys(
        &self,
        environment: EnvironmentId,
    ) -> Result<Arc<EnvironmentKeys>, KeyCacheError> {
        let now = self.ports.clock.now();
        let cached = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&environment)
            .cloned();
        if let Some(entry) = &cached {
            if entry.loaded_at.plus_seconds(self.ttl_seconds) > now {
                return Ok(Arc::clone(entry));
            }
            // Expired: one request reloads; the others go on with the expired
            // entry meanwhile instead of all reading the store at once.
            if entry.refreshing.swap(true, Ordering::AcqRel) {
                return Ok(Arc::clone(entry));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = match self.read_keys(environment, now).await {
            Ok(loaded) => Arc::new(loaded),
            Err(error) => {
                if let Some(entry) = &cached {
                    entry.refreshing.store(false, Ordering::Release);
                }
                return Err(error);
            }
        };
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) == generation {
            entries.insert(environment, Arc::clone(&loaded));
        }
        Ok(loaded)
    }

    async fn read_keys(
        &self,
        environment: EnvironmentId,
        now: Timestamp,
    ) -> Result<EnvironmentKeys, KeyCacheError> {
        let active = self
            .ports
            .store
            .read(move |tx| tx.list_active_signing_keys(environment))
            .await?;
        self.load(&active, now)
    }

    /// The keys of `environment`, reloaded once when `kid` is unknown and the
    /// entry is older than a second: a key generated on another node is
    /// accepted at once, while a flood of unknown kids costs at most one
    /// store read per second.
    ///
    /// # Errors
    /// [`KeyCacheError`] when loading fails.
    pub async fn keys_with(
        &self,
        environment: EnvironmentId,
        kid: &str,
    ) -> Result<Arc<EnvironmentKeys>, KeyCacheError> {
        let keys = self.keys(environment).await?;
        if keys.verifier(kid).is_some() || keys.loaded_at.plus_seconds(1) > self.ports.clock.now() {
            return Ok(keys);
        }
        self.invalidate(environment);
        self.keys(environment).await
    }

    /// Forgets an environment's keys; the next use reloads them.
    pub fn invalidate(&self, environment: EnvironmentId) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(&environment);
    }

    /// Forgets every environment's keys.
    pub fn invalidate_all(&self) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    fn load(
        &self,
        active: &[SigningKey],
        now: Timestamp,
    ) -> Result<EnvironmentKeys, KeyCacheError> {
        let mut verifiers = HashMap::with_capacity(active.len());
        let mut published = Vec::with_capacity(active.len());
        let mut primary = None;
        for key in active {
            verifiers.insert(key.kid.clone(), self.ports.jwt.verifier(&key.public_jwk)?);
            published.push(serde_json::from_str::<Value>(&key.public_jwk).unwrap_or(Value::Null));
            if key.primary {
                let private_pem = self.ports.cipher.decrypt(key.private_key.as_bytes())?;
                primary = Some(
                    self.ports
                        .jwt
                        .signer(&key.kid, private_pem.expose_secret())?,
                );
            }
        }
        published.retain(Value::is_object);
        Ok(EnvironmentKeys {
            loaded_at: now,
            refreshing: AtomicBool::new(false),
            primary,
            verifiers,
            jwks: serde_json::json!({ "keys": published }),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::sync::atomic::AtomicUsize;

    use portcullis_ports::crypto::MockJwtKeys;
    use portcullis_ports::testing::{InlineUow, MockTx};

    use super::*;
    use crate::testing::ports_with_jwt;

    fn environment() -> EnvironmentId {
        EnvironmentId::from_ulid(ulid::Ulid::from_parts(3, 3))
    }

    #[tokio::test]
    async fn a_load_overtaken_by_an_invalidation_is_not_kept() {
        let slot: Arc<OnceLock<Arc<KeyCache<InlineUow>>>> = Arc::default();
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tx = MockTx::new();
        let (in_load, counted) = (Arc::clone(&slot), Arc::clone(&loads));
        tx.expect_list_active_signing_keys().returning(move |env| {
            // The first load is overtaken by a key change on this node.
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                in_load.get().expect("cache set").invalidate(env);
            }
            Ok(Vec::new())
        });
        let ports = ports_with_jwt(InlineUow::new(tx), MockJwtKeys::new());
        let cache = Arc::new(KeyCache::new(ports, 60));
        slot.set(Arc::clone(&cache)).ok();

        cache.keys(environment()).await.unwrap();
        cache.keys(environment()).await.unwrap();
        cache.keys(environment()).await.unwrap();

        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "the overtaken load is read again once, then cached"
        );
    }
}
