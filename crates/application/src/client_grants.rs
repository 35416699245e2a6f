//! The client-grants collection: which resource server a client may get
//! tokens for, and which of its scopes. Both ends must be of the caller's
//! environment and are fixed for the grant's life; a pair is granted once.
//! `allowed_scopes` are checked against the resource server's scopes read,
//! and locked, in the same transaction as the write, so that a scope renamed
//! or deleted concurrently cannot leave a stale name behind. A caller cannot
//! delete or narrow its own grant for the Management API (it would lock
//! itself out). Every change commits with its audit event, then makes the
//! token endpoint forget what it remembered of the environment's clients.

use std::sync::Arc;

use portcullis_domain::oauth::ClientGrant;
use portcullis_domain::resource_server::AllowedScopeError;
use portcullis_domain::{ClientGrantId, ClientId, EnvironmentId, ResourceServerId};
use portcullis_ports::store::{ClientGrantQuery, StoreError, Tx, Unique, UnitOfWork};

use crate::Ports;
use crate::client_memo::ClientMemo;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;

/// A new grant as the caller sent it.
#[derive(Debug, Clone)]
pub struct CreateClientGrant {
    /// The client granted.
    pub client: ClientId,
    /// The resource server it may get tokens for.
    pub resource_server: ResourceServerId,
    /// Scope names of that resource server; absent means none.
    pub allowed_scopes: Option<Vec<String>>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateClientGrant {
    /// The new scope names (replacing the old ones).
    pub allowed_scopes: Option<Vec<String>>,
    /// The client id the request names, if any: accepted only when it is
    /// the grant's own.
    pub client: Option<String>,
    /// The resource server id the request names, if any: accepted only when
    /// it is the grant's own.
    pub resource_server: Option<String>,
}

/// Filters of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientGrantFilter {
    /// Only the grants of this client.
    pub client: Option<ClientId>,
    /// Only the grants for this resource server.
    pub resource_server: Option<ResourceServerId>,
}

