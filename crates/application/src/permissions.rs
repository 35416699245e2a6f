//! The permissions collection: create, read, list, update and delete the
//! permissions of an environment (`read:reports`). Every input is checked
//! before any stored work, and every change commits with its audit event.

use portcullis_domain::PermissionId;
use portcullis_domain::access::{Description, Permission, PermissionChanges, PermissionName};
use portcullis_ports::store::{StoreError, Unique, UnitOfWork};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;
use crate::validation::parse_description;

/// A new permission as the caller sent it; values are checked by the service.
#[derive(Debug, Clone, Default)]
pub struct CreatePermission {
    /// Required name, unique per environment.
    pub name: String,
    /// What the permission allows; absent means empty.
    pub description: Option<String>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdatePermission {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// Why a permission was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreatePermissionError {
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The environment has a permission with this name.
    #[error("permission name already defined in this environment")]
    NameTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a permission was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdatePermissionError {
    /// No such permission in the environment.
    #[error("permission not found")]
    NotFound,
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// Another permission has this name.
    #[error("permission name already defined in this environment")]
    NameTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a permission could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum PermissionLookupError {
    /// No such permission in the environment.
    #[error("permission not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse_name(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<PermissionName> {
    PermissionName::parse(raw)
        .map_err(|e| {
            violations.push(FieldViolation::new("name", "invalid_name", e));
        })
        .ok()
}

/// The permissions collection.
pub struct PermissionService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for PermissionService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermissionService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> PermissionService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    /// Creates a permission.
    ///
    /// # Errors
    /// [`CreatePermissionError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreatePermission,
    ) -> Result<Permission, CreatePermissionError> {
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
            return Err(CreatePermissionError::Invalid(violations));
        };
        let permission = Permission::define(
            PermissionId::from_ulid(self.ports.ids.next_ulid()),
            actor.environment_id(),
            name,
            description,
            self.ports.clock.now(),
        );
        let event = self.ports.event(
            actor,
            "permission.created",
            &representation::permission(&permission),
        );
        let stored = permission.clone();
        self.ports
            .store
            .transaction(move |tx| {
                tx.insert_permission(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::PermissionName) => {
                        CreatePermissionError::NameTaken
                    }
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok::<_, CreatePermissionError>(())
            })
            .await?;
        Ok(permission)
    }

