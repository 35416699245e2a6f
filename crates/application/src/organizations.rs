//! The organizations collection: create, read, list, update and delete the
//! organizations of an environment, shown with their member counts.
//! Deleting one deletes its memberships (by cascade in the store). Every
//! input is checked before any stored work, and every change commits with
//! its audit event.

use portcullis_domain::OrganizationId;
use portcullis_domain::organization::{Organization, OrganizationChanges, OrganizationName};
use portcullis_domain::user::Metadata;
use portcullis_ports::store::{CountedOrganization, StoreError, UnitOfWork};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;

/// A new organization as the caller sent it; values are checked by the service.
#[derive(Debug, Clone, Default)]
pub struct CreateOrganization {
    /// Required name.
    pub name: String,
    /// JSON object text; absent means `{}`.
    pub metadata: Option<String>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateOrganization {
    /// New name.
    pub name: Option<String>,
    /// New metadata, JSON object text (replaces the whole object).
    pub metadata: Option<String>,
}

/// Why an organization was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateOrganizationError {
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an organization was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateOrganizationError {
    /// No such organization in the environment.
    #[error("organization not found")]
    NotFound,
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an organization could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum OrganizationLookupError {
    /// No such organization in the environment.
    #[error("organization not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse_name(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<OrganizationName> {
    OrganizationName::parse(raw)
        .map_err(|e| violations.push(FieldViolation::new("name", "invalid_name", e)))
        .ok()
}

fn parse_metadata(raw: String, violations: &mut Vec<FieldViolation>) -> Option<Metadata> {
    Metadata::from_json_text(raw)
        .map_err(|e| violations.push(FieldViolation::new("metadata", "metadata_too_large", e)))
        .ok()
}

/// The organizations collection.
pub struct OrganizationService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for OrganizationService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizationService")
            .finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> OrganizationService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    /// Creates an organization.
    ///
    /// # Errors
    /// [`CreateOrganizationError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateOrganization,
    ) -> Result<CountedOrganization, CreateOrganizationError> {
        let mut violations = Vec::new();
        let name = parse_name(&command.name, &mut violations);
        let metadata = command.metadata.map_or(Some(Metadata::empty()), |m| {
            parse_metadata(m, &mut violations)
        });
        let (Some(name), Some(metadata), true) = (name, metadata, violations.is_empty()) else {
            return Err(CreateOrganizationError::Invalid(violations));
        };
        let organization = CountedOrganization {
            organization: Organization::found(
                OrganizationId::from_ulid(self.ports.ids.next_ulid()),
                actor.environment_id(),
                name,
                metadata,
                self.ports.clock.now(),
            ),
            member_count: 0,
        };
        let event = self.ports.event(
            actor,
            "organization.created",
            &representation::organization(&organization),
        );
        let stored = organization.organization.clone();
        self.ports
            .store
            .transaction(move |tx| {
                tx.insert_organization(&stored)?;
                tx.append_event(&event)?;
                Ok::<_, CreateOrganizationError>(())
            })
            .await?;
        Ok(organization)
    }

