//! The user-roles collection: assign a role to a user, read, list (by user
//! or role) and remove the assignments of an environment, as a
//! [`JoinKind`] of the generic join service: the user is the first end,
//! the role the second.

use portcullis_domain::access::UserRole;
use portcullis_domain::{EnvironmentId, RoleId, Timestamp, UserId, UserRoleId};
use portcullis_ports::store::{Keyset, StoreError, Tx, Unique, UserRoleQuery};
use serde_json::Value;

pub use crate::joins::{
    CreateJoinError as CreateUserRoleError, JoinLookupError as UserRoleLookupError,
};
use crate::joins::{JoinFilter, JoinKind, JoinService};
use crate::representation;

/// Roles held by users.
#[derive(Debug)]
pub struct UserRoles;

/// Filters of a listing: `left` is the user, `right` the role.
pub type UserRoleFilter = JoinFilter<UserId, RoleId>;

/// The user-roles collection.
pub type UserRoleService<U> = JoinService<U, UserRoles>;

impl JoinKind for UserRoles {
    type Join = UserRole;
    type Id = UserRoleId;
    type Left = UserId;
    type Right = RoleId;

    const CREATED: &'static str = "user_role.created";
    const DELETED: &'static str = "user_role.deleted";
    const UNIQUE: Unique = Unique::UserRole;

    fn link(
        id: ulid::Ulid,
        environment: EnvironmentId,
        user: UserId,
        role: RoleId,
        now: Timestamp,
    ) -> UserRole {
        UserRole::assign(UserRoleId::from_ulid(id), environment, user, role, now)
    }

    fn id(join: &UserRole) -> UserRoleId {
        join.id
    }

    fn parse_id(raw: &str) -> Option<UserRoleId> {
        UserRoleId::parse(raw).ok()
    }

    fn represent(join: &UserRole) -> Value {
        representation::user_role(join)
    }

    fn left_exists(tx: &mut dyn Tx, env: EnvironmentId, user: UserId) -> Result<bool, StoreError> {
        Ok(tx.find_user(env, user)?.is_some())
    }

    fn right_exists(tx: &mut dyn Tx, env: EnvironmentId, role: RoleId) -> Result<bool, StoreError> {
        Ok(tx.find_role(env, role)?.is_some())
    }

    fn insert(tx: &mut dyn Tx, join: &UserRole) -> Result<(), StoreError> {
        tx.insert_user_role(join)
    }

    fn find(
        tx: &mut dyn Tx,
        env: EnvironmentId,
        id: UserRoleId,
    ) -> Result<Option<UserRole>, StoreError> {
        tx.find_user_role(env, id)
    }

    fn delete(tx: &mut dyn Tx, env: EnvironmentId, id: UserRoleId) -> Result<bool, StoreError> {
        tx.delete_user_role(env, id)
    }

    fn list(
        tx: &mut dyn Tx,
        env: EnvironmentId,
        filter: UserRoleFilter,
        page: Keyset,
    ) -> Result<Vec<UserRole>, StoreError> {
        tx.list_user_roles(
            env,
            &UserRoleQuery {
                user: filter.left,
                role: filter.right,
                page,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::PageParams;
    use crate::principal::Actor;
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
        assert!(matches!(err, Err(CreateUserRoleError::UnknownLeft)));
        assert_eq!(uow.log().rolled_back, 1);

        let mut tx = MockTx::new();
        tx.expect_find_user().returning(|_, _| Ok(Some(user())));
        tx.expect_find_role().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);
        let err = service.create(&actor(), user_id(), role_id()).await;
        assert!(matches!(err, Err(CreateUserRoleError::UnknownRight)));
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
            left: Some(user_id()),
            right: None,
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
