//! The role-permissions collection: grant a permission to a role, read,
//! list (by role or permission) and revoke the grants of an environment,
//! as a [`JoinKind`] of the generic join service: the role is the first
//! end, the permission the second.

use portcullis_domain::access::RolePermission;
use portcullis_domain::{EnvironmentId, PermissionId, RoleId, RolePermissionId, Timestamp};
use portcullis_ports::store::{Keyset, RolePermissionQuery, StoreError, Tx, Unique};
use serde_json::Value;

pub use crate::joins::{
    CreateJoinError as CreateRolePermissionError, JoinLookupError as RolePermissionLookupError,
};
use crate::joins::{JoinFilter, JoinKind, JoinService};
use crate::representation;

/// Permissions granted to roles.
#[derive(Debug)]
pub struct RolePermissions;

/// Filters of a listing: `left` is the role, `right` the permission.
pub type RolePermissionFilter = JoinFilter<RoleId, PermissionId>;

/// The role-permissions collection.
pub type RolePermissionService<U> = JoinService<U, RolePermissions>;

impl JoinKind for RolePermissions {
    type Join = RolePermission;
    type Id = RolePermissionId;
    type Left = RoleId;
    type Right = PermissionId;

    const CREATED: &'static str = "role_permission.created";
    const DELETED: &'static str = "role_permission.deleted";
    const UNIQUE: Unique = Unique::RolePermission;

    fn link(
        id: ulid::Ulid,
        environment: EnvironmentId,
        role: RoleId,
        permission: PermissionId,
        now: Timestamp,
    ) -> RolePermission {
        RolePermission::grant(
            RolePermissionId::from_ulid(id),
            environment,
            role,
            permission,
            now,
        )
    }

    fn id(join: &RolePermission) -> RolePermissionId {
        join.id
    }

    fn parse_id(raw: &str) -> Option<RolePermissionId> {
        RolePermissionId::parse(raw).ok()
    }

    fn represent(join: &RolePermission) -> Value {
        representation::role_permission(join)
    }

    fn left_exists(tx: &mut dyn Tx, env: EnvironmentId, role: RoleId) -> Result<bool, StoreError> {
        Ok(tx.find_role(env, role)?.is_some())
    }

    fn right_exists(
        tx: &mut dyn Tx,
        env: EnvironmentId,
        permission: PermissionId,
    ) -> Result<bool, StoreError> {
        Ok(tx.find_permission(env, permission)?.is_some())
    }

    fn insert(tx: &mut dyn Tx, join: &RolePermission) -> Result<(), StoreError> {
        tx.insert_role_permission(join)
    }

    fn find(
        tx: &mut dyn Tx,
        env: EnvironmentId,
        id: RolePermissionId,
    ) -> Result<Option<RolePermission>, StoreError> {
        tx.find_role_permission(env, id)
    }

    fn delete(
        tx: &mut dyn Tx,
        env: EnvironmentId,
        id: RolePermissionId,
    ) -> Result<bool, StoreError> {
        tx.delete_role_permission(env, id)
    }

