//! Join collections: resources that only link two others of the same
//! environment (a permission granted to a role, a role assigned to a user).
//! One service serves them all; each join says, through [`JoinKind`], what
//! its ends are and how the store keeps it. Both ends must exist in the
//! caller's environment, a pair is linked once, and every change commits
//! with its audit event.

use std::marker::PhantomData;

use portcullis_domain::{EnvironmentId, Timestamp};
use portcullis_ports::store::{Keyset, StoreError, Tx, Unique, UnitOfWork};
use serde_json::Value;

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;

/// What a join collection is made of.
pub trait JoinKind: Send + Sync + 'static {
    /// The join entity.
    type Join: Clone + Send + Sync + 'static;
    /// Its identity.
    type Id: Copy + Send + std::fmt::Display + 'static;
    /// The first end's identity (named first in requests and events).
    type Left: Copy + Send + Sync + 'static;
    /// The second end's identity.
    type Right: Copy + Send + Sync + 'static;

    /// The event emitted when a pair is linked.
    const CREATED: &'static str;
    /// The event emitted when a pair is unlinked.
    const DELETED: &'static str;
    /// The unique constraint that keeps a pair once.
    const UNIQUE: Unique;

    /// A new join, not yet stored.
    fn link(
        id: ulid::Ulid,
        environment: EnvironmentId,
        left: Self::Left,
        right: Self::Right,
        now: Timestamp,
    ) -> Self::Join;
    /// The identity of `join`.
    fn id(join: &Self::Join) -> Self::Id;
    /// Parses an identity from its text form.
    fn parse_id(raw: &str) -> Option<Self::Id>;
    /// The resource object of `join`, as the API renders it.
    fn represent(join: &Self::Join) -> Value;

    /// Whether the first end exists in `environment`.
    ///
    /// # Errors
    /// The store's failure.
    fn left_exists(
        tx: &mut dyn Tx,
        environment: EnvironmentId,
        left: Self::Left,
    ) -> Result<bool, StoreError>;
    /// Whether the second end exists in `environment`.
    ///
    /// # Errors
    /// The store's failure.
    fn right_exists(
        tx: &mut dyn Tx,
        environment: EnvironmentId,
        right: Self::Right,
    ) -> Result<bool, StoreError>;
    /// Stores a join.
    ///
    /// # Errors
    /// `Conflict(Self::UNIQUE)` for a pair linked already.
    fn insert(tx: &mut dyn Tx, join: &Self::Join) -> Result<(), StoreError>;
    /// One join of `environment`.
    ///
    /// # Errors
    /// The store's failure.
    fn find(
        tx: &mut dyn Tx,
        environment: EnvironmentId,
        id: Self::Id,
    ) -> Result<Option<Self::Join>, StoreError>;
    /// Deletes one join; whether it existed.
    ///
    /// # Errors
    /// The store's failure.
    fn delete(
        tx: &mut dyn Tx,
        environment: EnvironmentId,
        id: Self::Id,
    ) -> Result<bool, StoreError>;
    /// One page of joins, filtered by either end, in id order.
    ///
    /// # Errors
    /// The store's failure.
    fn list(
        tx: &mut dyn Tx,
        environment: EnvironmentId,
        filter: JoinFilter<Self::Left, Self::Right>,
        page: Keyset,
    ) -> Result<Vec<Self::Join>, StoreError>;
}

/// Why a join was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateJoinError {
    /// The first end is not in the environment.
    #[error("the first end is not in this environment")]
    UnknownLeft,
    /// The second end is not in the environment.
    #[error("the second end is not in this environment")]
    UnknownRight,
    /// The pair is linked already.
    #[error("the pair is linked already")]
    Duplicate,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a join could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum JoinLookupError {
    /// No such join in the environment.
    #[error("join not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Filters of a listing: either end, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinFilter<L, R> {
    /// Only the joins of this first end.
    pub left: Option<L>,
    /// Only the joins of this second end.
    pub right: Option<R>,
}

impl<L, R> Default for JoinFilter<L, R> {
    fn default() -> Self {
        Self {
            left: None,
            right: None,
        }
    }
}

/// A join collection.
pub struct JoinService<U, K> {
    ports: Ports<U>,
    kind: PhantomData<fn() -> K>,
}

impl<U, K> std::fmt::Debug for JoinService<U, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinService")
            .field("kind", &std::any::type_name::<K>())
            .finish_non_exhaustive()
    }
}

impl<U: UnitOfWork, K: JoinKind> JoinService<U, K> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self {
            ports,
            kind: PhantomData,
        }
    }

    /// Links `left` and `right`.
    ///
    /// # Errors
    /// [`CreateJoinError`].
    pub async fn create(
        &self,
        actor: &Actor,
        left: K::Left,
        right: K::Right,
    ) -> Result<K::Join, CreateJoinError> {
        let env = actor.environment_id();
        let join = K::link(
            self.ports.ids.next_ulid(),
            env,
            left,
            right,
            self.ports.clock.now(),
        );
        let event = self.ports.event(actor, K::CREATED, &K::represent(&join));
        let stored = join.clone();
        self.ports
            .store
            .transaction(move |tx| {
                if !K::left_exists(tx, env, left)? {
                    return Err(CreateJoinError::UnknownLeft);
                }
                if !K::right_exists(tx, env, right)? {
                    return Err(CreateJoinError::UnknownRight);
                }
                K::insert(tx, &stored).map_err(|e| match e {
                    StoreError::Conflict(unique) if unique == K::UNIQUE => {
                        CreateJoinError::Duplicate
                    }
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok(())
            })
            .await?;
        Ok(join)
    }

    /// One join.
    ///
    /// # Errors
    /// [`JoinLookupError`].
    pub async fn get(&self, actor: &Actor, id: K::Id) -> Result<K::Join, JoinLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| K::find(tx, env, id))
            .await?
            .ok_or(JoinLookupError::NotFound)
    }

    /// One page of joins, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: JoinFilter<K::Left, K::Right>,
        page: PageParams,
    ) -> Result<Page<K::Join>, StoreError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| K::list(tx, env, filter, keyset))
            .await?;
        Ok(page.page(rows, |join| K::id(join).to_string()))
    }

    /// Unlinks a pair.
    ///
    /// # Errors
    /// [`JoinLookupError`].
    pub async fn delete(&self, actor: &Actor, id: K::Id) -> Result<(), JoinLookupError> {
        let env = actor.environment_id();
        self.ports
            .delete_recorded(
                actor,
                K::DELETED,
                move |tx| K::find(tx, env, id),
                move |tx| K::delete(tx, env, id),
                K::represent,
                || JoinLookupError::NotFound,
            )
            .await
    }
}
