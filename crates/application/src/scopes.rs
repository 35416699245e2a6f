//! The scopes collection: the scopes a resource server defines. A scope
//! belongs to one resource server for life; the system resource server's
//! scopes are fixed. Client grants name scopes by name, so renaming a scope
//! renames it in every grant of its resource server, and deleting one drops
//! it from them, in the same transaction (each grant touched gets its own
//! `client_grant.updated` event). Every change then makes the token
//! endpoint forget what it remembered of the environment's clients.

use std::sync::Arc;

use portcullis_domain::oauth::Scope;
use portcullis_domain::resource_server::ScopeName;
use portcullis_domain::{EnvironmentId, ResourceServerId, ScopeId};
use portcullis_ports::store::{ScopeQuery, StoreError, Tx, Unique, UnitOfWork};

use crate::Ports;
use crate::client_memo::ClientMemo;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;
use crate::validation::parse_description;

/// A new scope as the caller sent it; values are checked by the service.
#[derive(Debug, Clone)]
pub struct CreateScope {
    /// Required name, an RFC 6749 scope token unique within its resource server.
    pub name: String,
    /// What the scope allows; absent means empty.
    pub description: Option<String>,
    /// The resource server it belongs to.
    pub resource_server: ResourceServerId,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateScope {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// The resource server id the request names, if any: accepted only when
    /// it is the scope's own.
    pub resource_server: Option<String>,
}

/// Filters of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeFilter {
    /// Only the scopes of this resource server.
    pub resource_server: Option<ResourceServerId>,
}

