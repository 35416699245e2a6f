//! The signing-keys collection: list, read, generate (the new key becomes
//! primary), deactivate (promoting another key) and delete inactive keys.
//! The key cache follows every change at once.

use std::sync::Arc;

use portcullis_domain::SigningKeyId;
use portcullis_domain::signing_key::{
    EncryptedPrivateKey, KeyRing, KeyRuleError, KeyStatus, SigningKey,
};
use portcullis_ports::crypto::CryptoError;
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::ExposeSecret;

use crate::Ports;
use crate::keys::KeyCache;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;

/// Why a signing-key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// No such key in the environment.
    #[error("signing key not found")]
    NotFound,
    /// A rotation rule forbids the change (`409`).
    #[error(transparent)]
    Rule(KeyRuleError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Generation or encryption failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<KeyRuleError> for SigningKeyError {
    fn from(error: KeyRuleError) -> Self {
        match error {
            KeyRuleError::NotFound => Self::NotFound,
            other => Self::Rule(other),
        }
    }
}

/// The signing-keys collection.
pub struct SigningKeyService<U> {
    ports: Ports<U>,
    cache: Arc<KeyCache<U>>,
}

impl<U> std::fmt::Debug for SigningKeyService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> SigningKeyService<U> {
    /// A service that invalidates `cache` on every change.
    pub fn new(ports: Ports<U>, cache: Arc<KeyCache<U>>) -> Self {
        Self { ports, cache }
    }

    /// One page of keys, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageParams,
    ) -> Result<Page<SigningKey>, StoreError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_signing_keys(env, &keyset))
            .await?;
        Ok(page.page(rows, |key| key.id.to_string()))
    }

    /// One key.
    ///
    /// # Errors
    /// [`SigningKeyError::NotFound`] or the store's failure.
    pub async fn get(
        &self,
        actor: &Actor,
        id: SigningKeyId,
    ) -> Result<SigningKey, SigningKeyError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_signing_key(env, id))
            .await?
            .ok_or(SigningKeyError::NotFound)
    }

    /// Generates an RSA-2048 key that becomes primary at once.
    ///
    /// # Errors
    /// [`SigningKeyError`].
    pub async fn generate(&self, actor: &Actor) -> Result<SigningKey, SigningKeyError> {
        let pair = self.ports.jwt.generate_key_pair().await?;
        let key = SigningKey {
            id: SigningKeyId::from_ulid(self.ports.ids.next_ulid()),
            environment_id: actor.environment_id(),
            kid: pair.kid,
            status: KeyStatus::Active,
            primary: true,
            public_jwk: pair.public_jwk,
            private_key: EncryptedPrivateKey::new(
                self.ports
                    .cipher
                    .encrypt(pair.private_pem.expose_secret())?,
            ),
            created_at: self.ports.clock.now(),
            deactivated_at: None,
        };
        let env = actor.environment_id();
        let event = self.ports.event(
            actor,
            "signing_key.created",
            &representation::signing_key(&key),
        );
        let stored = key.clone();
        let result = self
            .ports
            .store
            .transaction(move |tx| {
                let mut ring = KeyRing::new(tx.lock_signing_keys(env)?);
                for demoted in ring.add_primary(stored.clone()) {
                    tx.update_signing_key(&demoted)?;
                }
                tx.insert_signing_key(&stored)?;
                tx.append_event(&event)?;
                Ok::<_, SigningKeyError>(())
            })
            .await;
        self.cache.invalidate(env);
        result.map(|()| key)
    }

    /// Deactivates a key, promoting the newest other active key if it was primary.
    ///
    /// # Errors
    /// [`SigningKeyError`]; the last active key is a rule violation.
    pub async fn deactivate(
        &self,
        actor: &Actor,
        id: SigningKeyId,
    ) -> Result<SigningKey, SigningKeyError> {
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        let result = self
            .ports
            .store
            .transaction(move |tx| {
                let mut ring = KeyRing::new(tx.lock_signing_keys(env)?);
                let changed = ring.deactivate(id, now)?;
                for key in &changed {
                    tx.update_signing_key(key)?;
                }
                let deactivated = changed
                    .into_iter()
                    .next()
                    .ok_or(SigningKeyError::NotFound)?;
                tx.append_event(&ports.event(
                    &actor,
                    "signing_key.deactivated",
                    &representation::signing_key(&deactivated),
                ))?;
                Ok(deactivated)
            })
            .await;
        self.cache.invalidate(env);
        result
    }

    /// Deletes an inactive key.
    ///
    /// # Errors
    /// [`SigningKeyError`]; an active key is a rule violation.
    pub async fn delete(&self, actor: &Actor, id: SigningKeyId) -> Result<(), SigningKeyError> {
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let actor = actor.clone();
        let result = self
            .ports
            .store
            .transaction(move |tx| {
                let ring = KeyRing::new(tx.lock_signing_keys(env)?);
                ring.check_delete(id)?;
                let key = ring
                    .keys()
                    .iter()
                    .find(|k| k.id == id)
                    .cloned()
                    .ok_or(SigningKeyError::NotFound)?;
                if !tx.delete_signing_key(env, id)? {
                    return Err(SigningKeyError::NotFound);
                }
                tx.append_event(&ports.event(
                    &actor,
                    "signing_key.deleted",
                    &representation::signing_key(&key),
                ))?;
                Ok::<_, SigningKeyError>(())
            })
            .await;
        self.cache.invalidate(env);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, key_pair, now};
    use portcullis_domain::{EnvironmentId, Timestamp};
    use portcullis_ports::testing::{InlineUow, MockTx};

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn stored(n: u64, primary: bool) -> SigningKey {
        SigningKey {
            id: SigningKeyId::from_ulid(ulid::Ulid::from_parts(n, 0)),
            environment_id: actor().environment_id(),
            kid: format!("old-{n}"),
            status: KeyStatus::Active,
            primary,
            public_jwk: "{}".into(),
            private_key: EncryptedPrivateKey::new(vec![1]),
            created_at: Timestamp::from_unix_micros(i64::try_from(n).unwrap()).unwrap(),
            deactivated_at: None,
        }
    }

    fn service(tx: MockTx, generates: bool) -> (SigningKeyService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        let ports = fixed_ports(uow.clone(), generates.then(key_pair));
        let cache = Arc::new(KeyCache::new(ports.clone(), 60));
        (SigningKeyService::new(ports, cache), uow)
    }

    #[tokio::test]
    async fn a_generated_key_is_encrypted_becomes_primary_and_demotes_the_old_one() {
        let mut tx = MockTx::new();
        tx.expect_lock_signing_keys()
            .returning(|_| Ok(vec![stored(1, true)]));
        tx.expect_update_signing_key()
            .withf(|k| k.kid == "old-1" && !k.primary)
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_insert_signing_key()
            .withf(|k| {
                k.kid == "kid-1"
                    && k.primary
                    && k.private_key.as_bytes() == b"PRIVATE PEM"
                    && k.created_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "signing_key.created" && !e.data.contains("PRIVATE"))
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx, true);

        let key = service.generate(&actor()).await.unwrap();

        assert!(key.primary);
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn deactivating_the_last_active_key_is_refused_and_rolled_back() {
        let mut tx = MockTx::new();
        tx.expect_lock_signing_keys()
            .returning(|_| Ok(vec![stored(1, true)]));
        let (service, uow) = service(tx, false);

        let err = service
            .deactivate(&actor(), stored(1, true).id)
            .await
            .unwrap_err();

        assert!(matches!(
            err,
            SigningKeyError::Rule(KeyRuleError::LastActiveKey)
        ));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn deactivating_the_primary_persists_the_promotion() {
        let mut tx = MockTx::new();
        tx.expect_lock_signing_keys()
            .returning(|_| Ok(vec![stored(1, false), stored(2, true)]));
        tx.expect_update_signing_key()
            .withf(|k| k.kid == "old-2" && k.status == KeyStatus::Inactive)
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_update_signing_key()
            .withf(|k| k.kid == "old-1" && k.primary)
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "signing_key.deactivated")
            .times(1)
            .returning(|_| Ok(()));
        let (service, _) = service(tx, false);

        let key = service
            .deactivate(&actor(), stored(2, true).id)
            .await
            .unwrap();

        assert_eq!(key.deactivated_at, Some(now()));
    }

    #[tokio::test]
    async fn an_unknown_key_is_not_found() {
        let mut tx = MockTx::new();
        tx.expect_lock_signing_keys()
            .returning(|_| Ok(vec![stored(1, true)]));
        let (service, _) = service(tx, false);
        assert!(matches!(
            service.delete(&actor(), stored(5, false).id).await,
            Err(SigningKeyError::NotFound)
        ));
    }
}
