//! The memberships collection: admit a user into an organization with a
//! set of roles, read, list (by organization or user), replace the roles
//! and remove memberships of an environment. The user, the organization
//! and every role must be of the caller's environment; a user is a member
//! of an organization once. Every change commits with its audit event.

use portcullis_domain::organization::{DuplicateRole, Membership, distinct_roles};
use portcullis_domain::{MembershipId, OrganizationId, RoleId, UserId};
use portcullis_ports::store::{MembershipQuery, StoreError, Tx, Unique, UnitOfWork};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;

/// A new membership as the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateMembership {
    /// The member.
    pub user: UserId,
    /// The organization.
    pub organization: OrganizationId,
    /// Roles held in the organization, in the order given.
    pub roles: Vec<RoleId>,
}

/// Why a membership was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateMembershipError {
    /// No such user in the environment.
    #[error("user not found in this environment")]
    UnknownUser,
    /// No such organization in the environment.
    #[error("organization not found in this environment")]
    UnknownOrganization,
    /// The role at this index of the list is not of the environment.
    #[error("role {0} of the list not found in this environment")]
    UnknownRole(usize),
    /// The role at this index of the list is listed before.
    #[error("role {0} of the list is listed twice")]
    DuplicateRole(usize),
    /// The user is already a member of the organization.
    #[error("the user is already a member of this organization")]
    Duplicate,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why the roles of a membership were not replaced.
