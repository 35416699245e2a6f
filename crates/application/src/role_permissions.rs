//! The role-permissions collection: grant a permission to a role, read,
//! list (by role or permission) and revoke the grants of an environment.
//! Both ends must be of the caller's environment; a pair is granted once.
//! Every change commits with its audit event.

use portcullis_domain::access::RolePermission;
use portcullis_domain::{PermissionId, RoleId, RolePermissionId};
use portcullis_ports::store::{RolePermissionQuery, StoreError, Unique, UnitOfWork};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;

/// Why a grant was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateRolePermissionError {
    /// No such role in the environment.
    #[error("role not found in this environment")]
    UnknownRole,
    /// No such permission in the environment.
    #[error("permission not found in this environment")]
    UnknownPermission,
    /// The role already has the permission.
    #[error("the role already has this permission")]
    Duplicate,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a grant could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum RolePermissionLookupError {
    /// No such grant in the environment.
    #[error("role permission not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Filters of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolePermissionFilter {
    /// Only the grants of this role.
    pub role: Option<RoleId>,
    /// Only the grants of this permission.
    pub permission: Option<PermissionId>,
}

/// The role-permissions collection.
pub struct RolePermissionService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for RolePermissionService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolePermissionService")
            .finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> RolePermissionService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    /// Grants `permission` to `role`.
    ///
    /// # Errors
    /// [`CreateRolePermissionError`].
    pub async fn create(
        &self,
        actor: &Actor,
        role: RoleId,
        permission: PermissionId,
    ) -> Result<RolePermission, CreateRolePermissionError> {
        let env = actor.environment_id();
        let join = RolePermission::grant(
            RolePermissionId::from_ulid(self.ports.ids.next_ulid()),
            env,
            role,
            permission,
            self.ports.clock.now(),
        );
        let event = self.ports.event(
            actor,
            "role_permission.created",
            &representation::role_permission(&join),
        );
        let stored = join.clone();
        self.ports
            .store
            .transaction(move |tx| {
                // Both ends must exist in the caller's environment.
                if tx.find_role(env, role)?.is_none() {
                    return Err(CreateRolePermissionError::UnknownRole);
                }
                if tx.find_permission(env, permission)?.is_none() {
                    return Err(CreateRolePermissionError::UnknownPermission);
                }
                tx.insert_role_permission(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::RolePermission) => {
                        CreateRolePermissionError::Duplicate
                    }
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok(())
            })
            .await?;
        Ok(join)
    }

    /// One grant.
    ///
    /// # Errors
    /// [`RolePermissionLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: RolePermissionId,
    ) -> Result<RolePermission, RolePermissionLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_role_permission(env, id))
            .await?
            .ok_or(RolePermissionLookupError::NotFound)
    }

    /// One page of grants, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: RolePermissionFilter,
        page: PageParams,
    ) -> Result<Page<RolePermission>, StoreError> {
        let env = actor.environment_id();
        let query = RolePermissionQuery {
            role: filter.role,
            permission: filter.permission,
            page: page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_role_permissions(env, &query))
            .await?;
        Ok(page.page(rows, |join| join.id.to_string()))
    }

    /// Revokes a grant.
    ///
    /// # Errors
    /// [`RolePermissionLookupError`].
    pub async fn delete(
        &self,
        actor: &Actor,
        id: RolePermissionId,
    ) -> Result<(), RolePermissionLookupError> {
        let env = actor.environment_id();
        self.ports
            .delete_recorded(
                actor,
                "role_permission.deleted",
                move |tx| tx.find_role_permission(env, id),
                move |tx| tx.delete_role_permission(env, id),
                representation::role_permission,
                || RolePermissionLookupError::NotFound,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(matches!(err, Err(CreateRolePermissionError::UnknownRole)));
        assert_eq!(uow.log().rolled_back, 1);

        let mut tx = MockTx::new();
        tx.expect_find_role().returning(|_, _| Ok(Some(role())));
        tx.expect_find_permission().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);
        let err = service.create(&actor(), role_id(), permission_id()).await;
        assert!(matches!(
            err,
            Err(CreateRolePermissionError::UnknownPermission)
        ));
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
            role: Some(role_id()),
            permission: None,
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