    fn list(
        tx: &mut dyn Tx,
        env: EnvironmentId,
        filter: RolePermissionFilter,
        page: Keyset,
    ) -> Result<Vec<RolePermission>, StoreError> {
        tx.list_role_permissions(
            env,
            &RolePermissionQuery {
                role: filter.left,
                permission: filter.right,
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
    use portcullis_domain::access::{Description, Permission, PermissionName, Role, RoleName};
    use portcullis_domain::{EnvironmentId, Timestamp};
    use portcullis_ports::store::CountedRole;
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn service(tx: MockTx) -> (RolePermissionService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (
            RolePermissionService::new(fixed_ports(uow.clone(), None)),
            uow,
        )
    }

    fn role_id() -> RoleId {
        RoleId::from_ulid(ulid::Ulid::from_parts(1, 1))
    }

    fn permission_id() -> PermissionId {
        PermissionId::from_ulid(ulid::Ulid::from_parts(2, 2))
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

    fn permission() -> Permission {
        Permission::define(
            permission_id(),
            actor().environment_id(),
            PermissionName::parse("read:reports").unwrap(),
            Description::empty(),
            Timestamp::from_unix_micros(1).unwrap(),
        )
    }

    fn both_ends_exist(tx: &mut MockTx) {
        tx.expect_find_role()
            .withf(|env, id| *env == actor().environment_id() && *id == role_id())
            .returning(|_, _| Ok(Some(role())));
        tx.expect_find_permission()
            .withf(|env, id| *env == actor().environment_id() && *id == permission_id())
            .returning(|_, _| Ok(Some(permission())));
    }

    #[tokio::test]
    async fn create_checks_both_ends_and_stores_the_join_with_its_event() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx);
        tx.expect_insert_role_permission()
            .withf(|j| {
                j.role_id == role_id()
                    && j.permission_id == permission_id()
                    && j.created_at == now()
                    && j.environment_id == actor().environment_id()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "role_permission.created"
                    && e.resource_type == "role_permission"
                    && e.data.contains(&role_id().to_string())
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let join = service
            .create(&actor(), role_id(), permission_id())
            .await
            .unwrap();

        assert_eq!(join.role_id, role_id());
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
        tx.expect_find_role().times(1).returning(|_, _| Ok(None));
        let (roles_missing, uow) = service(tx);
        let err = roles_missing
            .create(&actor(), role_id(), permission_id())
            .await;
        assert!(matches!(err, Err(CreateRolePermissionError::UnknownLeft)));
        assert_eq!(uow.log().rolled_back, 1);

        let mut tx = MockTx::new();
        tx.expect_find_role().returning(|_, _| Ok(Some(role())));
        tx.expect_find_permission().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);
        let err = service.create(&actor(), role_id(), permission_id()).await;
        assert!(matches!(err, Err(CreateRolePermissionError::UnknownRight)));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn a_duplicate_pair_is_a_conflict_and_rolls_back() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx);
        tx.expect_insert_role_permission()
            .returning(|_| Err(StoreError::Conflict(Unique::RolePermission)));
        let (service, uow) = service(tx);
        let err = service.create(&actor(), role_id(), permission_id()).await;
        assert!(matches!(err, Err(CreateRolePermissionError::Duplicate)));
        assert_eq!(uow.log().rolled_back, 1);
        assert_eq!(uow.log().committed, 0);
    }

    #[tokio::test]
    async fn delete_removes_the_join_with_its_event_or_is_not_found() {
        let mut tx = MockTx::new();
        let join = RolePermission::grant(
            RolePermissionId::from_ulid(ulid::Ulid::from_parts(3, 3)),
            actor().environment_id(),
            role_id(),
            permission_id(),
            now(),
        );
        let id = join.id;
        tx.expect_find_role_permission()
            .withf(move |_, i| *i == id)
            .returning(move |_, _| Ok(Some(join.clone())));
        tx.expect_find_role_permission().returning(|_, _| Ok(None));
        tx.expect_delete_role_permission()
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "role_permission.deleted")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        service.delete(&actor(), id).await.unwrap();
        let missing = RolePermissionId::from_ulid(ulid::Ulid::from_parts(4, 4));
        let err = service.delete(&actor(), missing).await;
        assert!(matches!(err, Err(RolePermissionLookupError::NotFound)));
        assert_eq!(uow.log().committed, 1);
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn listing_passes_the_filters_and_pages() {
        let mut tx = MockTx::new();
        tx.expect_list_role_permissions()
            .withf(|_, q| {
                q.role == Some(role_id())
                    && q.permission.is_none()
                    && q.page.limit == 3
                    && !q.page.descending
            })
            .returning(|env, _| {
                Ok((0..3)
                    .map(|i| {
                        RolePermission::grant(
                            RolePermissionId::from_ulid(ulid::Ulid::from_parts(5, i)),
                            env,
                            role_id(),
                            permission_id(),
                            now(),
                        )
                    })
                    .collect())
            });
        let (service, uow) = service(tx);
        let filter = RolePermissionFilter {
            left: Some(role_id()),
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