/// Why a grant was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateClientGrantError {
    /// `allowed_scopes` breaks rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// No such client in the environment.
    #[error("client not found in this environment")]
    UnknownClient,
    /// No such resource server in the environment.
    #[error("resource server not found in this environment")]
    UnknownResourceServer,
    /// The client already has a grant for the resource server.
    #[error("the client already has a grant for this resource server")]
    Duplicate,
    /// The grant would hand on a Management API scope the caller does not
    /// hold itself.
    #[error(transparent)]
    NotHeld(#[from] ScopeNotHeld),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a grant was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateClientGrantError {
    /// No such grant in the environment.
    #[error("client grant not found")]
    NotFound,
    /// `allowed_scopes` breaks rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The request names another client.
    #[error("a grant cannot move to another client")]
    ClientFixed,
    /// The request names another resource server.
    #[error("a grant cannot move to another resource server")]
    ResourceServerFixed,
    /// The caller would remove scopes from its own Management API grant.
    #[error("a client cannot narrow its own Management API grant")]
    SelfLockout,
    /// The grant would be widened by a Management API scope the caller does
    /// not hold itself.
    #[error(transparent)]
    NotHeld(#[from] ScopeNotHeld),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a grant could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteClientGrantError {
    /// No such grant in the environment.
    #[error("client grant not found")]
    NotFound,
    /// It is the caller's own Management API grant.
    #[error("a client cannot delete its own Management API grant")]
    SelfLockout,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a grant could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClientGrantLookupError {
    /// No such grant in the environment.
    #[error("client grant not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A Management API scope the caller would grant without holding it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the caller cannot grant the `{scope}` scope: its token does not carry it")]
pub struct ScopeNotHeld {
    /// The first such scope, in request order.
    pub scope: String,
    /// Its position in `allowed_scopes`.
    pub index: usize,
}

/// The first scope of `granted`, not in `already`, that `actor` does not
/// hold; on the Management API (the system resource server) such a scope
/// cannot be granted: nobody hands on a power it does not have.
fn first_unheld(actor: &Actor, granted: &[String], already: &[String]) -> Option<ScopeNotHeld> {
    granted
        .iter()
        .enumerate()
        .find(|(_, scope)| !already.contains(scope) && !actor.holds(scope))
        .map(|(index, scope)| ScopeNotHeld {
            scope: scope.clone(),
            index,
        })
}

/// Checks `names` against the scopes of `resource_server`, read and locked
/// in `tx`; the violations point at the offending entries.
fn check_scopes(
    tx: &mut dyn Tx,
    env: EnvironmentId,
    resource_server: ResourceServerId,
    names: &[String],
) -> Result<Vec<FieldViolation>, StoreError> {
    let defined = tx.lock_scopes_of_resource_server(env, resource_server)?;
    Ok(ClientGrant::check_allowed_scopes(names, &defined)
        .into_iter()
        .map(|(index, error)| {
            let code = match error {
                AllowedScopeError::Unknown(_) => "unknown_scope",
                AllowedScopeError::Duplicate(_) => "duplicate_scope",
            };
            FieldViolation::new("allowed_scopes", code, error).at_index(index)
        })
        .collect())
}

/// Whether `grant` is `actor`'s own grant for the system resource server.
fn is_own_management_grant(
    tx: &mut dyn Tx,
    actor: &Actor,
    grant: &ClientGrant,
) -> Result<bool, StoreError> {
    let env = grant.environment_id;
    let system = tx
        .find_resource_server(env, grant.resource_server_id)?
        .is_some_and(|server| server.system);
    if !system {
        return Ok(false);
    }
    Ok(tx
        .find_client(env, grant.client_id)?
        .is_some_and(|client| client.client_id == actor.name()))
}

/// The client-grants collection.
pub struct ClientGrantService<U> {
    ports: Ports<U>,
    memo: Arc<ClientMemo>,
}

impl<U> std::fmt::Debug for ClientGrantService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientGrantService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> ClientGrantService<U> {
    /// A service on `ports`, invalidating `memo` after every change.
    pub fn new(ports: Ports<U>, memo: Arc<ClientMemo>) -> Self {
        Self { ports, memo }
    }

    /// Grants `command.resource_server` to `command.client`.
    ///
    /// # Errors
    /// [`CreateClientGrantError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateClientGrant,
    ) -> Result<ClientGrant, CreateClientGrantError> {
        let env = actor.environment_id();
        let grant = ClientGrant {
            id: ClientGrantId::from_ulid(self.ports.ids.next_ulid()),
            environment_id: env,
            client_id: command.client,
            resource_server_id: command.resource_server,
            allowed_scopes: command.allowed_scopes.unwrap_or_default(),
            created_at: self.ports.clock.now(),
        };
        let event = self.ports.event(
            actor,
            "client_grant.created",
            &representation::client_grant(&grant),
        );
        let stored = grant.clone();
        let granting = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                if tx.find_client(env, stored.client_id)?.is_none() {
                    return Err(CreateClientGrantError::UnknownClient);
                }
                let server = tx
                    .find_resource_server(env, stored.resource_server_id)?
                    .ok_or(CreateClientGrantError::UnknownResourceServer)?;
                let violations =
                    check_scopes(tx, env, stored.resource_server_id, &stored.allowed_scopes)?;
                if !violations.is_empty() {
                    return Err(CreateClientGrantError::Invalid(violations));
                }
                if server.system
                    && let Some(unheld) = first_unheld(&granting, &stored.allowed_scopes, &[])
                {
                    return Err(unheld.into());
                }
                tx.insert_client_grant(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::ClientGrant) => CreateClientGrantError::Duplicate,
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok(())
            })
            .await?;
        self.memo.forget(env);
        Ok(grant)
    }

    /// One grant.
    ///
    /// # Errors
    /// [`ClientGrantLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: ClientGrantId,
    ) -> Result<ClientGrant, ClientGrantLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_client_grant_by_id(env, id))
            .await?
            .ok_or(ClientGrantLookupError::NotFound)
    }

    /// One page of grants, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: ClientGrantFilter,
        page: PageParams,
    ) -> Result<Page<ClientGrant>, StoreError> {
        let env = actor.environment_id();
        let query = ClientGrantQuery {
            client: filter.client,
            resource_server: filter.resource_server,
            page: page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_client_grants(env, &query))
            .await?;
        Ok(page.page(rows, |grant| grant.id.to_string()))
    }

    /// Replaces a grant's `allowed_scopes`.
    ///
    /// # Errors
    /// [`UpdateClientGrantError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: ClientGrantId,
        command: UpdateClientGrant,
    ) -> Result<ClientGrant, UpdateClientGrantError> {
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let event_actor = actor.clone();
        let grant = self
            .ports
            .store
            .transaction(move |tx| {
                let mut grant = tx
                    .find_client_grant_by_id(env, id)?
                    .ok_or(UpdateClientGrantError::NotFound)?;
                if command
                    .client
                    .is_some_and(|raw| ClientId::parse(&raw).ok() != Some(grant.client_id))
                {
                    return Err(UpdateClientGrantError::ClientFixed);
                }
                if command.resource_server.is_some_and(|raw| {
                    ResourceServerId::parse(&raw).ok() != Some(grant.resource_server_id)
                }) {
                    return Err(UpdateClientGrantError::ResourceServerFixed);
                }
                let Some(allowed) = command.allowed_scopes else {
                    // Nothing to change: no write, no event.
                    return Ok(grant);
                };
                let violations = check_scopes(tx, env, grant.resource_server_id, &allowed)?;
                if !violations.is_empty() {
                    return Err(UpdateClientGrantError::Invalid(violations));
                }
                if grant.narrowed_by(&allowed) && is_own_management_grant(tx, &event_actor, &grant)?
                {
                    return Err(UpdateClientGrantError::SelfLockout);
                }
                if let Some(unheld) = first_unheld(&event_actor, &allowed, &grant.allowed_scopes)
                    && tx
                        .find_resource_server(env, grant.resource_server_id)?
                        .is_some_and(|server| server.system)
                {
                    return Err(unheld.into());
                }
                grant.allowed_scopes = allowed;
                tx.update_client_grant_scopes(&grant).map_err(|e| match e {
                    StoreError::NotFound => UpdateClientGrantError::NotFound,
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &event_actor,
                    "client_grant.updated",
                    &representation::client_grant(&grant),
                ))?;
                Ok::<_, UpdateClientGrantError>(grant)
            })
            .await?;
        self.memo.forget(env);
        Ok(grant)
    }

    /// Revokes a grant.
    ///
    /// # Errors
    /// [`DeleteClientGrantError`].
    pub async fn delete(
        &self,
        actor: &Actor,
        id: ClientGrantId,
    ) -> Result<(), DeleteClientGrantError> {
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let event_actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let grant = tx
                    .find_client_grant_by_id(env, id)?
                    .ok_or(DeleteClientGrantError::NotFound)?;
                if is_own_management_grant(tx, &event_actor, &grant)? {
                    return Err(DeleteClientGrantError::SelfLockout);
                }
                if !tx.delete_client_grant(env, id)? {
                    return Err(DeleteClientGrantError::NotFound);
                }
                tx.append_event(&ports.event(
                    &event_actor,
                    "client_grant.deleted",
                    &representation::client_grant(&grant),
                ))?;
                Ok::<_, DeleteClientGrantError>(())
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
    use portcullis_domain::oauth::{
        Client, ClientType, GrantType, ResourceServer, Scope, TokenFormat, TokenLifetime,
    };
    use portcullis_domain::{ScopeId, Timestamp};
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    fn env() -> EnvironmentId {
        EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9))
    }

    fn actor() -> Actor {
        Actor::system(env())
    }

    /// The bootstrap client acting on its own behalf.
    fn bootstrap() -> Actor {
        Actor::client(env(), "bootstrap")
    }

    fn service(tx: MockTx) -> (ClientGrantService<InlineUow>, InlineUow, Arc<ClientMemo>) {
        let uow = InlineUow::new(tx);
        let memo = Arc::new(ClientMemo::new(60));
        (
            ClientGrantService::new(fixed_ports(uow.clone(), None), Arc::clone(&memo)),
            uow,
            memo,
        )
    }

    fn client() -> Client {
        Client {
            id: ClientId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            environment_id: env(),
            client_id: "bootstrap".into(),
            name: "Bootstrap".into(),
            client_type: ClientType::Confidential,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            token_format: TokenFormat::Jwt,
            first_party: false,
            secret_digest: None,
            created_at: Timestamp::from_unix_micros(1).unwrap(),
            updated_at: Timestamp::from_unix_micros(1).unwrap(),
        }
    }

    fn server(system: bool) -> ResourceServer {
        ResourceServer {
            id: ResourceServerId::from_ulid(ulid::Ulid::from_parts(2, 2)),
            environment_id: env(),
            name: "Orders".into(),
            identifier: "https://orders.example.com".into(),
            token_lifetime: TokenLifetime::DEFAULT,
            system,
            created_at: Timestamp::from_unix_micros(1).unwrap(),
            updated_at: Timestamp::from_unix_micros(1).unwrap(),
        }
    }

    fn scopes() -> Vec<Scope> {
        ["orders:read", "orders:write"]
            .iter()
            .enumerate()
            .map(|(n, name)| Scope {
                id: ScopeId::from_ulid(ulid::Ulid::from_parts(3, n as u128)),
                environment_id: env(),
                resource_server_id: server(false).id,
                name: (*name).to_owned(),
                description: String::new(),
                created_at: Timestamp::from_unix_micros(1).unwrap(),
            })
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn existing(allowed: &[&str]) -> ClientGrant {
        ClientGrant {
            id: ClientGrantId::from_ulid(ulid::Ulid::from_parts(4, 4)),
            environment_id: env(),
            client_id: client().id,
            resource_server_id: server(false).id,
            allowed_scopes: names(allowed),
            created_at: Timestamp::from_unix_micros(1).unwrap(),
        }
    }

    fn create(allowed: Option<&[&str]>) -> CreateClientGrant {
        CreateClientGrant {
            client: client().id,
            resource_server: server(false).id,
            allowed_scopes: allowed.map(names),
        }
    }

    fn both_ends_exist(tx: &mut MockTx, system: bool) {
        tx.expect_find_client()
            .withf(|e, id| *e == env() && *id == client().id)
            .returning(|_, _| Ok(Some(client())));
        tx.expect_find_resource_server()
            .withf(|e, id| *e == env() && *id == server(false).id)
            .returning(move |_, _| Ok(Some(server(system))));
    }

    fn scopes_are_locked(tx: &mut MockTx) {
        tx.expect_lock_scopes_of_resource_server()
            .withf(|e, id| *e == env() && *id == server(false).id)
            .returning(|_, _| Ok(scopes()));
    }

    #[tokio::test]
    async fn create_checks_the_scopes_in_the_transaction_and_stores_the_event() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx, false);
        scopes_are_locked(&mut tx);
        tx.expect_insert_client_grant()
            .withf(|g| {
                g.allowed_scopes == ["orders:write"]
                    && g.client_id == client().id
                    && g.environment_id == env()
                    && g.created_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "client_grant.created" && e.resource_type == "client_grant")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        let grant = service
            .create(&actor(), create(Some(&["orders:write"])))
            .await
            .unwrap();

        assert_eq!(grant.allowed_scopes, ["orders:write"]);
        assert_eq!(uow.log().committed, 1);
        assert_eq!(memo.generation(), generation + 1);
    }

    #[tokio::test]
    async fn absent_scopes_mean_none() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx, false);
        scopes_are_locked(&mut tx);
        tx.expect_insert_client_grant()
            .withf(|g| g.allowed_scopes.is_empty())
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, _, _) = service(tx);
        let grant = service.create(&actor(), create(None)).await.unwrap();
        assert!(grant.allowed_scopes.is_empty());
    }

    #[tokio::test]
    async fn unknown_and_repeated_scopes_point_at_their_entries_and_change_nothing() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx, false);
        scopes_are_locked(&mut tx);
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        let Err(CreateClientGrantError::Invalid(violations)) = service
            .create(
                &actor(),
                create(Some(&["orders:read", "users:read", "orders:read"])),
            )
            .await
        else {
            panic!("expected violations");
        };

        let found: Vec<_> = violations.iter().map(|v| (v.pointer(), v.code)).collect();
        assert_eq!(
            found,
            [
                (
                    "/data/attributes/allowed_scopes/1".to_owned(),
                    "unknown_scope"
                ),
                (
                    "/data/attributes/allowed_scopes/2".to_owned(),
                    "duplicate_scope"
                ),
            ]
        );
        assert_eq!(uow.log().rolled_back, 1);
        assert_eq!(memo.generation(), generation);
    }

    #[tokio::test]
    async fn create_refuses_unknown_ends_and_a_second_grant() {
        let mut tx = MockTx::new();
        let clients = std::sync::Mutex::new(vec![Some(client()), Some(client()), None]);
        tx.expect_find_client()
            .returning(move |_, _| Ok(clients.lock().unwrap().pop().unwrap()));
        let servers = std::sync::Mutex::new(vec![Some(server(false)), None]);
        tx.expect_find_resource_server()
            .returning(move |_, _| Ok(servers.lock().unwrap().pop().unwrap()));
        scopes_are_locked(&mut tx);
        tx.expect_insert_client_grant()
            .times(1)
            .returning(|_| Err(StoreError::Conflict(Unique::ClientGrant)));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        let err = service.create(&actor(), create(None)).await.unwrap_err();
        assert!(
            matches!(err, CreateClientGrantError::UnknownClient),
            "{err:?}"
        );
        let err = service.create(&actor(), create(None)).await.unwrap_err();
        assert!(
            matches!(err, CreateClientGrantError::UnknownResourceServer),
            "{err:?}"
        );
        let err = service.create(&actor(), create(None)).await.unwrap_err();
        assert!(matches!(err, CreateClientGrantError::Duplicate), "{err:?}");
        assert_eq!(uow.log().rolled_back, 3);
        assert_eq!(memo.generation(), generation);
    }

    #[tokio::test]
    async fn update_replaces_the_scopes_with_its_event() {
        let mut tx = MockTx::new();
        tx.expect_find_client_grant_by_id()
            .withf(|e, id| *e == env() && *id == existing(&[]).id)
            .returning(|_, _| Ok(Some(existing(&["orders:read"]))));
        scopes_are_locked(&mut tx);
        tx.expect_update_client_grant_scopes()
            .withf(|g| g.allowed_scopes == ["orders:write", "orders:read"])
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "client_grant.updated")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();
        let command = UpdateClientGrant {
            allowed_scopes: Some(names(&["orders:write", "orders:read"])),
            client: Some(client().id.to_string()),
            resource_server: Some(server(false).id.to_string()),
        };

        let grant = service
            .update(&actor(), existing(&[]).id, command)
            .await
            .unwrap();

        assert_eq!(grant.allowed_scopes, ["orders:write", "orders:read"]);
        assert_eq!(uow.log().committed, 1);
        assert_eq!(memo.generation(), generation + 1);
    }

    #[tokio::test]
    async fn update_refuses_other_ends_bad_scopes_and_missing_grants() {
        let mut tx = MockTx::new();
        let grants = std::sync::Mutex::new(vec![
            Some(existing(&[])),
            Some(existing(&[])),
            Some(existing(&[])),
            None,
        ]);
        tx.expect_find_client_grant_by_id()
            .returning(move |_, _| Ok(grants.lock().unwrap().pop().unwrap()));
        scopes_are_locked(&mut tx);
        let (service, uow, _) = service(tx);
        let id = existing(&[]).id;

        let err = service
            .update(&actor(), id, UpdateClientGrant::default())
            .await
            .unwrap_err();
        assert!(matches!(err, UpdateClientGrantError::NotFound), "{err:?}");
        let other = ResourceServerId::from_ulid(ulid::Ulid::from_parts(7, 7)).to_string();
        let command = UpdateClientGrant {
            resource_server: Some(other),
            ..UpdateClientGrant::default()
        };
        let err = service.update(&actor(), id, command).await.unwrap_err();
        assert!(
            matches!(err, UpdateClientGrantError::ResourceServerFixed),
            "{err:?}"
        );
        let command = UpdateClientGrant {
            client: Some("not-an-id".into()),
            ..UpdateClientGrant::default()
        };
        let err = service.update(&actor(), id, command).await.unwrap_err();
        assert!(
            matches!(err, UpdateClientGrantError::ClientFixed),
            "{err:?}"
        );
        let command = UpdateClientGrant {
            allowed_scopes: Some(names(&["orders:delete"])),
            ..UpdateClientGrant::default()
        };
        let err = service.update(&actor(), id, command).await.unwrap_err();
        assert!(matches!(err, UpdateClientGrantError::Invalid(_)), "{err:?}");
        assert_eq!(uow.log().rolled_back, 4);
    }

    /// A caller whose token carries only `held` (and `clients:write`).
    fn limited(held: &[&str]) -> Actor {
        let mut scopes: std::collections::HashSet<String> =
            held.iter().map(|s| (*s).to_owned()).collect();
        scopes.insert("clients:write".to_owned());
        crate::principal::Principal::new(env(), "limited".into(), scopes)
            .require("clients:write")
            .unwrap()
    }

    #[tokio::test]
    async fn nobody_grants_a_management_api_scope_it_does_not_hold() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx, true);
        scopes_are_locked(&mut tx);
        tx.expect_insert_client_grant().never();
        tx.expect_append_event().never();
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();

        let err = service
            .create(
                &limited(&["orders:read"]),
                create(Some(&["orders:read", "orders:write"])),
            )
            .await
            .unwrap_err();

        let CreateClientGrantError::NotHeld(unheld) = err else {
            panic!("expected NotHeld, got {err:?}");
        };
        assert_eq!(
            unheld,
            ScopeNotHeld {
                scope: "orders:write".into(),
                index: 1
            }
        );
        assert_eq!(uow.log().rolled_back, 1);
        assert_eq!(memo.generation(), generation);
    }

    #[tokio::test]
    async fn scopes_of_other_resource_servers_need_not_be_held() {
        let mut tx = MockTx::new();
        both_ends_exist(&mut tx, false);
        scopes_are_locked(&mut tx);
        tx.expect_insert_client_grant()
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, _, _) = service(tx);

        let grant = service
            .create(&limited(&[]), create(Some(&["orders:write"])))
            .await
            .unwrap();
        assert_eq!(grant.allowed_scopes, ["orders:write"]);
    }

    #[tokio::test]
    async fn widening_a_management_api_grant_needs_every_added_scope() {
        let mut tx = MockTx::new();
        tx.expect_find_client_grant_by_id()
            .returning(|_, _| Ok(Some(existing(&["orders:read"]))));
        scopes_are_locked(&mut tx);
        both_ends_exist(&mut tx, true);
        tx.expect_update_client_grant_scopes()
            .withf(|g| g.allowed_scopes == ["orders:read", "orders:write"])
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, uow, _) = service(tx);
        let id = existing(&[]).id;
        let widen = UpdateClientGrant {
            allowed_scopes: Some(names(&["orders:read", "orders:write"])),
            ..UpdateClientGrant::default()
        };

        // Keeping a scope it does not hold is no widening; adding one is.
        let err = service
            .update(&limited(&[]), id, widen.clone())
            .await
            .unwrap_err();
        let UpdateClientGrantError::NotHeld(unheld) = err else {
            panic!("expected NotHeld, got {err:?}");
        };
        assert_eq!(unheld.scope, "orders:write");
        assert_eq!(uow.log().rolled_back, 1);

        service
            .update(&limited(&["orders:write"]), id, widen)
            .await
            .unwrap();
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn a_client_cannot_narrow_its_own_management_api_grant() {
        let mut tx = MockTx::new();
        tx.expect_find_client_grant_by_id()
            .returning(|_, _| Ok(Some(existing(&["orders:read", "orders:write"]))));
        scopes_are_locked(&mut tx);
        both_ends_exist(&mut tx, true);
        tx.expect_update_client_grant_scopes()
            .withf(|g| g.allowed_scopes == ["orders:write", "orders:read"])
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, uow, _) = service(tx);
        let id = existing(&[]).id;
        let narrow = UpdateClientGrant {
            allowed_scopes: Some(names(&["orders:read"])),
            ..UpdateClientGrant::default()
        };

        let err = service
            .update(&bootstrap(), id, narrow.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UpdateClientGrantError::SelfLockout),
            "{err:?}"
        );
        // Reordering is no narrowing.
        let reorder = UpdateClientGrant {
            allowed_scopes: Some(names(&["orders:write", "orders:read"])),
            ..UpdateClientGrant::default()
        };
        service.update(&bootstrap(), id, reorder).await.unwrap();
        assert_eq!(
            uow.log(),
            UowLog {
                committed: 1,
                rolled_back: 1,
                ..UowLog::default()
            }
        );
    }

    #[tokio::test]
    async fn another_caller_may_narrow_a_management_api_grant() {
        let mut tx = MockTx::new();
        tx.expect_find_client_grant_by_id()
            .returning(|_, _| Ok(Some(existing(&["orders:read", "orders:write"]))));
        scopes_are_locked(&mut tx);
        both_ends_exist(&mut tx, true);
        tx.expect_update_client_grant_scopes()
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, _, _) = service(tx);
        let narrow = UpdateClientGrant {
            allowed_scopes: Some(names(&["orders:read"])),
            ..UpdateClientGrant::default()
        };
        let grant = service
            .update(&actor(), existing(&[]).id, narrow)
            .await
            .unwrap();
        assert_eq!(grant.allowed_scopes, ["orders:read"]);
    }

    #[tokio::test]
    async fn delete_removes_the_grant_with_its_event_but_not_the_callers_own() {
        let mut tx = MockTx::new();
        tx.expect_find_client_grant_by_id()
            .returning(|_, _| Ok(Some(existing(&["orders:read"]))));
        both_ends_exist(&mut tx, true);
        tx.expect_delete_client_grant()
            .withf(|e, id| *e == env() && *id == existing(&[]).id)
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "client_grant.deleted")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow, memo) = service(tx);
        let generation = memo.generation();
        let id = existing(&[]).id;

        let err = service.delete(&bootstrap(), id).await.unwrap_err();
        assert!(
            matches!(err, DeleteClientGrantError::SelfLockout),
            "{err:?}"
        );
        assert_eq!(memo.generation(), generation);
        service.delete(&actor(), id).await.unwrap();
        assert_eq!(memo.generation(), generation + 1);
        assert_eq!(uow.log().committed, 1);
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn an_update_without_scopes_writes_nothing() {
        let mut tx = MockTx::new();
        tx.expect_find_client_grant_by_id()
            .returning(|_, _| Ok(Some(existing(&["orders:read"]))));
        tx.expect_update_client_grant_scopes().never();
        tx.expect_append_event().never();
        let (service, _, _) = service(tx);
        let command = UpdateClientGrant {
            client: Some(client().id.to_string()),
            ..UpdateClientGrant::default()
        };
        let grant = service
            .update(&actor(), existing(&[]).id, command)
            .await
            .unwrap();
        assert_eq!(grant, existing(&["orders:read"]));
    }

    #[tokio::test]
    async fn deleting_a_missing_grant_is_not_found() {
        let mut tx = MockTx::new();
        tx.expect_find_client_grant_by_id()
            .returning(|_, _| Ok(None));
        let (service, _, _) = service(tx);
        let err = service
            .delete(&actor(), existing(&[]).id)
            .await
            .unwrap_err();
        assert!(matches!(err, DeleteClientGrantError::NotFound), "{err:?}");
    }
}
