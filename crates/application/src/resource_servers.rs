//! The resource-servers collection: the APIs of an environment that accept
//! access tokens. The identifier (the audience) is fixed after creation, and
//! the system resource server (the Management API) cannot be changed.
//! Every change commits with its audit event and then makes the token
//! endpoint forget what it remembered of the environment's clients.

use std::sync::Arc;

use portcullis_domain::ResourceServerId;
use portcullis_domain::oauth::{ResourceServer, TokenLifetime};
use portcullis_domain::resource_server::{
    ResourceServerChanges, ResourceServerIdentifier, ResourceServerName,
};
use portcullis_ports::store::{StoreError, Unique, UnitOfWork};

use crate::Ports;
use crate::client_memo::ClientMemo;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;

/// A new resource server as the caller sent it; values are checked by the service.
#[derive(Debug, Clone, Default)]
pub struct CreateResourceServer {
    /// Required display name.
    pub name: String,
    /// Required audience, an absolute URI unique per environment.
    pub identifier: String,
    /// Token lifetime in seconds; absent means one hour.
    pub token_lifetime: Option<i64>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateResourceServer {
    /// New display name.
    pub name: Option<String>,
    /// The identifier: accepted only when equal to the stored one.
    pub identifier: Option<String>,
    /// New token lifetime in seconds.
    pub token_lifetime: Option<i64>,
}

/// Why a resource server was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateResourceServerError {
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The environment has a resource server with this identifier.
    #[error("identifier already used in this environment")]
    IdentifierTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a resource server was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateResourceServerError {
    /// No such resource server in the environment.
    #[error("resource server not found")]
    NotFound,
    /// Attributes break rules (an identifier change among them).
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// It is the system resource server.
    #[error("the system resource server cannot be changed")]
    System,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a resource server could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum ResourceServerLookupError {
    /// No such resource server in the environment.
    #[error("resource server not found")]
    NotFound,
    /// It is the system resource server (delete only).
    #[error("the system resource server cannot be deleted")]
    System,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse_name(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<ResourceServerName> {
    ResourceServerName::parse(raw)
        .map_err(|e| violations.push(FieldViolation::new("name", "invalid_name", e)))
        .ok()
}

fn parse_lifetime(seconds: i64, violations: &mut Vec<FieldViolation>) -> Option<TokenLifetime> {
    TokenLifetime::new(seconds)
        .map_err(|e| {
            violations.push(FieldViolation::new(
                "token_lifetime",
                "invalid_token_lifetime",
                e,
            ));
        })
        .ok()
}

/// The resource-servers collection.
pub struct ResourceServerService<U> {
    ports: Ports<U>,
    memo: Arc<ClientMemo>,
}

impl<U> std::fmt::Debug for ResourceServerService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServerService")
            .finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> ResourceServerService<U> {
    /// A service on `ports`, invalidating `memo` after every change.
    pub fn new(ports: Ports<U>, memo: Arc<ClientMemo>) -> Self {
        Self { ports, memo }
    }

    /// Creates a resource server.
    ///
    /// # Errors
    /// [`CreateResourceServerError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateResourceServer,
    ) -> Result<ResourceServer, CreateResourceServerError> {
        let mut violations = Vec::new();
        let name = parse_name(&command.name, &mut violations);
        let identifier = ResourceServerIdentifier::parse(&command.identifier)
            .map_err(|e| {
                violations.push(FieldViolation::new("identifier", "invalid_identifier", e));
            })
            .ok();
        let lifetime = command
            .token_lifetime
            .map_or(Some(TokenLifetime::DEFAULT), |s| {
                parse_lifetime(s, &mut violations)
            });
        let (Some(name), Some(identifier), Some(lifetime), true) =
            (name, identifier, lifetime, violations.is_empty())
        else {
            return Err(CreateResourceServerError::Invalid(violations));
        };
        let server = ResourceServer::define(
            ResourceServerId::from_ulid(self.ports.ids.next_ulid()),
            actor.environment_id(),
            name,
            identifier,
            lifetime,
            self.ports.clock.now(),
        );
        let event = self.ports.event(
            actor,
            "resource_server.created",
            &representation::resource_server(&server),
        );
        let stored = server.clone();
        self.ports
            .store
            .transaction(move |tx| {
                tx.insert_resource_server(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::ResourceServerIdentifier) => {
                        CreateResourceServerError::IdentifierTaken
                    }
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok::<_, CreateResourceServerError>(())
            })
            .await?;
        self.memo.forget(actor.environment_id());
        Ok(server)
    }

    /// One resource server.
    ///
    /// # Errors
    /// [`ResourceServerLookupError::NotFound`] or the store's failure.
    pub async fn get(
        &self,
        actor: &Actor,
        id: ResourceServerId,
    ) -> Result<ResourceServer, ResourceServerLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_resource_server(env, id))
            .await?
            .ok_or(ResourceServerLookupError::NotFound)
    }

    /// One page of resource servers, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageParams,
    ) -> Result<Page<ResourceServer>, StoreError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_resource_servers(env, &keyset))
            .await?;
        Ok(page.page(rows, |server| server.id.to_string()))
    }

    /// Applies a partial update.
    ///
    /// # Errors
    /// [`UpdateResourceServerError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: ResourceServerId,
        command: UpdateResourceServer,
    ) -> Result<ResourceServer, UpdateResourceServerError> {
        let mut violations = Vec::new();
        let name = command
            .name
            .and_then(|raw| parse_name(&raw, &mut violations));
        let token_lifetime = command
            .token_lifetime
            .and_then(|s| parse_lifetime(s, &mut violations));
        if !violations.is_empty() {
            return Err(UpdateResourceServerError::Invalid(violations));
        }
        let changes = ResourceServerChanges {
            name,
            token_lifetime,
        };
        let identifier = command.identifier;
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let event_actor = actor.clone();
        let server = self
            .ports
            .store
            .transaction(move |tx| {
                let mut server = tx
                    .find_resource_server(env, id)?
                    .ok_or(UpdateResourceServerError::NotFound)?;
                server
                    .apply(changes, now)
                    .map_err(|_| UpdateResourceServerError::System)?;
                if identifier.is_some_and(|given| given != server.identifier) {
                    return Err(UpdateResourceServerError::Invalid(vec![
                        FieldViolation::new(
                            "identifier",
                            "identifier_immutable",
                            "identifier cannot change after creation",
                        ),
                    ]));
                }
                tx.update_resource_server(&server).map_err(|e| match e {
                    StoreError::NotFound => UpdateResourceServerError::NotFound,
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &event_actor,
                    "resource_server.updated",
                    &representation::resource_server(&server),
                ))?;
                Ok(server)
            })
            .await?;
        self.memo.forget(env);
        Ok(server)
    }

    /// Deletes a resource server with its scopes and client grants.
    ///
    /// # Errors
    /// [`ResourceServerLookupError`].
    pub async fn delete(
        &self,
        actor: &Actor,
        id: ResourceServerId,
    ) -> Result<(), ResourceServerLookupError> {
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let event_actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let server = tx
                    .find_resource_server(env, id)?
                    .ok_or(ResourceServerLookupError::NotFound)?;
                server
                    .ensure_mutable()
                    .map_err(|_| ResourceServerLookupError::System)?;
                if !tx.delete_resource_server(env, id)? {
                    return Err(ResourceServerLookupError::NotFound);
                }
                tx.append_event(&ports.event(
                    &event_actor,
                    "resource_server.deleted",
                    &representation::resource_server(&server),
                ))?;
                Ok::<_, ResourceServerLookupError>(())
            })
            .await?;
        self.memo.forget(env);
        Ok(())
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

    fn service(tx: MockTx) -> (ResourceServerService<InlineUow>, InlineUow, Arc<ClientMemo>) {
        let uow = InlineUow::new(tx);
        let memo = Arc::new(ClientMemo::new(60));
        (
            ResourceServerService::new(fixed_ports(uow.clone(), None), Arc::clone(&memo)),
            uow,
            memo,
        )
    }

    fn orders() -> CreateResourceServer {
        CreateResourceServer {
            name: " Orders ".into(),
            identifier: "https://orders.example.com/api".into(),
            token_lifetime: None,
        }
    }

    fn existing(system: bool) -> ResourceServer {
        ResourceServer {
            id: ResourceServerId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            environment_id: actor().environment_id(),
            name: "Orders".into(),
            identifier: "https://orders.example.com/api".into(),
            token_lifetime: TokenLifetime::DEFAULT,
            system,
            created_at: Timestamp::from_unix_micros(1).unwrap(),
            updated_at: Timestamp::from_unix_micros(1).unwrap(),
        }
    }

    #[tokio::test]
    async fn create_stores_the_server_and_its_event_then_forgets_the_memo() {
        let mut tx = MockTx::new();
        tx.expect_insert_resource_server()
            .withf(|rs| {
                rs.name == "Orders"
                    && rs.identifier == "https://orders.example.com/api"
                    && rs.token_lifetime == TokenLifetime::DEFAULT
                    && !rs.system
                    && rs.created_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "resource_server.created"
                    && e.resource_type == "resource_server"
                    && e.data.contains("orders.example.com")
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        let server = service.create(&actor(), orders()).await.unwrap();

        assert_eq!(server.token_lifetime.seconds(), 3_600);
        assert_eq!(uow.log().committed, 1);
        assert_eq!(memo.generation(), generation + 1, "memo forgotten");
    }

    #[tokio::test]
    async fn a_taken_identifier_is_a_conflict_and_the_memo_is_kept() {
        let mut tx = MockTx::new();
        tx.expect_insert_resource_server()
            .returning(|_| Err(StoreError::Conflict(Unique::ResourceServerIdentifier)));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        let err = service.create(&actor(), orders()).await.unwrap_err();

        assert!(matches!(err, CreateResourceServerError::IdentifierTaken));
        assert_eq!(uow.log().rolled_back, 1);
        assert_eq!(memo.generation(), generation);
    }

    #[tokio::test]
    async fn every_invalid_attribute_is_reported_and_nothing_is_touched() {
        let (service, uow, _) = service(MockTx::new());
        let command = CreateResourceServer {
            name: " ".into(),
            identifier: "orders".into(),
            token_lifetime: Some(59),
        };
        let Err(CreateResourceServerError::Invalid(violations)) =
            service.create(&actor(), command).await
        else {
            panic!("expected violations");
        };
        let codes: Vec<_> = violations.iter().map(|v| (v.field, v.code)).collect();
        assert_eq!(
            codes,
            [
                ("name", "invalid_name"),
                ("identifier", "invalid_identifier"),
                ("token_lifetime", "invalid_token_lifetime"),
            ]
        );
        let update = UpdateResourceServer {
            token_lifetime: Some(86_401),
            ..UpdateResourceServer::default()
        };
        let err = service.update(&actor(), existing(false).id, update).await;
        assert!(
            matches!(err, Err(UpdateResourceServerError::Invalid(v)) if v[0].field == "token_lifetime")
        );
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn update_keeps_the_identifier_and_records_the_change() {
        let mut tx = MockTx::new();
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(existing(false))));
        tx.expect_update_resource_server()
            .withf(|rs| rs.token_lifetime.seconds() == 60 && rs.updated_at == now())
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "resource_server.updated")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();
        let update = UpdateResourceServer {
            identifier: Some("https://orders.example.com/api".into()),
            token_lifetime: Some(60),
            ..UpdateResourceServer::default()
        };

        let server = service
            .update(&actor(), existing(false).id, update)
            .await
            .unwrap();

        assert_eq!(server.token_lifetime.seconds(), 60);
        assert_eq!(uow.log().committed, 1);
        assert_eq!(memo.generation(), generation + 1);
    }

    #[tokio::test]
    async fn another_identifier_is_refused_and_rolls_back() {
        let mut tx = MockTx::new();
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(existing(false))));
        let (service, uow, _) = service(tx);
        let update = UpdateResourceServer {
            identifier: Some("https://other.example.com".into()),
            ..UpdateResourceServer::default()
        };
        let err = service.update(&actor(), existing(false).id, update).await;
        assert!(
            matches!(err, Err(UpdateResourceServerError::Invalid(v)) if v[0].code == "identifier_immutable")
        );
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn the_system_server_is_neither_updated_nor_deleted() {
        let mut tx = MockTx::new();
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(existing(true))));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();
        let update = UpdateResourceServer {
            name: Some("Mine".into()),
            ..UpdateResourceServer::default()
        };
        let err = service.update(&actor(), existing(true).id, update).await;
        assert!(matches!(err, Err(UpdateResourceServerError::System)));
        let err = service.delete(&actor(), existing(true).id).await;
        assert!(matches!(err, Err(ResourceServerLookupError::System)));
        assert_eq!(uow.log().rolled_back, 2);
        assert_eq!(memo.generation(), generation);
    }

    #[tokio::test]
    async fn missing_servers_are_not_found() {
        let mut tx = MockTx::new();
        tx.expect_find_resource_server().returning(|_, _| Ok(None));
        let (service, _, _) = service(tx);
        let id = existing(false).id;
        assert!(matches!(
            service.get(&actor(), id).await,
            Err(ResourceServerLookupError::NotFound)
        ));
        assert!(matches!(
            service
                .update(&actor(), id, UpdateResourceServer::default())
                .await,
            Err(UpdateResourceServerError::NotFound)
        ));
        assert!(matches!(
            service.delete(&actor(), id).await,
            Err(ResourceServerLookupError::NotFound)
        ));
    }

    #[tokio::test]
    async fn delete_removes_the_server_with_its_event_then_forgets_the_memo() {
        let mut tx = MockTx::new();
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(existing(false))));
        tx.expect_delete_resource_server()
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "resource_server.deleted")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        service.delete(&actor(), existing(false).id).await.unwrap();

        assert_eq!(uow.log().committed, 1);
        assert_eq!(memo.generation(), generation + 1);
    }

    #[tokio::test]
    async fn listing_hands_out_the_last_id_as_cursor() {
        let mut tx = MockTx::new();
        tx.expect_list_resource_servers()
            .withf(|_, page| page.limit == 2 && page.descending)
            .returning(|_, _| Ok(vec![existing(false), existing(true)]));
        let (service, _, _) = service(tx);
        let page = PageParams {
            size: 1,
            descending: true,
            ..PageParams::default()
        };
        let page = service.list(&actor(), page).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.next_after, Some(existing(false).id.to_string()));
    }
}
