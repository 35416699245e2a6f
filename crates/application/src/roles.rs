//! The roles collection: create, read, list, update and delete the
//! roles of an environment (`Report Readers`), shown with their user and
//! permission counts. Every input is checked
//! before any stored work, and every change commits with its audit event.

use portcullis_domain::RoleId;
use portcullis_domain::access::{Description, Role, RoleChanges, RoleName};
use portcullis_ports::store::{CountedRole, StoreError, Unique, UnitOfWork};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;
use crate::validation::parse_description;

/// A new role as the caller sent it; values are checked by the service.
#[derive(Debug, Clone, Default)]
pub struct CreateRole {
    /// Required name, unique per environment.
    pub name: String,
    /// What the role is for; absent means empty.
    pub description: Option<String>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateRole {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// Why a role was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateRoleError {
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The environment has a role with this name.
    #[error("role name already defined in this environment")]
    NameTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a role was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateRoleError {
    /// No such role in the environment.
    #[error("role not found")]
    NotFound,
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// Another role has this name.
    #[error("role name already defined in this environment")]
    NameTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a role could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum RoleLookupError {
    /// No such role in the environment.
    #[error("role not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse_name(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<RoleName> {
    RoleName::parse(raw)
        .map_err(|e| {
            violations.push(FieldViolation::new("name", "invalid_name", e));
        })
        .ok()
}

/// The roles collection.
pub struct RoleService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for RoleService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> RoleService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    /// Creates a role.
    ///
    /// # Errors
    /// [`CreateRoleError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateRole,
    ) -> Result<CountedRole, CreateRoleError> {
        let mut violations = Vec::new();
        let name = parse_name(&command.name, &mut violations);
        let description = command
            .description
            .as_deref()
            .map_or(Some(Description::empty()), |d| {
                parse_description(d, &mut violations)
            });
        let (Some(name), Some(description), true) = (name, description, violations.is_empty())
        else {
            return Err(CreateRoleError::Invalid(violations));
        };
        let role = CountedRole {
            role: Role::define(
                RoleId::from_ulid(self.ports.ids.next_ulid()),
                actor.environment_id(),
                name,
                description,
                self.ports.clock.now(),
            ),
            user_count: 0,
            permission_count: 0,
        };
        let event = self
            .ports
            .event(actor, "role.created", &representation::role(&role));
        let stored = role.role.clone();
        self.ports
            .store
            .transaction(move |tx| {
                tx.insert_role(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::RoleName) => CreateRoleError::NameTaken,
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok::<_, CreateRoleError>(())
            })
            .await?;
        Ok(role)
    }

    /// One role.
    ///
    /// # Errors
    /// [`RoleLookupError`].
    pub async fn get(&self, actor: &Actor, id: RoleId) -> Result<CountedRole, RoleLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_role(env, id))
            .await?
            .ok_or(RoleLookupError::NotFound)
    }

    /// One page of roles, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageParams,
    ) -> Result<Page<CountedRole>, StoreError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_roles(env, &keyset))
            .await?;
        Ok(page.page(rows, |counted| counted.role.id.to_string()))
    }

    /// Applies a partial update.
    ///
    /// # Errors
    /// [`UpdateRoleError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: RoleId,
        command: UpdateRole,
    ) -> Result<CountedRole, UpdateRoleError> {
        let mut violations = Vec::new();
        let name = command
            .name
            .and_then(|raw| parse_name(&raw, &mut violations));
        let description = command
            .description
            .and_then(|raw| parse_description(&raw, &mut violations));
        if !violations.is_empty() {
            return Err(UpdateRoleError::Invalid(violations));
        }
        let changes = RoleChanges { name, description };
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let mut role = tx.find_role(env, id)?.ok_or(UpdateRoleError::NotFound)?;
                role.role.apply(changes, now);
                tx.update_role(&role.role).map_err(|e| match e {
                    StoreError::Conflict(Unique::RoleName) => UpdateRoleError::NameTaken,
                    StoreError::NotFound => UpdateRoleError::NotFound,
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &actor,
                    "role.updated",
                    &representation::role(&role),
                ))?;
                Ok(role)
            })
            .await
    }

    /// Deletes a role.
    ///
    /// # Errors
    /// [`RoleLookupError`].
    pub async fn delete(&self, actor: &Actor, id: RoleId) -> Result<(), RoleLookupError> {
        let env = actor.environment_id();
        self.ports
            .delete_recorded(
                actor,
                "role.deleted",
                move |tx| tx.find_role(env, id),
                move |tx| tx.delete_role(env, id),
                representation::role,
                || RoleLookupError::NotFound,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::{EnvironmentId, Timestamp};
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn service(tx: MockTx) -> (RoleService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (RoleService::new(fixed_ports(uow.clone(), None)), uow)
    }

    fn read_reports() -> CreateRole {
        CreateRole {
            name: " Report Readers ".into(),
            description: Some("Read reports".into()),
        }
    }

    fn counted(role: Role) -> CountedRole {
        CountedRole {
            role,
            user_count: 0,
            permission_count: 2,
        }
    }

    fn existing() -> Role {
        Role::define(
            RoleId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            actor().environment_id(),
            RoleName::parse("Report Readers").unwrap(),
            Description::empty(),
            Timestamp::from_unix_micros(1).unwrap(),
        )
    }

    #[tokio::test]
    async fn create_stores_the_role_and_its_event_in_one_transaction() {
        let mut tx = MockTx::new();
        tx.expect_insert_role()
            .withf(|p| {
                p.name.as_str() == "Report Readers"
                    && p.description.as_str() == "Read reports"
                    && p.created_at == now()
                    && p.environment_id == actor().environment_id()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "role.created"
                    && e.resource_type == "role"
                    && e.actor == "system"
                    && e.data.contains("Report Readers")
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let role = service.create(&actor(), read_reports()).await.unwrap();

        assert_eq!(role.role.name.as_str(), "Report Readers");
        assert_eq!((role.user_count, role.permission_count), (0, 0));
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
    async fn a_missing_description_is_empty() {
        let mut tx = MockTx::new();
        tx.expect_insert_role()
            .withf(|p| p.description.as_str().is_empty())
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, _) = service(tx);
        let command = CreateRole {
            description: None,
            ..read_reports()
        };
        service.create(&actor(), command).await.unwrap();
    }

    #[tokio::test]
    async fn a_taken_name_is_a_conflict_and_rolls_back() {
        let mut tx = MockTx::new();
        tx.expect_insert_role()
            .returning(|_| Err(StoreError::Conflict(Unique::RoleName)));
        let (service, uow) = service(tx);

        let err = service.create(&actor(), read_reports()).await.unwrap_err();

        assert!(matches!(err, CreateRoleError::NameTaken));
        assert_eq!(uow.log().rolled_back, 1);
        assert_eq!(uow.log().committed, 0);
    }

    #[tokio::test]
    async fn every_invalid_attribute_is_reported_and_nothing_is_touched() {
        let (service, uow) = service(MockTx::new());
        let command = CreateRole {
            name: "bad\u{7}name".into(),
            description: Some("x".repeat(501)),
        };

        let Err(CreateRoleError::Invalid(violations)) = service.create(&actor(), command).await
        else {
            panic!("expected violations");
        };

        let codes: Vec<_> = violations.iter().map(|v| (v.field, v.code)).collect();
        assert_eq!(
            codes,
            [
                ("name", "invalid_name"),
                ("description", "description_too_long")
            ]
        );
        assert_eq!(uow.log(), UowLog::default());

        let Err(UpdateRoleError::Invalid(violations)) = service
            .update(
                &actor(),
                existing().id,
                UpdateRole {
                    name: Some("   ".into()),
                    description: None,
                },
            )
            .await
        else {
            panic!("expected violations");
        };
        assert_eq!(violations[0].code, "invalid_name");
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn update_applies_changes_and_records_them() {
        let mut tx = MockTx::new();
        let found = existing();
        tx.expect_find_role()
            .returning(move |_, _| Ok(Some(counted(found.clone()))));
        tx.expect_update_role()
            .withf(|p| {
                p.name.as_str() == "Report Readers"
                    && p.description.as_str() == "Now described"
                    && p.updated_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "role.updated")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let updated = service
            .update(
                &actor(),
                existing().id,
                UpdateRole {
                    description: Some("Now described".into()),
                    ..UpdateRole::default()
                },
            )
            .await
            .unwrap();

        assert_eq!(updated.role.description.as_str(), "Now described");
        assert_eq!(updated.permission_count, 2, "counts come with the role");
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn renaming_to_a_taken_name_is_a_conflict_and_rolls_back() {
        let mut tx = MockTx::new();
        let found = existing();
        tx.expect_find_role()
            .returning(move |_, _| Ok(Some(counted(found.clone()))));
        tx.expect_update_role()
            .returning(|_| Err(StoreError::Conflict(Unique::RoleName)));
        let (service, uow) = service(tx);

        let err = service
            .update(
                &actor(),
                existing().id,
                UpdateRole {
                    name: Some("Writers".into()),
                    ..UpdateRole::default()
                },
            )
            .await;

        assert!(matches!(err, Err(UpdateRoleError::NameTaken)));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn update_or_delete_of_a_missing_role_is_not_found_and_rolls_back() {
        let mut tx = MockTx::new();
        tx.expect_find_role().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);

        let err = service
            .update(&actor(), existing().id, UpdateRole::default())
            .await;
        assert!(matches!(err, Err(UpdateRoleError::NotFound)));
        let err = service.delete(&actor(), existing().id).await;
        assert!(matches!(err, Err(RoleLookupError::NotFound)));
        assert_eq!(uow.log().rolled_back, 2);
    }

    #[tokio::test]
    async fn delete_removes_the_role_with_its_event() {
        let mut tx = MockTx::new();
        let found = existing();
        tx.expect_find_role()
            .returning(move |_, _| Ok(Some(counted(found.clone()))));
        tx.expect_delete_role().times(1).returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "role.deleted" && e.data.contains("Report Readers"))
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        service.delete(&actor(), existing().id).await.unwrap();

        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn listing_hands_out_the_last_id_as_cursor() {
        let mut tx = MockTx::new();
        tx.expect_list_roles()
            .withf(|_, page| page.limit == 3 && !page.descending)
            .returning(|env, _| {
                Ok(["a", "b", "c"]
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        counted(Role::define(
                            RoleId::from_ulid(ulid::Ulid::from_parts(1, i as u128)),
                            env,
                            RoleName::parse(name).unwrap(),
                            Description::empty(),
                            now(),
                        ))
                    })
                    .collect())
            });
        let (service, uow) = service(tx);
        let page = PageParams {
            size: 2,
            ..PageParams::default()
        };

        let page = service.list(&actor(), page).await.unwrap();

        assert_eq!(page.items.len(), 2);
        assert_eq!(
            page.next_after,
            Some(page.items[1].role.id.to_string()),
            "the cursor is the last kept row's id"
        );
        assert_eq!(uow.log().reads, 1);
    }
}