/// Why a scope was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateScopeError {
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// No such resource server in the environment.
    #[error("resource server not found in this environment")]
    UnknownResourceServer,
    /// The resource server is the system one.
    #[error("the system resource server's scopes cannot be changed")]
    System,
    /// The resource server has a scope with this name.
    #[error("scope name already defined in this resource server")]
    NameTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a scope was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateScopeError {
    /// No such scope in the environment.
    #[error("scope not found")]
    NotFound,
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The request names another resource server.
    #[error("a scope cannot move to another resource server")]
    ResourceServerFixed,
    /// It is a scope of the system resource server.
    #[error("the system resource server's scopes cannot be changed")]
    System,
    /// Another scope of the resource server has this name.
    #[error("scope name already defined in this resource server")]
    NameTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a scope could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum ScopeLookupError {
    /// No such scope in the environment.
    #[error("scope not found")]
    NotFound,
    /// It is a scope of the system resource server (delete only).
    #[error("the system resource server's scopes cannot be deleted")]
    System,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse_name(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<ScopeName> {
    ScopeName::parse(raw)
        .map_err(|e| violations.push(FieldViolation::new("name", "invalid_name", e)))
        .ok()
}

/// Whether the scope's resource server is a system one (`None`: it is gone).
fn is_system(
    tx: &mut dyn Tx,
    env: EnvironmentId,
    id: ResourceServerId,
) -> Result<Option<bool>, StoreError> {
    Ok(tx.find_resource_server(env, id)?.map(|rs| rs.system))
}

/// The scopes collection.
pub struct ScopeService<U> {
    ports: Ports<U>,
    memo: Arc<ClientMemo>,
}

impl<U> std::fmt::Debug for ScopeService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> ScopeService<U> {
    /// A service on `ports`, invalidating `memo` after every change.
    pub fn new(ports: Ports<U>, memo: Arc<ClientMemo>) -> Self {
        Self { ports, memo }
    }

    /// Rewrites, with `edit`, every grant of `scope`'s resource server that
    /// names the scope, with one `client_grant.updated` event per grant.
    fn rewrite_grants(
        ports: &Ports<U>,
        actor: &Actor,
        tx: &mut dyn Tx,
        scope: &Scope,
        edit: &dyn Fn(&mut portcullis_domain::oauth::ClientGrant) -> bool,
    ) -> Result<(), StoreError> {
        let grants = tx.lock_client_grants_of_resource_server(
            scope.environment_id,
            scope.resource_server_id,
        )?;
        for mut grant in grants {
            if edit(&mut grant) {
                tx.update_client_grant_scopes(&grant)?;
                tx.append_event(&ports.event(
                    actor,
                    "client_grant.updated",
                    &representation::client_grant(&grant),
                ))?;
            }
        }
        Ok(())
    }

    /// Creates a scope.
    ///
    /// # Errors
    /// [`CreateScopeError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateScope,
    ) -> Result<Scope, CreateScopeError> {
        let mut violations = Vec::new();
        let name = parse_name(&command.name, &mut violations);
        let description = command
            .description
            .as_deref()
            .map_or(Some(String::new()), |d| {
                parse_description(d, &mut violations).map(|d| d.as_str().to_owned())
            });
        let (Some(name), Some(description), true) = (name, description, violations.is_empty())
        else {
            return Err(CreateScopeError::Invalid(violations));
        };
        let env = actor.environment_id();
        let id = ScopeId::from_ulid(self.ports.ids.next_ulid());
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let event_actor = actor.clone();
        let resource_server = command.resource_server;
        let scope = self
            .ports
            .store
            .transaction(move |tx| {
                let server = tx
                    .find_resource_server(env, resource_server)?
                    .ok_or(CreateScopeError::UnknownResourceServer)?;
                let scope = Scope::define(id, &server, name, description, now)
                    .map_err(|_| CreateScopeError::System)?;
                tx.insert_scopes(std::slice::from_ref(&scope))
                    .map_err(|e| match e {
                        StoreError::Conflict(Unique::ScopeName) => CreateScopeError::NameTaken,
                        other => other.into(),
                    })?;
                tx.append_event(&ports.event(
                    &event_actor,
                    "scope.created",
                    &representation::scope(&scope),
                ))?;
                Ok::<_, CreateScopeError>(scope)
            })
            .await?;
        self.memo.forget(env);
        Ok(scope)
    }

    /// One scope.
    ///
    /// # Errors
    /// [`ScopeLookupError::NotFound`] or the store's failure.
    pub async fn get(&self, actor: &Actor, id: ScopeId) -> Result<Scope, ScopeLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_scope(env, id))
            .await?
            .ok_or(ScopeLookupError::NotFound)
    }

    /// One page of scopes, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: ScopeFilter,
        page: PageParams,
    ) -> Result<Page<Scope>, StoreError> {
        let env = actor.environment_id();
        let query = ScopeQuery {
            resource_server: filter.resource_server,
            page: page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_scopes(env, &query))
            .await?;
        Ok(page.page(rows, |scope| scope.id.to_string()))
    }

    /// Applies a partial update; a new name is carried into the grants.
    ///
    /// # Errors
    /// [`UpdateScopeError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: ScopeId,
        command: UpdateScope,
    ) -> Result<Scope, UpdateScopeError> {
        let mut violations = Vec::new();
        let name = command
            .name
            .and_then(|raw| parse_name(&raw, &mut violations));
        let description = command
            .description
            .and_then(|raw| parse_description(&raw, &mut violations));
        if !violations.is_empty() {
            return Err(UpdateScopeError::Invalid(violations));
        }
        let named_server = command.resource_server;
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let event_actor = actor.clone();
        let scope = self
            .ports
            .store
            .transaction(move |tx| {
                let mut scope = tx.find_scope(env, id)?.ok_or(UpdateScopeError::NotFound)?;
                if named_server.is_some_and(|raw| {
                    ResourceServerId::parse(&raw).ok() != Some(scope.resource_server_id)
                }) {
                    return Err(UpdateScopeError::ResourceServerFixed);
                }
                if is_system(tx, env, scope.resource_server_id)?.unwrap_or(false) {
                    return Err(UpdateScopeError::System);
                }
                let old_name = scope.name.clone();
                if let Some(name) = name {
                    scope.name = name.into_string();
                }
                if let Some(description) = description {
                    scope.description = description.as_str().to_owned();
                }
                tx.update_scope(&scope).map_err(|e| match e {
                    StoreError::Conflict(Unique::ScopeName) => UpdateScopeError::NameTaken,
                    StoreError::NotFound => UpdateScopeError::NotFound,
                    other => other.into(),
                })?;
                if scope.name != old_name {
                    let new_name = scope.name.clone();
                    Self::rewrite_grants(&ports, &event_actor, tx, &scope, &|grant| {
                        grant.rename_scope(&old_name, &new_name)
                    })?;
                }
                tx.append_event(&ports.event(
                    &event_actor,
                    "scope.updated",
                    &representation::scope(&scope),
                ))?;
                Ok::<_, UpdateScopeError>(scope)
            })
            .await?;
        self.memo.forget(env);
        Ok(scope)
    }

    /// Deletes a scope and drops its name from every grant.
    ///
    /// # Errors
    /// [`ScopeLookupError`].
    pub async fn delete(&self, actor: &Actor, id: ScopeId) -> Result<(), ScopeLookupError> {
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let event_actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let scope = tx.find_scope(env, id)?.ok_or(ScopeLookupError::NotFound)?;
                if is_system(tx, env, scope.resource_server_id)?.unwrap_or(false) {
                    return Err(ScopeLookupError::System);
                }
                if !tx.delete_scope(env, id)? {
                    return Err(ScopeLookupError::NotFound);
                }
                Self::rewrite_grants(&ports, &event_actor, tx, &scope, &|grant| {
                    grant.drop_scope(&scope.name)
                })?;
                tx.append_event(&ports.event(
                    &event_actor,
                    "scope.deleted",
                    &representation::scope(&scope),
                ))?;
                Ok::<_, ScopeLookupError>(())
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
    use portcullis_domain::oauth::{ClientGrant, ResourceServer, TokenLifetime};
    use portcullis_domain::{ClientGrantId, ClientId, Timestamp};
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};
    use std::sync::Mutex;

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn service(tx: MockTx) -> (ScopeService<InlineUow>, InlineUow, Arc<ClientMemo>) {
        let uow = InlineUow::new(tx);
        let memo = Arc::new(ClientMemo::new(60));
        (
            ScopeService::new(fixed_ports(uow.clone(), None), Arc::clone(&memo)),
            uow,
            memo,
        )
    }

    fn server(system: bool) -> ResourceServer {
        ResourceServer {
            id: ResourceServerId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            environment_id: actor().environment_id(),
            name: "Orders".into(),
            identifier: "https://orders.example.com".into(),
            token_lifetime: TokenLifetime::DEFAULT,
            system,
            created_at: Timestamp::from_unix_micros(1).unwrap(),
            updated_at: Timestamp::from_unix_micros(1).unwrap(),
        }
    }

    fn existing() -> Scope {
        Scope {
            id: ScopeId::from_ulid(ulid::Ulid::from_parts(2, 2)),
            environment_id: actor().environment_id(),
            resource_server_id: server(false).id,
            name: "orders:read".into(),
            description: String::new(),
            created_at: Timestamp::from_unix_micros(1).unwrap(),
        }
    }

    fn grant(n: u128, scopes: &[&str]) -> ClientGrant {
        ClientGrant {
            id: ClientGrantId::from_ulid(ulid::Ulid::from_parts(3, n)),
            environment_id: actor().environment_id(),
            client_id: ClientId::from_ulid(ulid::Ulid::from_parts(4, n)),
            resource_server_id: server(false).id,
            allowed_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created_at: Timestamp::from_unix_micros(1).unwrap(),
        }
    }

    fn create_read() -> CreateScope {
        CreateScope {
            name: "orders:read".into(),
            description: Some("Read orders".into()),
            resource_server: server(false).id,
        }
    }

    #[tokio::test]
    async fn create_stores_the_scope_and_its_event_then_forgets_the_memo() {
        let mut tx = MockTx::new();
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(server(false))));
        tx.expect_insert_scopes()
            .withf(|s| {
                s.len() == 1
                    && s[0].name == "orders:read"
                    && s[0].description == "Read orders"
                    && s[0].resource_server_id == server(false).id
                    && s[0].created_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "scope.created" && e.resource_type == "scope")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        let scope = service.create(&actor(), create_read()).await.unwrap();

        assert_eq!(scope.name, "orders:read");
        assert_eq!(uow.log().committed, 1);
        assert_eq!(memo.generation(), generation + 1);
    }

    #[tokio::test]
    async fn create_refuses_unknown_and_system_servers_and_taken_names() {
        let answers = Mutex::new(vec![Some(server(false)), Some(server(true)), None]);
        let mut tx = MockTx::new();
        tx.expect_find_resource_server()
            .returning(move |_, _| Ok(answers.lock().unwrap().pop().unwrap()));
        tx.expect_insert_scopes()
            .times(1)
            .returning(|_| Err(StoreError::Conflict(Unique::ScopeName)));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        let err = service.create(&actor(), create_read()).await.unwrap_err();
        assert!(
            matches!(err, CreateScopeError::UnknownResourceServer),
            "{err:?}"
        );
        let err = service.create(&actor(), create_read()).await.unwrap_err();
        assert!(matches!(err, CreateScopeError::System), "{err:?}");
        let err = service.create(&actor(), create_read()).await.unwrap_err();
        assert!(matches!(err, CreateScopeError::NameTaken), "{err:?}");
        assert_eq!(uow.log().rolled_back, 3);
        assert_eq!(memo.generation(), generation);
    }

    #[tokio::test]
    async fn invalid_attributes_touch_nothing() {
        let (service, uow, _) = service(MockTx::new());
        let command = CreateScope {
            name: "orders read".into(),
            description: Some("x".repeat(501)),
            ..create_read()
        };
        let Err(CreateScopeError::Invalid(violations)) = service.create(&actor(), command).await
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
        let update = UpdateScope {
            name: Some("a\"b".into()),
            ..UpdateScope::default()
        };
        assert!(matches!(
            service.update(&actor(), existing().id, update).await,
            Err(UpdateScopeError::Invalid(_))
        ));
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn renaming_rewrites_the_grants_that_name_the_scope() {
        let mut tx = MockTx::new();
        tx.expect_find_scope()
            .returning(|_, _| Ok(Some(existing())));
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(server(false))));
        tx.expect_update_scope()
            .withf(|s| s.name == "orders:list")
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_lock_client_grants_of_resource_server()
            .returning(|_, _| Ok(vec![grant(1, &["orders:read", "x"]), grant(2, &["x"])]));
        tx.expect_update_client_grant_scopes()
            .withf(|g| g.id == grant(1, &[]).id && g.allowed_scopes == ["orders:list", "x"])
            .times(1)
            .returning(|_| Ok(()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        tx.expect_append_event().returning(move |e| {
            seen.lock().unwrap().push(e.event_type.clone());
            Ok(())
        });
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();
        let update = UpdateScope {
            name: Some("orders:list".into()),
            resource_server: Some(server(false).id.to_string()),
            ..UpdateScope::default()
        };

        let scope = service
            .update(&actor(), existing().id, update)
            .await
            .unwrap();

        assert_eq!(scope.name, "orders:list");
        assert_eq!(
            *events.lock().unwrap(),
            ["client_grant.updated", "scope.updated"]
        );
        assert_eq!(uow.log().committed, 1);
        assert_eq!(memo.generation(), generation + 1);
    }

    #[tokio::test]
    async fn a_description_change_leaves_the_grants_alone() {
        let mut tx = MockTx::new();
        tx.expect_find_scope()
            .returning(|_, _| Ok(Some(existing())));
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(server(false))));
        tx.expect_update_scope()
            .withf(|s| s.description == "New")
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "scope.updated")
            .times(1)
            .returning(|_| Ok(()));
        let (service, _, _) = service(tx);
        let update = UpdateScope {
            description: Some("New".into()),
            name: Some("orders:read".into()),
            ..UpdateScope::default()
        };
        service
            .update(&actor(), existing().id, update)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn updates_refuse_moves_system_scopes_and_taken_names() {
        let systems = Mutex::new(vec![false, true]);
        let mut tx = MockTx::new();
        tx.expect_find_scope()
            .returning(|_, _| Ok(Some(existing())));
        tx.expect_find_resource_server()
            .returning(move |_, _| Ok(Some(server(systems.lock().unwrap().pop().unwrap()))));
        tx.expect_update_scope()
            .times(1)
            .returning(|_| Err(StoreError::Conflict(Unique::ScopeName)));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();
        let id = existing().id;

        let moved = UpdateScope {
            resource_server: Some(ResourceServerId::from_ulid(ulid::Ulid::nil()).to_string()),
            ..UpdateScope::default()
        };
        let err = service.update(&actor(), id, moved).await.unwrap_err();
        assert!(
            matches!(err, UpdateScopeError::ResourceServerFixed),
            "{err:?}"
        );
        let rename = UpdateScope {
            name: Some("orders:write".into()),
            ..UpdateScope::default()
        };
        let err = service
            .update(&actor(), id, rename.clone())
            .await
            .unwrap_err();
        assert!(matches!(err, UpdateScopeError::System), "{err:?}");
        let err = service.update(&actor(), id, rename).await.unwrap_err();
        assert!(matches!(err, UpdateScopeError::NameTaken), "{err:?}");
        assert_eq!(uow.log().rolled_back, 3);
        assert_eq!(memo.generation(), generation);
    }

    #[tokio::test]
    async fn delete_prunes_the_grants_with_their_events() {
        let mut tx = MockTx::new();
        tx.expect_find_scope()
            .returning(|_, _| Ok(Some(existing())));
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(server(false))));
        tx.expect_delete_scope().times(1).returning(|_, _| Ok(true));
        tx.expect_lock_client_grants_of_resource_server()
            .returning(|_, _| {
                Ok(vec![
                    grant(1, &["orders:read"]),
                    grant(2, &["x", "orders:read", "y"]),
                    grant(3, &["x"]),
                ])
            });
        let stored = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&stored);
        tx.expect_update_client_grant_scopes().returning(move |g| {
            seen.lock().unwrap().push(g.allowed_scopes.clone());
            Ok(())
        });
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        tx.expect_append_event().returning(move |e| {
            seen.lock().unwrap().push(e.event_type.clone());
            Ok(())
        });
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        service.delete(&actor(), existing().id).await.unwrap();

        assert_eq!(
            *stored.lock().unwrap(),
            [vec![], vec!["x".to_owned(), "y".to_owned()]]
        );
        assert_eq!(
            *events.lock().unwrap(),
            [
                "client_grant.updated",
                "client_grant.updated",
                "scope.deleted"
            ]
        );
        assert_eq!(uow.log().committed, 1);
        assert_eq!(memo.generation(), generation + 1);
    }

    #[tokio::test]
    async fn system_scopes_and_missing_scopes_are_not_deleted() {
        let answers = Mutex::new(vec![Some(existing()), None]);
        let mut tx = MockTx::new();
        tx.expect_find_scope()
            .returning(move |_, _| Ok(answers.lock().unwrap().pop().unwrap()));
        tx.expect_find_resource_server()
            .returning(|_, _| Ok(Some(server(true))));
        let (service, uow, _) = service(tx);
        let err = service.delete(&actor(), existing().id).await.unwrap_err();
        assert!(matches!(err, ScopeLookupError::NotFound), "{err:?}");
        let err = service.delete(&actor(), existing().id).await.unwrap_err();
        assert!(matches!(err, ScopeLookupError::System), "{err:?}");
        assert_eq!(uow.log().rolled_back, 2);
    }

    #[tokio::test]
    async fn listing_passes_the_filter_and_pages() {
        let mut tx = MockTx::new();
        tx.expect_list_scopes()
            .withf(|_, q| q.resource_server == Some(server(false).id) && q.page.limit == 26)
            .times(1)
            .returning(|_, _| Ok(vec![existing()]));
        let (service, uow, _) = service(tx);
        let filter = ScopeFilter {
            resource_server: Some(server(false).id),
        };
        let page = service
            .list(&actor(), filter, PageParams::default())
            .await
            .unwrap();
        assert_eq!(page.items, [existing()]);
        assert_eq!(page.next_after, None);
        assert_eq!(uow.log().reads, 1);
    }
}
