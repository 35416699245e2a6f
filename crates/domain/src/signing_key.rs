//! Signing keys and their rotation rules: exactly one primary key among the
//! active ones, a new key becomes primary at once, the last active key cannot
//! be deactivated, and only inactive keys can be deleted.

use crate::{EnvironmentId, SigningKeyId, Timestamp};

/// The only algorithm Portcullis signs with.
pub const ALGORITHM: &str = "RS256";

/// Whether a key signs and verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Published in the JWKS; tokens it signed verify.
    Active,
    /// Withdrawn: tokens it signed no longer verify.
    Inactive,
}

impl KeyStatus {
    /// Wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// A private key encrypted with the master key; the domain never sees it in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedPrivateKey(Vec<u8>);

impl std::fmt::Debug for EncryptedPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptedPrivateKey({} bytes)", self.0.len())
    }
}

impl EncryptedPrivateKey {
    /// Wraps ciphertext produced by the cipher or read from the store.
    #[must_use]
    pub fn new(ciphertext: Vec<u8>) -> Self {
        Self(ciphertext)
    }

    /// The ciphertext.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An RS256 key pair of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    /// Record identity.
    pub id: SigningKeyId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// JWS key id, unique per environment.
    pub kid: String,
    /// Active or inactive.
    pub status: KeyStatus,
    /// Whether new tokens are signed with it.
    pub primary: bool,
    /// The public key as a JWK (JSON text).
    pub public_jwk: String,
    /// The private key, encrypted at rest.
    pub private_key: EncryptedPrivateKey,
    /// Creation time.
    pub created_at: Timestamp,
    /// When it was deactivated.
    pub deactivated_at: Option<Timestamp>,
}

/// A rotation rule a change would break.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRuleError {
    /// No key with that id in the environment.
    #[error("no such signing key")]
    NotFound,
    /// The key is already inactive.
    #[error("the signing key is already inactive")]
    AlreadyInactive,
    /// It is the environment's last active key.
    #[error("the last active signing key cannot be deactivated")]
    LastActiveKey,
    /// Only inactive keys can be deleted.
    #[error("an active signing key cannot be deleted; deactivate it first")]
    StillActive,
}

