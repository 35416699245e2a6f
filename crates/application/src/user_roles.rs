//! The user-roles collection: assign a role to a user, read,
//! list (by user or role) and remove the assignments of an environment.
//! Both ends must be of the caller's environment; a pair is assigned once.
//! Every change commits with its audit event.

use portcullis_domain::access::UserRole;
use portcullis_domain::{RoleId, UserId, UserRoleId};
use portcullis_ports::store::{StoreError, Unique, UnitOfWork, UserRoleQuery};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;

/// Why an assignment was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserRoleError {
    /// No such user in the environment.
    #[error("user not found in this environment")]
    UnknownUser,
    /// No such role in the environment.
    #[error("role not found in this environment")]
    UnknownRole,
    /// The user already has the role.
    #[error("the user already has this role")]
    Duplicate,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an assignment could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum UserRoleLookupError {
    /// No such assignment in the environment.
    #[error("user role not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Filters of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserRoleFilter {
    /// Only the assignments of this user.
    pub user: Option<UserId>,
    /// Only the assignments of this role.
    pub role: Option<RoleId>,
}

/// The user-roles collection.
pub struct UserRoleService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for UserRoleService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRoleService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> UserRoleService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    /// Assigns `role` to `user`.
    ///
    /// # Errors
    /// [`CreateUserRoleError`].
    pub async fn create(
        &self,
        actor: &Actor,
        user: UserId,
        role: RoleId,
    ) -> Result<UserRole, CreateUserRoleError> {
        let env = actor.environment_id();
        let join = UserRole::assign(
            UserRoleId::from_ulid(self.ports.ids.next_ulid()),
            env,
            user,
            role,
            self.ports.clock.now(),
        );
        let event = self.ports.event(
            actor,
            "user_role.created",
            &representation::user_role(&join),
        );
        let stored = join.clone();
        self.ports
            .store
            .transaction(move |tx| {
                // Both ends must exist in the caller's environment.
                if tx.find_user(env, user)?.is_none() {
                    return Err(CreateUserRoleError::UnknownUser);
                }
                if tx.find_role(env, role)?.is_none() {
                    return Err(CreateUserRoleError::UnknownRole);
                }
                tx.insert_user_role(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::UserRole) => CreateUserRoleError::Duplicate,
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok(())
            })
            .await?;
        Ok(join)
    }

    /// One assignment.
    ///
    /// # Errors
    /// [`UserRoleLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: UserRoleId,
    ) -> Result<UserRole, UserRoleLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_user_role(env, id))
            .await?
            .ok_or(UserRoleLookupError::NotFound)
    }

    /// One page of assignments, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: UserRoleFilter,
        page: PageParams,
    ) -> Result<Page<UserRole>, StoreError> {
        let env = actor.environment_id();
        let query = UserRoleQuery {
            user: filter.user,
            role: filter.role,
            page: page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_user_roles(env, &query))
            .await?;
        Ok(page.page(rows, |join| join.id.to_string()))
    }

    /// Removes an assignment.
    ///
    /// # Errors
    /// [`UserRoleLookupError`].
    pub async fn delete(&self, actor: &Actor, id: UserRoleId) -> Result<(), UserRoleLookupError> {
        let env = actor.environment_id();
        self.ports
            .delete_recorded(
                actor,
                "user_role.deleted",
                move |tx| tx.find_user_role(env, id),
                move |tx| tx.delete_user_role(env, id),
                representation::user_role,
                || UserRoleLookupError::NotFound,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::access::{Description, Role, RoleName};
    use portcullis_domain::user::{Email, NewUser, User};
    use portcullis_domain::{EnvironmentId, Timestamp};
    use portcullis_ports::store::CountedRole;
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn service(tx: MockTx) -> (UserRoleService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (UserRoleService::new(fixed_ports(uow.clone(), None)), uow)
    }

    fn user_id() -> UserId {
        UserId::from_ulid(ulid::Ulid::from_parts(1, 1))
    }

    fn role_id() -> RoleId {
        RoleId::from_ulid(ulid::Ulid::from_parts(2, 2))
    }

    fn user() -> User {
        User::register(
            user_id(),
            actor().environment_id(),
            NewUser::with_email(Email::parse("ada@example.com").unwrap()),
            Timestamp::from_unix_micros(1).unwrap(),
        )
    }

    fn role() -> CountedRole {
        CountedRole {
            role: Role::define(
                role_id(),
                actor().environment_id(),
                RoleName::parse("admin").unwrap(),
                Description::empty(),
                Timestamp::from_unix_micros(1).unwrap(),
            ),
            user_count: 0,
            permission_count: 0,
        }
    }

    fn both_ends_exist(tx: &mut MockTx) {
        tx.expect_find_user()
            .withf(|env, id| *env == actor().environment_id() && *id == user_id())
            .returning(|_, _| Ok(Some(user())));
        tx.expect_find_role()
            .withf(|env, id| *env == actor().environment_id() && *id == role_id())
            .returning(|_, _| Ok(Some(role())));
    }

    #[tokio::test]
    async fn create_checks_both_ends_and_stores_the_join_with_its_event() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx);
        tx.expect_insert_user_role()
            .withf(|j| {
                j.user_id == user_id()
                    && j.role_id == role_id()
                    && j.created_at == now()
                    && j.environment_id == actor().environment_id()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "user_role.created"
                    && e.resource_type == "user_role"
                    && e.data.contains(&user_id().to_string())
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let join = service
            .create(&actor(), user_id(), role_id())
            .await
            .unwrap();

        assert_eq!(join.user_id, user_id());
        assert_eq!(
            uow.log(),
            UowLog {
                committed: 1,
                rolled_back: 0,
                reads: 0
            }
        );
    }

    #[tokio::test]
    async fn unknown_ends_are_refused_and_roll_back() {
        let mut tx = MockTx::new();
        tx.expect_find_user().times(1).returning(|_, _| Ok(None));
        let (users_missing, uow) = service(tx);
        let err = users_missing.create(&actor(), user_id(), role_id()).await;
        assert!(matches!(err, Err(CreateUserRoleError::UnknownUser)));
        assert_eq!(uow.log().rolled_back, 1);

        let mut tx = MockTx::new();
        tx.expect_find_user().returning(|_, _| Ok(Some(user())));
        tx.expect_find_role().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);
        let err = service.create(&actor(), user_id(), role_id()).await;
        assert!(matches!(err, Err(CreateUserRoleError::UnknownRole)));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn a_duplicate_pair_is_a_conflict_and_rolls_back() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx);
        tx.expect_insert_user_role()
            .returning(|_| Err(StoreError::Conflict(Unique::UserRole)));
        let (service, uow) = service(tx);
        let err = service.create(&actor(), user_id(), role_id()).await;
        assert!(matches!(err, Err(CreateUserRoleError::Duplicate)));
        assert_eq!(uow.log().rolled_back, 1);
        assert_eq!(uow.log().committed, 0);
    }

    #[tokio::test]
    async fn delete_removes_the_join_with_its_event_or_is_not_found() {
        let mut tx = MockTx::new();
        let join = UserRole::assign(
            UserRoleId::from_ulid(ulid::Ulid::from_parts(3, 3)),
            actor().environment_id(),
            user_id(),
            role_id(),
            now(),
        );
        let id = join.id;
        tx.expect_find_user_role()
            .withf(move |_, i| *i == id)
            .returning(move |_, _| Ok(Some(join.clone())));
        tx.expect_find_user_role().returning(|_, _| Ok(None));
        tx.expect_delete_user_role()
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "user_role.deleted")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        service.delete(&actor(), id).await.unwrap();
        let missing = UserRoleId::from_ulid(ulid::Ulid::from_parts(4, 4));
        let err = service.delete(&actor(), missing).await;
        assert!(matches!(err, Err(UserRoleLookupError::NotFound)));
        assert_eq!(uow.log().committed, 1);
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn listing_passes_the_filters_and_pages() {
        let mut tx = MockTx::new();
        tx.expect_list_user_roles()
            .withf(|_, q| {
                q.user == Some(user_id())
                    && q.role.is_none()
                    && q.page.limit == 3
                    && !q.page.descending
            })
            .returning(|env, _| {
                Ok((0..3)
                    .map(|i| {
                        UserRole::assign(
                            UserRoleId::from_ulid(ulid::Ulid::from_parts(5, i)),
                            env,
                            user_id(),
                            role_id(),
                            now(),
                        )
                    })
                    .collect())
            });
        let (service, uow) = service(tx);
        let filter = UserRoleFilter {
            user: Some(user_id()),
            role: None,
        };
        let page = PageParams {
            size: 2,
            ..PageParams::default()
        };

        let page = service.list(&actor(), filter, page).await.unwrap();

        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_after, Some(page.items[1].id.to_string()));
        assert_eq!(uow.log().reads, 1);
    }
}