    /// One organization.
    ///
    /// # Errors
    /// [`OrganizationLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: OrganizationId,
    ) -> Result<CountedOrganization, OrganizationLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_organization(env, id))
            .await?
            .ok_or(OrganizationLookupError::NotFound)
    }

    /// One page of organizations, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageParams,
    ) -> Result<Page<CountedOrganization>, StoreError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_organizations(env, &keyset))
            .await?;
        Ok(page.page(rows, |counted| counted.organization.id.to_string()))
    }

    /// Applies a partial update.
    ///
    /// # Errors
    /// [`UpdateOrganizationError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: OrganizationId,
        command: UpdateOrganization,
    ) -> Result<CountedOrganization, UpdateOrganizationError> {
        let mut violations = Vec::new();
        let name = command
            .name
            .and_then(|raw| parse_name(&raw, &mut violations));
        let metadata = command
            .metadata
            .and_then(|raw| parse_metadata(raw, &mut violations));
        if !violations.is_empty() {
            return Err(UpdateOrganizationError::Invalid(violations));
        }
        let changes = OrganizationChanges { name, metadata };
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let mut organization = tx
                    .find_organization(env, id)?
                    .ok_or(UpdateOrganizationError::NotFound)?;
                organization.organization.apply(changes, now);
                tx.update_organization(&organization.organization)
                    .map_err(|e| match e {
                        StoreError::NotFound => UpdateOrganizationError::NotFound,
                        other => other.into(),
                    })?;
                tx.append_event(&ports.event(
                    &actor,
                    "organization.updated",
                    &representation::organization(&organization),
                ))?;
                Ok(organization)
            })
            .await
    }

    /// Deletes an organization and its memberships.
    ///
    /// # Errors
    /// [`OrganizationLookupError`].
    pub async fn delete(
        &self,
        actor: &Actor,
        id: OrganizationId,
    ) -> Result<(), OrganizationLookupError> {
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let organization = tx
                    .find_organization(env, id)?
                    .ok_or(OrganizationLookupError::NotFound)?;
                if !tx.delete_organization(env, id)? {
                    return Err(OrganizationLookupError::NotFound);
                }
                tx.append_event(&ports.event(
                    &actor,
                    "organization.deleted",
                    &representation::organization(&organization),
                ))?;
                Ok::<_, OrganizationLookupError>(())
            })
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

    fn service(tx: MockTx) -> (OrganizationService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (
            OrganizationService::new(fixed_ports(uow.clone(), None)),
            uow,
        )
    }

    fn existing() -> CountedOrganization {
        CountedOrganization {
            organization: Organization::found(
                OrganizationId::from_ulid(ulid::Ulid::from_parts(1, 1)),
                actor().environment_id(),
                OrganizationName::parse("Acme").unwrap(),
                Metadata::empty(),
                Timestamp::from_unix_micros(1).unwrap(),
            ),
            member_count: 3,
        }
    }

    #[tokio::test]
    async fn create_stores_the_organization_and_its_event_in_one_transaction() {
        let mut tx = MockTx::new();
        tx.expect_insert_organization()
            .withf(|o| {
                o.name.as_str() == "Acme Inc"
                    && o.metadata.as_str() == r#"{"tier":"gold"}"#
                    && o.created_at == now()
                    && o.environment_id == actor().environment_id()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "organization.created"
                    && e.resource_type == "organization"
                    && e.data.contains("Acme Inc")
                    && e.data.contains("\"member_count\":0")
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let created = service
            .create(
                &actor(),
                CreateOrganization {
                    name: "  Acme Inc ".into(),
                    metadata: Some(r#"{"tier":"gold"}"#.into()),
                },
            )
            .await
            .unwrap();

        assert_eq!(created.organization.name.as_str(), "Acme Inc");
        assert_eq!(created.member_count, 0);
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
    async fn create_reports_every_bad_attribute_and_touches_nothing() {
        let (service, uow) = service(MockTx::new());

        let Err(CreateOrganizationError::Invalid(violations)) = service
            .create(
                &actor(),
                CreateOrganization {
                    name: "  ".into(),
                    metadata: Some(format!(r#"{{"a":"{}"}}"#, "x".repeat(17 * 1024))),
                },
            )
            .await
        else {
            panic!("expected invalid");
        };

        let codes: Vec<_> = violations.iter().map(|v| (v.field, v.code)).collect();
        assert_eq!(
            codes,
            vec![("name", "invalid_name"), ("metadata", "metadata_too_large")]
        );
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn update_changes_given_fields_with_its_event() {
        let mut tx = MockTx::new();
        tx.expect_find_organization()
            .returning(|_, _| Ok(Some(existing())));
        tx.expect_update_organization()
            .withf(|o| {
                o.name.as_str() == "Globex" && o.metadata.as_str() == "{}" && o.updated_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "organization.updated" && e.data.contains("Globex"))
            .times(1)
            .returning(|_| Ok(()));
        let (service, _) = service(tx);

        let updated = service
            .update(
                &actor(),
                existing().organization.id,
                UpdateOrganization {
                    name: Some("Globex".into()),
                    metadata: None,
                },
            )
            .await
            .unwrap();

        assert_eq!(updated.member_count, 3);
    }

    #[tokio::test]
    async fn update_of_an_unknown_organization_is_not_found_and_rolls_back() {
        let mut tx = MockTx::new();
        tx.expect_find_organization().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);

        let result = service
            .update(
                &actor(),
                existing().organization.id,
                UpdateOrganization::default(),
            )
            .await;

        assert!(matches!(result, Err(UpdateOrganizationError::NotFound)));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn delete_emits_the_last_known_state() {
        let mut tx = MockTx::new();
        tx.expect_find_organization()
            .returning(|_, _| Ok(Some(existing())));
        tx.expect_delete_organization()
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "organization.deleted" && e.data.contains("\"member_count\":3")
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        service
            .delete(&actor(), existing().organization.id)
            .await
            .unwrap();

        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn delete_of_an_unknown_organization_is_not_found() {
        let mut tx = MockTx::new();
        tx.expect_find_organization().returning(|_, _| Ok(None));
        let (service, _) = service(tx);

        let result = service.delete(&actor(), existing().organization.id).await;

        assert!(matches!(result, Err(OrganizationLookupError::NotFound)));
    }
}