/// All signing keys of one environment, as one consistency boundary.
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// Wraps every key of one environment.
    #[must_use]
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self { keys }
    }

    /// The keys.
    #[must_use]
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// Adds a freshly generated key as the primary one. Returns the keys whose
    /// stored state changed (the former primary) for the caller to persist.
    pub fn add_primary(&mut self, mut key: SigningKey) -> Vec<SigningKey> {
        let mut changed = Vec::new();
        for other in self.keys.iter_mut().filter(|k| k.primary) {
            other.primary = false;
            changed.push(other.clone());
        }
        key.status = KeyStatus::Active;
        key.primary = true;
        key.deactivated_at = None;
        self.keys.push(key);
        changed
    }

    /// Deactivates a key; if it was primary, the most recently created other
    /// active key becomes primary. Returns the changed keys, the deactivated first.
    ///
    /// # Errors
    /// [`KeyRuleError::NotFound`], [`KeyRuleError::AlreadyInactive`] or
    /// [`KeyRuleError::LastActiveKey`].
    pub fn deactivate(
        &mut self,
        id: SigningKeyId,
        now: Timestamp,
    ) -> Result<Vec<SigningKey>, KeyRuleError> {
        let index = self
            .keys
            .iter()
            .position(|k| k.id == id)
            .ok_or(KeyRuleError::NotFound)?;
        if self.keys[index].status == KeyStatus::Inactive {
            return Err(KeyRuleError::AlreadyInactive);
        }
        let successor = self
            .keys
            .iter()
            .enumerate()
            .filter(|(i, k)| *i != index && k.status == KeyStatus::Active)
            .max_by_key(|(_, k)| (k.created_at, k.id))
            .map(|(i, _)| i)
            .ok_or(KeyRuleError::LastActiveKey)?;
        let was_primary = self.keys[index].primary;
        let key = &mut self.keys[index];
        key.status = KeyStatus::Inactive;
        key.primary = false;
        key.deactivated_at = Some(now);
        let mut changed = vec![key.clone()];
        if was_primary {
            let next = &mut self.keys[successor];
            next.primary = true;
            changed.push(next.clone());
        }
        Ok(changed)
    }

    /// Checks that a key may be deleted.
    ///
    /// # Errors
    /// [`KeyRuleError::NotFound`] or [`KeyRuleError::StillActive`].
    pub fn check_delete(&self, id: SigningKeyId) -> Result<(), KeyRuleError> {
        match self.keys.iter().find(|k| k.id == id) {
            None => Err(KeyRuleError::NotFound),
            Some(k) if k.status == KeyStatus::Active => Err(KeyRuleError::StillActive),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    fn key(n: u64, created: i64) -> SigningKey {
        SigningKey {
            id: SigningKeyId::from_ulid(Ulid::from_parts(n, 0)),
            environment_id: EnvironmentId::from_ulid(Ulid::nil()),
            kid: format!("k{n}"),
            status: KeyStatus::Active,
            primary: false,
            public_jwk: "{}".into(),
            private_key: EncryptedPrivateKey::new(vec![1, 2, 3]),
            created_at: Timestamp::from_unix_micros(created).unwrap(),
            deactivated_at: None,
        }
    }

    fn ring_of_three() -> KeyRing {
        let mut ring = KeyRing::new(vec![]);
        ring.add_primary(key(1, 10));
        ring.add_primary(key(2, 20));
        ring.add_primary(key(3, 30));
        ring
    }

    fn now() -> Timestamp {
        Timestamp::from_unix_micros(99).unwrap()
    }

    #[test]
    fn a_new_key_becomes_the_only_primary() {
        let mut ring = ring_of_three();
        let changed = ring.add_primary(key(4, 40));
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].kid, "k3");
        assert_eq!(ring.keys().iter().filter(|k| k.primary).count(), 1);
        assert!(ring.keys().iter().any(|k| k.kid == "k4" && k.primary));
    }

    #[test]
    fn deactivating_the_primary_promotes_the_newest_other_active_key() {
        let mut ring = ring_of_three();
        let primary = ring.keys()[2].id;
        let changed = ring.deactivate(primary, now()).unwrap();
        assert_eq!(changed.len(), 2);
        assert_eq!(changed[0].status, KeyStatus::Inactive);
        assert_eq!(changed[0].deactivated_at, Some(now()));
        assert_eq!(changed[1].kid, "k2");
        assert!(changed[1].primary);
    }

    #[test]
    fn promotion_skips_inactive_keys() {
        let mut ring = ring_of_three();
        let middle = ring.keys()[1].id;
        let changed = ring.deactivate(middle, now()).unwrap();
        assert_eq!(changed.len(), 1, "a non-primary key promotes nobody");
        let primary = ring.keys()[2].id;
        let changed = ring.deactivate(primary, now()).unwrap();
        assert_eq!(changed[1].kid, "k1");
    }

    #[test]
    fn the_last_active_key_stays() {
        let mut ring = ring_of_three();
        let ids: Vec<_> = ring.keys().iter().map(|k| k.id).collect();
        ring.deactivate(ids[0], now()).unwrap();
        ring.deactivate(ids[1], now()).unwrap();
        assert_eq!(
            ring.deactivate(ids[2], now()),
            Err(KeyRuleError::LastActiveKey)
        );
        assert_eq!(
            ring.deactivate(ids[1], now()),
            Err(KeyRuleError::AlreadyInactive)
        );
        assert_eq!(
            ring.deactivate(SigningKeyId::from_ulid(Ulid::from_parts(77, 0)), now()),
            Err(KeyRuleError::NotFound)
        );
    }

    #[test]
    fn only_inactive_keys_can_be_deleted() {
        let mut ring = ring_of_three();
        let first = ring.keys()[0].id;
        assert_eq!(ring.check_delete(first), Err(KeyRuleError::StillActive));
        ring.deactivate(first, now()).unwrap();
        assert_eq!(ring.check_delete(first), Ok(()));
    }
}