#[derive(Debug, thiserror::Error)]
pub enum UpdateMembershipError {
    /// No such membership in the environment.
    #[error("membership not found")]
    NotFound,
    /// The role at this index of the list is not of the environment.
    #[error("role {0} of the list not found in this environment")]
    UnknownRole(usize),
    /// The role at this index of the list is listed before.
    #[error("role {0} of the list is listed twice")]
    DuplicateRole(usize),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a membership could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum MembershipLookupError {
    /// No such membership in the environment.
    #[error("membership not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Filters of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipFilter {
    /// Only the memberships in this organization.
    pub organization: Option<OrganizationId>,
    /// Only the memberships of this user.
    pub user: Option<UserId>,
}

/// The index of the first role of `roles` that is not of `env`, if any.
pub(crate) fn first_unknown_role(
    tx: &mut dyn Tx,
    env: portcullis_domain::EnvironmentId,
    roles: &[RoleId],
) -> Result<Option<usize>, StoreError> {
    for (index, role) in roles.iter().enumerate() {
        if tx.find_role(env, *role)?.is_none() {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// The memberships collection.
pub struct MembershipService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for MembershipService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MembershipService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> MembershipService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    /// Admits a user into an organization.
    ///
    /// # Errors
    /// [`CreateMembershipError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateMembership,
    ) -> Result<Membership, CreateMembershipError> {
        let env = actor.environment_id();
        let membership = Membership::admit(
            MembershipId::from_ulid(self.ports.ids.next_ulid()),
            env,
            command.organization,
            command.user,
            command.roles,
            self.ports.clock.now(),
        )
        .map_err(|DuplicateRole { index }| CreateMembershipError::DuplicateRole(index))?;
        let event = self.ports.event(
            actor,
            "membership.created",
            &representation::membership(&membership),
        );
        let stored = membership.clone();
        self.ports
            .store
            .transaction(move |tx| {
                if tx.find_user(env, stored.user_id)?.is_none() {
                    return Err(CreateMembershipError::UnknownUser);
                }
                if tx.find_organization(env, stored.organization_id)?.is_none() {
                    return Err(CreateMembershipError::UnknownOrganization);
                }
                if let Some(index) = first_unknown_role(tx, env, &stored.role_ids)? {
                    return Err(CreateMembershipError::UnknownRole(index));
                }
                tx.insert_membership(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::Membership) => CreateMembershipError::Duplicate,
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok(())
            })
            .await?;
        Ok(membership)
    }

    /// One membership.
    ///
    /// # Errors
    /// [`MembershipLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: MembershipId,
    ) -> Result<Membership, MembershipLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_membership(env, id))
            .await?
            .ok_or(MembershipLookupError::NotFound)
    }

    /// One page of memberships, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: MembershipFilter,
        page: PageParams,
    ) -> Result<Page<Membership>, StoreError> {
        let env = actor.environment_id();
        let query = MembershipQuery {
            organization: filter.organization,
            user: filter.user,
            page: page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_memberships(env, &query))
            .await?;
        Ok(page.page(rows, |membership| membership.id.to_string()))
    }

    /// Replaces the roles a member holds in its organization.
    ///
    /// # Errors
    /// [`UpdateMembershipError`].
    pub async fn replace_roles(
        &self,
        actor: &Actor,
        id: MembershipId,
        roles: Vec<RoleId>,
    ) -> Result<Membership, UpdateMembershipError> {
        distinct_roles(&roles)
            .map_err(|DuplicateRole { index }| UpdateMembershipError::DuplicateRole(index))?;
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let mut membership = tx
                    .find_membership(env, id)?
                    .ok_or(UpdateMembershipError::NotFound)?;
                if let Some(index) = first_unknown_role(tx, env, &roles)? {
                    return Err(UpdateMembershipError::UnknownRole(index));
                }
                membership
                    .replace_roles(roles, now)
                    .map_err(|DuplicateRole { index }| {
                        UpdateMembershipError::DuplicateRole(index)
                    })?;
                tx.replace_membership_roles(&membership)
                    .map_err(|e| match e {
                        StoreError::NotFound => UpdateMembershipError::NotFound,
                        other => other.into(),
                    })?;
                tx.append_event(&ports.event(
                    &actor,
                    "membership.updated",
                    &representation::membership(&membership),
                ))?;
                Ok(membership)
            })
            .await
    }

    /// Removes a membership (and the roles held through it).
    ///
    /// # Errors
    /// [`MembershipLookupError`].
    pub async fn delete(
        &self,
        actor: &Actor,
        id: MembershipId,
    ) -> Result<(), MembershipLookupError> {
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let membership = tx
                    .find_membership(env, id)?
                    .ok_or(MembershipLookupError::NotFound)?;
                if !tx.delete_membership(env, id)? {
                    return Err(MembershipLookupError::NotFound);
                }
                tx.append_event(&ports.event(
                    &actor,
                    "membership.deleted",
                    &representation::membership(&membership),
                ))?;
                Ok::<_, MembershipLookupError>(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::access::{Description, Role, RoleName};
    use portcullis_domain::organization::{Organization, OrganizationName};
    use portcullis_domain::user::{Email, Metadata, NewUser, User};
    use portcullis_domain::{EnvironmentId, Timestamp};
    use portcullis_ports::store::{CountedOrganization, CountedRole};
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn service(tx: MockTx) -> (MembershipService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (MembershipService::new(fixed_ports(uow.clone(), None)), uow)
    }

    fn then() -> Timestamp {
        Timestamp::from_unix_micros(1).unwrap()
    }

    fn user_id() -> UserId {
        UserId::from_ulid(ulid::Ulid::from_parts(1, 1))
    }

    fn organization_id() -> OrganizationId {
        OrganizationId::from_ulid(ulid::Ulid::from_parts(2, 2))
    }

    fn role_id(n: u128) -> RoleId {
        RoleId::from_ulid(ulid::Ulid::from_parts(3, n))
    }

    fn membership_id() -> MembershipId {
        MembershipId::from_ulid(ulid::Ulid::from_parts(4, 4))
    }

    fn known_role(id: RoleId) -> CountedRole {
        CountedRole {
            role: Role::define(
                id,
                actor().environment_id(),
                RoleName::parse("admin").unwrap(),
                Description::empty(),
                then(),
            ),
            user_count: 0,
            permission_count: 0,
        }
    }

    fn every_end_exists(tx: &mut MockTx) {
        tx.expect_find_user()
            .withf(|env, id| *env == actor().environment_id() && *id == user_id())
            .returning(|env, id| {
                Ok(Some(User::register(
                    id,
                    env,
                    NewUser::with_email(Email::parse("a@example.com").unwrap()),
                    then(),
                )))
            });
        tx.expect_find_organization()
            .withf(|env, id| *env == actor().environment_id() && *id == organization_id())
            .returning(|env, id| {
                Ok(Some(CountedOrganization {
                    organization: Organization::found(
                        id,
                        env,
                        OrganizationName::parse("Acme").unwrap(),
                        Metadata::empty(),
                        then(),
                    ),
                    member_count: 0,
                }))
            });
    }

    fn roles_known_except(tx: &mut MockTx, unknown: Option<RoleId>) {
        tx.expect_find_role()
            .withf(|env, _| *env == actor().environment_id())
            .returning(move |_, id| Ok((Some(id) != unknown).then(|| known_role(id))));
    }

    fn command(roles: Vec<RoleId>) -> CreateMembership {
        CreateMembership {
            user: user_id(),
            organization: organization_id(),
            roles,
        }
    }

    fn existing() -> Membership {
        Membership::admit(
            membership_id(),
            actor().environment_id(),
            organization_id(),
            user_id(),
            vec![role_id(1)],
            then(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn create_checks_every_end_and_stores_the_membership_with_its_event() {
        let mut tx = MockTx::new();
        every_end_exists(&mut tx);
        roles_known_except(&mut tx, None);
        tx.expect_insert_membership()
            .withf(|m| {
                m.user_id == user_id()
                    && m.organization_id == organization_id()
                    && m.role_ids == vec![role_id(1), role_id(2)]
                    && m.created_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "membership.created"
                    && e.resource_type == "membership"
                    && e.data.contains(&role_id(2).to_string())
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let membership = service
            .create(&actor(), command(vec![role_id(1), role_id(2)]))
            .await
            .unwrap();

        assert_eq!(membership.role_ids, vec![role_id(1), role_id(2)]);
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn an_unknown_role_is_reported_with_its_index_and_nothing_is_stored() {
        let mut tx = MockTx::new();
        every_end_exists(&mut tx);
        roles_known_except(&mut tx, Some(role_id(7)));
        let (service, uow) = service(tx);

        let result = service
            .create(&actor(), command(vec![role_id(1), role_id(7)]))
            .await;

        assert!(matches!(result, Err(CreateMembershipError::UnknownRole(1))));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn a_role_listed_twice_is_refused_before_any_store_work() {
        let (service, uow) = service(MockTx::new());

        let result = service
            .create(&actor(), command(vec![role_id(1), role_id(1)]))
            .await;

        assert!(matches!(
            result,
            Err(CreateMembershipError::DuplicateRole(1))
        ));
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn an_unknown_user_or_organization_is_refused() {
        let mut tx = MockTx::new();
        tx.expect_find_user().returning(|_, _| Ok(None));
        let (svc, _) = service(tx);
        assert!(matches!(
            svc.create(&actor(), command(vec![])).await,
            Err(CreateMembershipError::UnknownUser)
        ));

        let mut tx = MockTx::new();
        tx.expect_find_user().returning(|env, id| {
            Ok(Some(User::register(
                id,
                env,
                NewUser::with_email(Email::parse("a@example.com").unwrap()),
                then(),
            )))
        });
        tx.expect_find_organization().returning(|_, _| Ok(None));
        let (svc, _) = service(tx);
        assert!(matches!(
            svc.create(&actor(), command(vec![])).await,
            Err(CreateMembershipError::UnknownOrganization)
        ));
    }

    #[tokio::test]
    async fn a_second_membership_is_a_duplicate() {
        let mut tx = MockTx::new();
        every_end_exists(&mut tx);
        roles_known_except(&mut tx, None);
        tx.expect_insert_membership()
            .returning(|_| Err(StoreError::Conflict(Unique::Membership)));
        let (service, uow) = service(tx);

        let result = service.create(&actor(), command(vec![])).await;

        assert!(matches!(result, Err(CreateMembershipError::Duplicate)));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn replace_roles_stores_the_new_list_with_its_event() {
        let mut tx = MockTx::new();
        tx.expect_find_membership()
            .returning(|_, _| Ok(Some(existing())));
        roles_known_except(&mut tx, None);
        tx.expect_replace_membership_roles()
            .withf(|m| m.role_ids == vec![role_id(2), role_id(3)] && m.updated_at == now())
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "membership.updated" && e.data.contains(&role_id(3).to_string())
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, _) = service(tx);

        let membership = service
            .replace_roles(&actor(), membership_id(), vec![role_id(2), role_id(3)])
            .await
            .unwrap();

        assert_eq!(membership.role_ids, vec![role_id(2), role_id(3)]);
    }

    #[tokio::test]
    async fn replace_roles_refuses_unknown_and_repeated_roles() {
        let mut tx = MockTx::new();
        tx.expect_find_membership()
            .returning(|_, _| Ok(Some(existing())));
        roles_known_except(&mut tx, Some(role_id(9)));
        let (service, uow) = service(tx);

        assert!(matches!(
            service
                .replace_roles(&actor(), membership_id(), vec![role_id(2), role_id(2)])
                .await,
            Err(UpdateMembershipError::DuplicateRole(1))
        ));
        assert!(matches!(
            service
                .replace_roles(&actor(), membership_id(), vec![role_id(9)])
                .await,
            Err(UpdateMembershipError::UnknownRole(0))
        ));
        assert_eq!(uow.log().committed, 0);
    }

    #[tokio::test]
    async fn delete_emits_the_last_known_state_and_unknown_ids_are_not_found() {
        let mut tx = MockTx::new();
        tx.expect_find_membership()
            .times(1)
            .returning(|_, _| Ok(Some(existing())));
        tx.expect_delete_membership()
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "membership.deleted")
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_find_membership().returning(|_, _| Ok(None));
        let (service, _) = service(tx);

        service.delete(&actor(), membership_id()).await.unwrap();
        assert!(matches!(
            service.delete(&actor(), membership_id()).await,
            Err(MembershipLookupError::NotFound)
        ));
    }
}