    /// One permission.
    ///
    /// # Errors
    /// [`PermissionLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: PermissionId,
    ) -> Result<Permission, PermissionLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_permission(env, id))
            .await?
            .ok_or(PermissionLookupError::NotFound)
    }

    /// One page of permissions, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageParams,
    ) -> Result<Page<Permission>, StoreError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_permissions(env, &keyset))
            .await?;
        Ok(page.page(rows, |permission| permission.id.to_string()))
    }

    /// Applies a partial update.
    ///
    /// # Errors
    /// [`UpdatePermissionError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: PermissionId,
        command: UpdatePermission,
    ) -> Result<Permission, UpdatePermissionError> {
        let mut violations = Vec::new();
        let name = command
            .name
            .and_then(|raw| parse_name(&raw, &mut violations));
        let description = command
            .description
            .and_then(|raw| parse_description(&raw, &mut violations));
        if !violations.is_empty() {
            return Err(UpdatePermissionError::Invalid(violations));
        }
        let changes = PermissionChanges { name, description };
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let mut permission = tx
                    .find_permission(env, id)?
                    .ok_or(UpdatePermissionError::NotFound)?;
                permission.apply(changes, now);
                tx.update_permission(&permission).map_err(|e| match e {
                    StoreError::Conflict(Unique::PermissionName) => {
                        UpdatePermissionError::NameTaken
                    }
                    StoreError::NotFound => UpdatePermissionError::NotFound,
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &actor,
                    "permission.updated",
                    &representation::permission(&permission),
                ))?;
                Ok(permission)
            })
            .await
    }

    /// Deletes a permission.
    ///
    /// # Errors
    /// [`PermissionLookupError`].
    pub async fn delete(
        &self,
        actor: &Actor,
        id: PermissionId,
    ) -> Result<(), PermissionLookupError> {
        let env = actor.environment_id();
        self.ports
            .delete_recorded(
                actor,
                "permission.deleted",
                move |tx| tx.find_permission(env, id),
                move |tx| tx.delete_permission(env, id),
                representation::permission,
                || PermissionLookupError::NotFound,
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

    fn service(tx: MockTx) -> (PermissionService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (PermissionService::new(fixed_ports(uow.clone(), None)), uow)
    }

    fn read_reports() -> CreatePermission {
        CreatePermission {
            name: " read:reports ".into(),
            description: Some("Read reports".into()),
        }
    }

    fn existing() -> Permission {
        Permission::define(
            PermissionId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            actor().environment_id(),
            PermissionName::parse("read:reports").unwrap(),
            Description::empty(),
            Timestamp::from_unix_micros(1).unwrap(),
        )
    }

    #[tokio::test]
    async fn create_stores_the_permission_and_its_event_in_one_transaction() {
        let mut tx = MockTx::new();
        tx.expect_insert_permission()
            .withf(|p| {
                p.name.as_str() == "read:reports"
                    && p.description.as_str() == "Read reports"
                    && p.created_at == now()
                    && p.environment_id == actor().environment_id()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "permission.created"
                    && e.resource_type == "permission"
                    && e.actor == "system"
                    && e.data.contains("read:reports")
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let permission = service.create(&actor(), read_reports()).await.unwrap();

        assert_eq!(permission.name.as_str(), "read:reports");
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
        tx.expect_insert_permission()
            .withf(|p| p.description.as_str().is_empty())
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, _) = service(tx);
        let command = CreatePermission {
            description: None,
            ..read_reports()
        };
        service.create(&actor(), command).await.unwrap();
    }

    #[tokio::test]
    async fn a_taken_name_is_a_conflict_and_rolls_back() {
        let mut tx = MockTx::new();
        tx.expect_insert_permission()
            .returning(|_| Err(StoreError::Conflict(Unique::PermissionName)));
        let (service, uow) = service(tx);

        let err = service.create(&actor(), read_reports()).await.unwrap_err();

        assert!(matches!(err, CreatePermissionError::NameTaken));
        assert_eq!(uow.log().rolled_back, 1);
        assert_eq!(uow.log().committed, 0);
    }

    #[tokio::test]
    async fn every_invalid_attribute_is_reported_and_nothing_is_touched() {
        let (service, uow) = service(MockTx::new());
        let command = CreatePermission {
            name: "read reports".into(),
            description: Some("x".repeat(501)),
        };

        let Err(CreatePermissionError::Invalid(violations)) =
            service.create(&actor(), command).await
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

        let Err(UpdatePermissionError::Invalid(violations)) = service
            .update(
                &actor(),
                existing().id,
                UpdatePermission {
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
        tx.expect_find_permission()
            .returning(move |_, _| Ok(Some(found.clone())));
        tx.expect_update_permission()
            .withf(|p| {
                p.name.as_str() == "read:reports"
                    && p.description.as_str() == "Now described"
                    && p.updated_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "permission.updated")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let updated = service
            .update(
                &actor(),
                existing().id,
                UpdatePermission {
                    description: Some("Now described".into()),
                    ..UpdatePermission::default()
                },
            )
            .await
            .unwrap();

        assert_eq!(updated.description.as_str(), "Now described");
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn renaming_to_a_taken_name_is_a_conflict_and_rolls_back() {
        let mut tx = MockTx::new();
        let found = existing();
        tx.expect_find_permission()
            .returning(move |_, _| Ok(Some(found.clone())));
        tx.expect_update_permission()
            .returning(|_| Err(StoreError::Conflict(Unique::PermissionName)));
        let (service, uow) = service(tx);

        let err = service
            .update(
                &actor(),
                existing().id,
                UpdatePermission {
                    name: Some("write:reports".into()),
                    ..UpdatePermission::default()
                },
            )
            .await;

        assert!(matches!(err, Err(UpdatePermissionError::NameTaken)));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn update_or_delete_of_a_missing_permission_is_not_found_and_rolls_back() {
        let mut tx = MockTx::new();
        tx.expect_find_permission().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);

        let err = service
            .update(&actor(), existing().id, UpdatePermission::default())
            .await;
        assert!(matches!(err, Err(UpdatePermissionError::NotFound)));
        let err = service.delete(&actor(), existing().id).await;
        assert!(matches!(err, Err(PermissionLookupError::NotFound)));
        assert_eq!(uow.log().rolled_back, 2);
    }

    #[tokio::test]
    async fn delete_removes_the_permission_with_its_event() {
        let mut tx = MockTx::new();
        let found = existing();
        tx.expect_find_permission()
            .returning(move |_, _| Ok(Some(found.clone())));
        tx.expect_delete_permission()
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "permission.deleted" && e.data.contains("read:reports"))
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        service.delete(&actor(), existing().id).await.unwrap();

        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn listing_hands_out_the_last_id_as_cursor() {
        let mut tx = MockTx::new();
        tx.expect_list_permissions()
            .withf(|_, page| page.limit == 3 && !page.descending)
            .returning(|env, _| {
                Ok(["a", "b", "c"]
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        Permission::define(
                            PermissionId::from_ulid(ulid::Ulid::from_parts(1, i as u128)),
                            env,
                            PermissionName::parse(name).unwrap(),
                            Description::empty(),
                            now(),
                        )
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
            Some(page.items[1].id.to_string()),
            "the cursor is the last kept row's id"
        );
        assert_eq!(uow.log().reads, 1);
    }
}
