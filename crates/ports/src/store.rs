//! Storage ports. Repositories are synchronous and run inside a unit of work
//! (one database transaction, or one connection for reads) so that a change
//! and its audit event commit together and no network I/O happens while row
//! locks are held. Only the unit of work itself is async.

use async_trait::async_trait;
use portcullis_domain::SessionId;
use portcullis_domain::access::{Permission, Role, RolePermission, UserRole};
use portcullis_domain::access_token::OpaqueToken;
use portcullis_domain::environment::Environment;
use portcullis_domain::event::AuditEvent;
use portcullis_domain::oauth::{Client, ClientGrant, ResourceServer, Scope, SecretDigest};
use portcullis_domain::session::Session;
use portcullis_domain::signing_key::SigningKey;
use portcullis_domain::user::User;
use portcullis_domain::{
    AccessTokenId, ClientGrantId, ClientId, EnvironmentId, PermissionId, ResourceServerId, RoleId,
    RolePermissionId, ScopeId, SigningKeyId, Timestamp, UserId, UserRoleId,
};

use portcullis_domain::ConnectionId;
use portcullis_domain::connection::Connection;
use portcullis_domain::webhook::{DeliveryAttempt, EncryptedSigningSecret, Webhook};
use portcullis_domain::{EventId, WebhookId};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A unique constraint, named in domain terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// Environment slug.
    EnvironmentSlug,
    /// User e-mail within an environment (ignoring case).
    UserEmail,
    /// Public `client_id` within an environment.
    ClientId,
    /// Resource server identifier within an environment.
    ResourceServerIdentifier,
    /// Scope name within a resource server.
    ScopeName,
    /// One grant per client and resource server.
    ClientGrant,
    /// Key id within an environment.
    SigningKeyKid,
    /// Permission name within an environment.
    PermissionName,
    /// Role name within an environment.
    RoleName,
    /// One join per role and permission.
    RolePermission,
    /// One join per user and role.
    UserRole,
    /// One membership per user and organization.
    Membership,
    /// One action per trigger within an environment.
    ActionTrigger,
}

/// What a store can fail with; diesel-free.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated.
    #[error("unique constraint violated: {0:?}")]
    Conflict(Unique),
    /// A row that must exist does not.
    #[error("row not found")]
    NotFound,
    /// A row this write refers to (by foreign key) is gone: it was deleted by
    /// a concurrent transaction after this one checked it.
    #[error("a referenced row no longer exists")]
    MissingReference,
    /// The store cannot be reached (connection refused, pool exhausted, timeout).
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Stored data violates the domain's invariants.
    #[error("stored data violates invariants")]
    Corrupt(#[source] BoxError),
    /// Any other backend failure.
    #[error("storage backend failure")]
    Backend(#[source] BoxError),
}

/// Order of a user listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    /// Creation order (id order).
    #[default]
    CreatedAt,
    /// By e-mail address.
    Email,
}

/// A keyset page request: rows strictly after `after` in the chosen order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    /// How many rows to return at most.
    pub limit: u32,
    /// Descending order.
    pub descending: bool,
    /// The sort key of the last row of the previous page.
    pub after: Option<String>,
}

/// Filters and order of a user listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    /// Exact e-mail (already lower-cased).
    pub email: Option<String>,
    /// Case-insensitive substring of the e-mail, first or last name.
    pub search: Option<String>,
    /// Blocked or not.
    pub blocked: Option<bool>,
    /// Sort key.
    pub sort: UserSort,
    /// Page.
    pub page: Keyset,
}

/// Environments.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait EnvironmentRepo {
    /// Inserts an environment.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::EnvironmentSlug)` if the slug is taken.
    fn insert_environment(&mut self, environment: &Environment) -> Result<(), StoreError>;
    /// Finds an environment by slug.
    ///
    /// # Errors
    /// Backend failures.
    fn find_environment_by_slug(&mut self, slug: &str) -> Result<Option<Environment>, StoreError>;
    /// Every environment, in creation order.
    ///
    /// # Errors
    /// Backend failures.
    fn list_environments(&mut self) -> Result<Vec<Environment>, StoreError>;
}

/// Users.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait UserRepo {
    /// Inserts a user.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::UserEmail)` if the environment has the e-mail.
    fn insert_user(&mut self, user: &User) -> Result<(), StoreError>;
    /// Replaces every mutable field of a stored user.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::UserEmail)` on a taken e-mail and
    /// `StoreError::NotFound` if the user does not exist.
    fn update_user(&mut self, user: &User) -> Result<(), StoreError>;
    /// Deletes a user (and what hangs off it); returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_user(&mut self, environment: EnvironmentId, id: UserId) -> Result<bool, StoreError>;
    /// Finds a user of an environment and, inside a transaction, locks its
    /// row against concurrent updates (`FOR NO KEY UPDATE` where the store
    /// has it; SQLite serializes write transactions anyway), so that a
    /// decision taken on the user's state (blocked or not) holds until commit.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn lock_user(
        &mut self,
        environment: EnvironmentId,
        id: UserId,
    ) -> Result<Option<User>, StoreError>;
    /// Finds a user of an environment by e-mail (normalised; the store
    /// compares ignoring case).
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_user_by_email(
        &mut self,
        environment: EnvironmentId,
        email: &portcullis_domain::user::Email,
    ) -> Result<Option<User>, StoreError>;
    /// Finds a user of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_user(
        &mut self,
        environment: EnvironmentId,
        id: UserId,
    ) -> Result<Option<User>, StoreError>;
    /// One page of users, in the query's order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_users(
        &mut self,
        environment: EnvironmentId,
        query: &UserQuery,
    ) -> Result<Vec<User>, StoreError>;
}

/// OAuth clients.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ClientRepo {
    /// Inserts a client.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::ClientId)` if the `client_id` is taken.
    fn insert_client(&mut self, client: &Client) -> Result<(), StoreError>;
    /// Finds a client by its public `client_id`.
    ///
    /// # Errors
    /// Backend failures.
    fn find_client_by_client_id(
        &mut self,
        environment: EnvironmentId,
        client_id: &str,
    ) -> Result<Option<Client>, StoreError>;
    /// Finds a client of an environment by its record id.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_client(
        &mut self,
        environment: EnvironmentId,
        id: ClientId,
    ) -> Result<Option<Client>, StoreError>;
    /// Replaces every mutable field of a stored client (name, grant types,
    /// redirect URIs, token format, first party, secret digest, `updated_at`).
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the client does not exist in its environment.
    fn update_client(&mut self, client: &Client) -> Result<(), StoreError>;
    /// Deletes a client and, by cascade, its grants; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_client(
        &mut self,
        environment: EnvironmentId,
        id: ClientId,
    ) -> Result<bool, StoreError>;
    /// One page of clients in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_clients(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Client>, StoreError>;
}

/// Resource servers and their scopes.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ResourceServerRepo {
    /// Inserts a resource server.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::ResourceServerIdentifier)` on a taken identifier.
    fn insert_resource_server(
        &mut self,
        resource_server: &ResourceServer,
    ) -> Result<(), StoreError>;
    /// Finds a resource server by its identifier (the audience).
    ///
    /// # Errors
    /// Backend failures.
    fn find_resource_server_by_identifier(
        &mut self,
        environment: EnvironmentId,
        identifier: &str,
    ) -> Result<Option<ResourceServer>, StoreError>;
    /// The environment's system resource server (its Management API).
    ///
    /// # Errors
    /// Backend failures.
    fn find_system_resource_server(
        &mut self,
        environment: EnvironmentId,
    ) -> Result<Option<ResourceServer>, StoreError>;
    /// Inserts scopes of one resource server.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::ScopeName)` on a name taken in that resource server.
    fn insert_scopes(&mut self, scopes: &[Scope]) -> Result<(), StoreError>;
    /// Finds a resource server of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_resource_server(
        &mut self,
        environment: EnvironmentId,
        id: ResourceServerId,
    ) -> Result<Option<ResourceServer>, StoreError>;
    /// Stores a resource server's name, token lifetime and `updated_at` (the
    /// identifier and the system flag never change).
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the resource server does not exist.
    fn update_resource_server(
        &mut self,
        resource_server: &ResourceServer,
    ) -> Result<(), StoreError>;
    /// Deletes a resource server and (by cascade) its scopes and client
    /// grants; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_resource_server(
        &mut self,
        environment: EnvironmentId,
        id: ResourceServerId,
    ) -> Result<bool, StoreError>;
    /// One page of resource servers in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_resource_servers(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<ResourceServer>, StoreError>;
    /// Finds a scope of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_scope(
        &mut self,
        environment: EnvironmentId,
        id: ScopeId,
    ) -> Result<Option<Scope>, StoreError>;
    /// Stores a scope's name and description.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::ScopeName)` on a name taken in
    /// its resource server and `StoreError::NotFound` if the scope does not exist.
    fn update_scope(&mut self, scope: &Scope) -> Result<(), StoreError>;
    /// Deletes a scope; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_scope(&mut self, environment: EnvironmentId, id: ScopeId)
    -> Result<bool, StoreError>;
    /// One page of scopes in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_scopes(
        &mut self,
        environment: EnvironmentId,
        query: &ScopeQuery,
    ) -> Result<Vec<Scope>, StoreError>;
    /// Every scope of a resource server, in id order. Inside a transaction
    /// the rows are locked (`FOR UPDATE` where the store has it), so that a
    /// grant validated against them cannot name a scope renamed or deleted
    /// by a concurrent transaction.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn lock_scopes_of_resource_server(
        &mut self,
        environment: EnvironmentId,
        resource_server: ResourceServerId,
    ) -> Result<Vec<Scope>, StoreError>;
}

/// Filters and page of a scope listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeQuery {
    /// Only the scopes of this resource server.
    pub resource_server: Option<ResourceServerId>,
    /// The keyset page (id order).
    pub page: Keyset,
}

/// Client grants.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ClientGrantRepo {
    /// Inserts a grant.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::ClientGrant)` if the pair already has one.
    fn insert_client_grant(&mut self, grant: &ClientGrant) -> Result<(), StoreError>;
    /// The grant of a client for a resource server.
    ///
    /// # Errors
    /// Backend failures.
    fn find_client_grant(
        &mut self,
        environment: EnvironmentId,
        client: ClientId,
        resource_server: ResourceServerId,
    ) -> Result<Option<ClientGrant>, StoreError>;
    /// In one read, what a token request on the happy path needs: the client
    /// with public `client_id`, the resource server with `identifier`, and
    /// the client's grant for it. `None` when any of the three is missing.
    ///
    /// # Errors
    /// Backend failures.
    fn find_client_with_grant(
        &mut self,
        environment: EnvironmentId,
        client_id: &str,
        identifier: &str,
    ) -> Result<Option<(Client, ResourceServer, ClientGrant)>, StoreError>;
    /// Every grant for a resource server, in id order. Inside a transaction
    /// the rows are locked (`FOR UPDATE` where the store has it), so that a
    /// read-modify-write of their `allowed_scopes` loses no concurrent change.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn lock_client_grants_of_resource_server(
        &mut self,
        environment: EnvironmentId,
        resource_server: ResourceServerId,
    ) -> Result<Vec<ClientGrant>, StoreError>;
    /// Stores a grant's `allowed_scopes`.
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the grant does not exist.
    fn update_client_grant_scopes(&mut self, grant: &ClientGrant) -> Result<(), StoreError>;
    /// Finds a grant of an environment by id.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_client_grant_by_id(
        &mut self,
        environment: EnvironmentId,
        id: ClientGrantId,
    ) -> Result<Option<ClientGrant>, StoreError>;
    /// Deletes a grant; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_client_grant(
        &mut self,
        environment: EnvironmentId,
        id: ClientGrantId,
    ) -> Result<bool, StoreError>;
    /// One page of grants in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_client_grants(
        &mut self,
        environment: EnvironmentId,
        query: &ClientGrantQuery,
    ) -> Result<Vec<ClientGrant>, StoreError>;
}

/// Filters and page of a client grant listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrantQuery {
    /// Only the grants of this client.
    pub client: Option<ClientId>,
    /// Only the grants for this resource server.
    pub resource_server: Option<ResourceServerId>,
    /// The keyset page (id order).
    pub page: Keyset,
}

/// Signing keys.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SigningKeyRepo {
    /// Inserts a key.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::SigningKeyKid)` on a taken `kid`.
    fn insert_signing_key(&mut self, key: &SigningKey) -> Result<(), StoreError>;
    /// Stores a key's status, primary flag and deactivation time.
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the key does not exist.
    fn update_signing_key(&mut self, key: &SigningKey) -> Result<(), StoreError>;
    /// Deletes a key; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_signing_key(
        &mut self,
        environment: EnvironmentId,
        id: SigningKeyId,
    ) -> Result<bool, StoreError>;
    /// Every key of an environment in creation order. Inside a transaction the
    /// rows are locked (`FOR UPDATE` where the store has it) so that concurrent
    /// rotations serialize.
    ///
    /// # Errors
    /// Backend failures.
    fn lock_signing_keys(
        &mut self,
        environment: EnvironmentId,
    ) -> Result<Vec<SigningKey>, StoreError>;
    /// One page of keys in id order.
    ///
    /// # Errors
    /// Backend failures.
    fn list_signing_keys(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<SigningKey>, StoreError>;
    /// The active keys of an environment, newest first.
    ///
    /// # Errors
    /// Backend failures.
    fn list_active_signing_keys(
        &mut self,
        environment: EnvironmentId,
    ) -> Result<Vec<SigningKey>, StoreError>;
    /// One key.
    ///
    /// # Errors
    /// Backend failures.
    fn find_signing_key(
        &mut self,
        environment: EnvironmentId,
        id: SigningKeyId,
    ) -> Result<Option<SigningKey>, StoreError>;
}

/// Permissions.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait PermissionRepo {
    /// Inserts a permission.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::PermissionName)` if the environment has the name.
    fn insert_permission(&mut self, permission: &Permission) -> Result<(), StoreError>;
    /// Replaces every mutable field of a stored permission.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::PermissionName)` on a taken name and
    /// `StoreError::NotFound` if the permission does not exist.
    fn update_permission(&mut self, permission: &Permission) -> Result<(), StoreError>;
    /// Deletes a permission; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_permission(
        &mut self,
        environment: EnvironmentId,
        id: PermissionId,
    ) -> Result<bool, StoreError>;
    /// Finds a permission of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_permission(
        &mut self,
        environment: EnvironmentId,
        id: PermissionId,
    ) -> Result<Option<Permission>, StoreError>;
    /// One page of permissions in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_permissions(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Permission>, StoreError>;
}

/// A role with the counts its `GET` shows, read in the same query as the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedRole {
    /// The role.
    pub role: Role,
    /// Users holding the role.
    pub user_count: u64,
    /// Permissions granted to the role.
    pub permission_count: u64,
}

/// Roles.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait RoleRepo {
    /// Inserts a role.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::RoleName)` if the environment has the name.
    fn insert_role(&mut self, role: &Role) -> Result<(), StoreError>;
    /// Replaces every mutable field of a stored role.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::RoleName)` on a taken name and
    /// `StoreError::NotFound` if the role does not exist.
    fn update_role(&mut self, role: &Role) -> Result<(), StoreError>;
    /// Deletes a role and (by cascade) its joins; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_role(&mut self, environment: EnvironmentId, id: RoleId) -> Result<bool, StoreError>;
    /// Finds a role of an environment with its counts.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_role(
        &mut self,
        environment: EnvironmentId,
        id: RoleId,
    ) -> Result<Option<CountedRole>, StoreError>;
    /// One page of roles with their counts, in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_roles(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<CountedRole>, StoreError>;
}

/// Filters and page of a role-permission listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePermissionQuery {
    /// Only the joins of this role.
    pub role: Option<RoleId>,
    /// Only the joins of this permission.
    pub permission: Option<PermissionId>,
    /// The keyset page (id order).
    pub page: Keyset,
}

/// Permissions granted to roles.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait RolePermissionRepo {
    /// Inserts a join.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::RolePermission)` if the pair exists.
    fn insert_role_permission(&mut self, join: &RolePermission) -> Result<(), StoreError>;
    /// Deletes a join; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_role_permission(
        &mut self,
        environment: EnvironmentId,
        id: RolePermissionId,
    ) -> Result<bool, StoreError>;
    /// Finds a join of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_role_permission(
        &mut self,
        environment: EnvironmentId,
        id: RolePermissionId,
    ) -> Result<Option<RolePermission>, StoreError>;
    /// One page of joins in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_role_permissions(
        &mut self,
        environment: EnvironmentId,
        query: &RolePermissionQuery,
    ) -> Result<Vec<RolePermission>, StoreError>;
}

/// Filters and page of a user-role listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRoleQuery {
    /// Only the joins of this user.
    pub user: Option<UserId>,
    /// Only the joins of this role.
    pub role: Option<RoleId>,
    /// The keyset page (id order).
    pub page: Keyset,
}

/// Roles granted to users.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait UserRoleRepo {
    /// Inserts a join.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::UserRole)` if the pair exists.
    fn insert_user_role(&mut self, join: &UserRole) -> Result<(), StoreError>;
    /// Deletes a join; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_user_role(
        &mut self,
        environment: EnvironmentId,
        id: UserRoleId,
    ) -> Result<bool, StoreError>;
    /// Finds a join of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_user_role(
        &mut self,
        environment: EnvironmentId,
        id: UserRoleId,
    ) -> Result<Option<UserRole>, StoreError>;
    /// One page of joins in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_user_roles(
        &mut self,
        environment: EnvironmentId,
        query: &UserRoleQuery,
    ) -> Result<Vec<UserRole>, StoreError>;
}

/// Opaque access tokens, found by the digest of the token string.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait AccessTokenRepo {
    /// Stores an issued token.
    ///
    /// # Errors
    /// Backend failures (a digest collision is a backend failure: it cannot
    /// happen with 256 random bits).
    fn insert_access_token(&mut self, token: &OpaqueToken) -> Result<(), StoreError>;
    /// The token of an environment whose string has `digest`, revoked and
    /// expired ones included.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_access_token(
        &mut self,
        environment: EnvironmentId,
        digest: &SecretDigest,
    ) -> Result<Option<OpaqueToken>, StoreError>;
    /// Marks a token revoked at `at` unless it already is; returns whether
    /// this call revoked it.
    ///
    /// # Errors
    /// Backend failures.
    fn revoke_access_token(
        &mut self,
        environment: EnvironmentId,
        id: AccessTokenId,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Filters and page of a session listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionQuery {
    /// Only the sessions of this user.
    pub user: Option<UserId>,
    /// Only active sessions (`Some(true)`: not revoked and `expires_at > now`)
    /// or only inactive ones (`Some(false)`), evaluated against `now`.
    pub active: Option<bool>,
    /// The instant `active` is evaluated at.
    pub now: Timestamp,
    /// The keyset page (id order).
    pub page: Keyset,
}

/// Sessions of users.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SessionRepo {
    /// Inserts a session.
    ///
    /// # Errors
    /// `StoreError::MissingReference` if its user is gone; backend failures.
    fn insert_session(&mut self, session: &Session) -> Result<(), StoreError>;
    /// Stores a session's `last_active_at` and `revoked_at`.
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the session does not exist.
    fn update_session(&mut self, session: &Session) -> Result<(), StoreError>;
    /// Deletes a session; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_session(
        &mut self,
        environment: EnvironmentId,
        id: SessionId,
    ) -> Result<bool, StoreError>;
    /// Finds a session of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_session(
        &mut self,
        environment: EnvironmentId,
        id: SessionId,
    ) -> Result<Option<Session>, StoreError>;
    /// One page of sessions in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_sessions(
        &mut self,
        environment: EnvironmentId,
        query: &SessionQuery,
    ) -> Result<Vec<Session>, StoreError>;
    /// Revokes at `at` every session of `user` not yet revoked (expired ones
    /// included) and returns them as revoked, in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn revoke_sessions_of_user(
        &mut self,
        environment: EnvironmentId,
        user: UserId,
        at: Timestamp,
    ) -> Result<Vec<Session>, StoreError>;
}

/// The audit trail.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait EventRepo {
    /// Appends an event and, in the same transaction (the outbox), queues
    /// one delivery, due at once, for every active webhook of the event's
    /// environment subscribed to its type. A store shared by several nodes
    /// also announces, on commit, a change whose
    /// [`AuditEvent::cached_area`] is set, so that every node forgets what
    /// it made stale (see [`crate::changes`]).
    ///
    /// # Errors
    /// Backend failures.
    fn append_event(&mut self, event: &AuditEvent) -> Result<(), StoreError>;
}

/// Identity provider connections.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ConnectionRepo {
    /// Inserts a connection.
    ///
    /// # Errors
    /// Backend failures.
    fn insert_connection(&mut self, connection: &Connection) -> Result<(), StoreError>;
    /// Replaces every mutable field of a stored connection (not its strategy).
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the connection does not exist.
    fn update_connection(&mut self, connection: &Connection) -> Result<(), StoreError>;
    /// Deletes a connection; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_connection(
        &mut self,
        environment: EnvironmentId,
        id: ConnectionId,
    ) -> Result<bool, StoreError>;
    /// Finds a connection of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_connection(
        &mut self,
        environment: EnvironmentId,
        id: ConnectionId,
    ) -> Result<Option<Connection>, StoreError>;
    /// One page of connections in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_connections(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Connection>, StoreError>;
}

/// Actions and the record of their runs.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ActionRepo {
    /// Inserts an action.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::ActionTrigger)` when the
    /// environment already has an action for the trigger.
    fn insert_action(
        &mut self,
        action: &portcullis_domain::action::Action,
    ) -> Result<(), StoreError>;
    /// Replaces every mutable field of a stored action.
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the action does not exist and
    /// `StoreError::Conflict(Unique::ActionTrigger)` when its new trigger
    /// is taken.
    fn update_action(
        &mut self,
        action: &portcullis_domain::action::Action,
    ) -> Result<(), StoreError>;
    /// Deletes an action and (by cascade) its executions; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_action(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::ActionId,
    ) -> Result<bool, StoreError>;
    /// Finds an action of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_action(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::ActionId,
    ) -> Result<Option<portcullis_domain::action::Action>, StoreError>;
    /// The action of a trigger, enabled or not.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_action_by_trigger(
        &mut self,
        environment: EnvironmentId,
        trigger: portcullis_domain::action::Trigger,
    ) -> Result<Option<portcullis_domain::action::Action>, StoreError>;
    /// One page of actions in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_actions(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<portcullis_domain::action::Action>, StoreError>;
    /// Records runs (in one statement per run).
    ///
    /// # Errors
    /// MUST return `StoreError::MissingReference` when an action is gone.
    fn insert_action_executions(
        &mut self,
        executions: &[portcullis_domain::action::ActionExecution],
    ) -> Result<(), StoreError>;
    /// One page of an action's runs in id order (`descending`: most recent first).
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_action_executions(
        &mut self,
        environment: EnvironmentId,
        action: portcullis_domain::ActionId,
        page: &Keyset,
    ) -> Result<Vec<portcullis_domain::action::ActionExecution>, StoreError>;
    /// One recorded run of an action.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_action_execution(
        &mut self,
        environment: EnvironmentId,
        action: portcullis_domain::ActionId,
        id: portcullis_domain::ActionExecutionId,
    ) -> Result<Option<portcullis_domain::action::ActionExecution>, StoreError>;
    /// Deletes all but the `keep` most recent runs of an action; returns how many went.
    ///
    /// # Errors
    /// Backend failures.
    fn prune_action_executions(
        &mut self,
        action: portcullis_domain::ActionId,
        keep: u32,
    ) -> Result<u64, StoreError>;
}

/// Webhooks and their subscriptions.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait WebhookRepo {
    /// Inserts a webhook and its subscriptions.
    ///
    /// # Errors
    /// Backend failures.
    fn insert_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError>;
    /// Replaces every mutable field of a stored webhook and its subscriptions.
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the webhook does not exist.
    fn update_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError>;
    /// Deletes a webhook with its subscriptions, queued deliveries and
    /// attempts; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_webhook(
        &mut self,
        environment: EnvironmentId,
        id: WebhookId,
    ) -> Result<bool, StoreError>;
    /// Finds a webhook of an environment with its subscriptions.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_webhook(
        &mut self,
        environment: EnvironmentId,
        id: WebhookId,
    ) -> Result<Option<Webhook>, StoreError>;
    /// One page of webhooks with their subscriptions, in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_webhooks(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Webhook>, StoreError>;
}

/// A queued delivery taken by one worker, with what it needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The webhook.
    pub webhook_id: WebhookId,
    /// The webhook's environment.
    pub environment_id: EnvironmentId,
    /// The event.
    pub event_id: EventId,
    /// The number of this attempt (1 for the first).
    pub attempt: u32,
    /// The webhook's URL as stored.
    pub url: String,
    /// The webhook's encrypted signing secret.
    pub signing_secret: EncryptedSigningSecret,
    /// The event's type (`user.created`).
    pub event_type: String,
    /// The event's data (JSON text of the resource object).
    pub data: String,
    /// When the event happened.
    pub occurred_at: Timestamp,
    /// When the delivery was queued (the retry horizon counts from here).
    pub queued_at: Timestamp,
}

/// How many deliveries one claim may take: in all, and for each webhook
/// and each environment counting those the claiming worker already has in
/// flight, so that one webhook (a slow receiver) or one environment never
/// holds every delivery slot of a worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimLimits {
    /// Deliveries to take at most (the worker's free slots).
    pub total: u32,
    /// Deliveries one webhook may have in flight at most.
    pub per_webhook: u32,
    /// Deliveries one environment may have in flight at most.
    pub per_environment: u32,
    /// Deliveries in flight now, per webhook (absent: none).
    pub in_flight_webhooks: std::collections::HashMap<WebhookId, u32>,
    /// Deliveries in flight now, per environment (absent: none).
    pub in_flight_environments: std::collections::HashMap<EnvironmentId, u32>,
}

impl ClaimLimits {
    /// Up to `total` deliveries, with no bound per webhook or environment.
    #[must_use]
    pub fn only_total(total: u32) -> Self {
        Self {
            total,
            per_webhook: u32::MAX,
            per_environment: u32::MAX,
            ..Self::default()
        }
    }

    /// How many more deliveries of `webhook` may be taken.
    #[must_use]
    pub fn webhook_room(&self, webhook: WebhookId) -> u32 {
        let held = self.in_flight_webhooks.get(&webhook).copied().unwrap_or(0);
        self.per_webhook.saturating_sub(held)
    }

    /// How many more deliveries of `environment` may be taken.
    #[must_use]
    pub fn environment_room(&self, environment: EnvironmentId) -> u32 {
        let held = self
            .in_flight_environments
            .get(&environment)
            .copied()
            .unwrap_or(0);
        self.per_environment.saturating_sub(held)
    }
}

/// Removing records nobody needs any more, in bounded batches (several
/// nodes may run it at once: each deletes what it finds).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait RetentionRepo {
    /// Deletes up to `limit` opaque access tokens that expired before
    /// `before`; how many. (An expired token is inactive whether its row
    /// exists or not.)
    ///
    /// # Errors
    /// Backend failures.
    fn purge_access_tokens(&mut self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;

    /// Deletes up to `limit` audit events that occurred before `before` and
    /// have no pending webhook delivery, with their settled deliveries; how
    /// many events.
    ///
    /// # Errors
    /// Backend failures.
    fn purge_events(&mut self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;

    /// Deletes up to `limit` webhook delivery attempts made before `before`;
    /// how many.
    ///
    /// # Errors
    /// Backend failures.
    fn purge_delivery_attempts(&mut self, before: Timestamp, limit: u32)
    -> Result<u64, StoreError>;
}

/// The transactional outbox of webhook deliveries and their attempts.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait DeliveryRepo {
    /// Takes pending deliveries due at `now`, within `limits`, and moves
    /// their due time to `lease_until`, so that no other worker takes them
    /// before this one records the attempt, or, if this one dies, before the
    /// lease runs out. The webhooks with due deliveries share the claim in
    /// turns (one delivery each per turn, the webhook whose oldest delivery
    /// is the oldest first), each up to its room and its environment's;
    /// within a webhook, oldest due first. Rows another transaction holds
    /// are skipped, not waited for (`FOR UPDATE SKIP LOCKED`).
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn claim_deliveries(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limits: &ClaimLimits,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records an attempt and moves its delivery on: due again at
    /// `retry_at` when `Some`, otherwise done (succeeded or failed, as the
    /// attempt's outcome says). A delivery whose webhook was deleted
    /// meanwhile is gone: nothing is recorded and this is not an error.
    ///
    /// # Errors
    /// Backend failures.
    fn record_delivery_attempt(
        &mut self,
        attempt: &DeliveryAttempt,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError>;
    /// One page of a webhook's attempts, in id (attempt) order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_delivery_attempts(
        &mut self,
        webhook: WebhookId,
        page: &Keyset,
    ) -> Result<Vec<DeliveryAttempt>, StoreError>;
    /// The number of deliveries still pending (queued or waiting for a
    /// retry), over every environment: the depth of the outbox.
    ///
    /// # Errors
    /// Backend failures.
    fn count_pending_deliveries(&mut self) -> Result<u64, StoreError>;
}

/// Every repository reachable inside one unit of work (method names are unique across them).
pub trait Tx:
    EnvironmentRepo
    + UserRepo
    + ClientRepo
    + ResourceServerRepo
    + ClientGrantRepo
    + SigningKeyRepo
    + PermissionRepo
    + RoleRepo
    + RolePermissionRepo
    + UserRoleRepo
    + AccessTokenRepo
    + EventRepo
    + ConnectionRepo
    + SessionRepo
    + OrganizationRepo
    + MembershipRepo
    + InvitationRepo
    + EventLogRepo
    + ActionRepo
    + WebhookRepo
    + DeliveryRepo
    + RetentionRepo
{
}

impl<T> Tx for T where
    T: EnvironmentRepo
        + UserRepo
        + ClientRepo
        + ResourceServerRepo
        + ClientGrantRepo
        + SigningKeyRepo
        + PermissionRepo
        + RoleRepo
        + RolePermissionRepo
        + UserRoleRepo
        + AccessTokenRepo
        + EventRepo
        + ConnectionRepo
        + SessionRepo
        + OrganizationRepo
        + MembershipRepo
        + InvitationRepo
        + EventLogRepo
        + ActionRepo
        + WebhookRepo
        + DeliveryRepo
        + RetentionRepo
{
}

/// Runs repository work on the store, off the async workers.
#[async_trait]
pub trait UnitOfWork: Send + Sync + 'static {
    /// Runs `work` in one transaction: commit on `Ok`, roll back on `Err`.
    ///
    /// # Errors
    /// `work`'s error, or `StoreError` (converted) when the store fails or is unreachable.
    async fn transaction<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static;

    /// Runs read-only `work` on one connection without opening a transaction.
    ///
    /// # Errors
    /// As [`UnitOfWork::transaction`].
    async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static;

    /// Checks that the store answers.
    ///
    /// # Errors
    /// `StoreError::Unavailable` when it does not.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// An organization with the count its `GET` shows, read in the same query as the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedOrganization {
    /// The organization.
    pub organization: portcullis_domain::organization::Organization,
    /// Memberships in the organization.
    pub member_count: u64,
}

/// Organizations.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait OrganizationRepo {
    /// Inserts an organization.
    ///
    /// # Errors
    /// Backend failures.
    fn insert_organization(
        &mut self,
        organization: &portcullis_domain::organization::Organization,
    ) -> Result<(), StoreError>;
    /// Replaces every mutable field of a stored organization.
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the organization does not exist.
    fn update_organization(
        &mut self,
        organization: &portcullis_domain::organization::Organization,
    ) -> Result<(), StoreError>;
    /// Deletes an organization and (by cascade) its memberships; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_organization(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::OrganizationId,
    ) -> Result<bool, StoreError>;
    /// Finds an organization of an environment with its member count.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_organization(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::OrganizationId,
    ) -> Result<Option<CountedOrganization>, StoreError>;
    /// One page of organizations with their member counts, in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_organizations(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<CountedOrganization>, StoreError>;
}

/// Filters and page of a membership listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipQuery {
    /// Only the memberships in this organization.
    pub organization: Option<portcullis_domain::OrganizationId>,
    /// Only the memberships of this user.
    pub user: Option<UserId>,
    /// The keyset page (id order).
    pub page: Keyset,
}

/// Memberships of users in organizations, with their roles.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait MembershipRepo {
    /// Inserts a membership and its roles.
    ///
    /// # Errors
    /// MUST return `StoreError::Conflict(Unique::Membership)` if the user is
    /// already a member of the organization, and `StoreError::MissingReference`
    /// when the user, organization or a role is gone.
    fn insert_membership(
        &mut self,
        membership: &portcullis_domain::organization::Membership,
    ) -> Result<(), StoreError>;
    /// Replaces the roles (and `updated_at`) of a stored membership.
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the membership does not exist and
    /// `StoreError::MissingReference` when a role is gone.
    fn replace_membership_roles(
        &mut self,
        membership: &portcullis_domain::organization::Membership,
    ) -> Result<(), StoreError>;
    /// Deletes a membership and (by cascade) its roles; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_membership(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::MembershipId,
    ) -> Result<bool, StoreError>;
    /// Finds a membership of an environment with its roles.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_membership(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::MembershipId,
    ) -> Result<Option<portcullis_domain::organization::Membership>, StoreError>;
    /// One page of memberships with their roles, in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_memberships(
        &mut self,
        environment: EnvironmentId,
        query: &MembershipQuery,
    ) -> Result<Vec<portcullis_domain::organization::Membership>, StoreError>;
}

/// Filters and page of an invitation listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationQuery {
    /// Only the invitations into this organization.
    pub organization: Option<portcullis_domain::OrganizationId>,
    /// Only the invitations in this status.
    pub status: Option<portcullis_domain::invitation::InvitationStatus>,
    /// Only the invitations of this (normalised) e-mail.
    pub email: Option<portcullis_domain::user::Email>,
    /// The keyset page (id order).
    pub page: Keyset,
}

/// Invitations into organizations, with the roles they grant.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait InvitationRepo {
    /// Inserts an invitation and its roles.
    ///
    /// # Errors
    /// MUST return `StoreError::MissingReference` when the organization or a
    /// role is gone.
    fn insert_invitation(
        &mut self,
        invitation: &portcullis_domain::invitation::Invitation,
    ) -> Result<(), StoreError>;
    /// Stores a transition: `status`, `user_id` and `updated_at`.
    ///
    /// # Errors
    /// MUST return `StoreError::NotFound` if the invitation does not exist.
    fn update_invitation_status(
        &mut self,
        invitation: &portcullis_domain::invitation::Invitation,
    ) -> Result<(), StoreError>;
    /// Deletes an invitation; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    fn delete_invitation(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::InvitationId,
    ) -> Result<bool, StoreError>;
    /// Finds an invitation of an environment with its roles.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_invitation(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::InvitationId,
    ) -> Result<Option<portcullis_domain::invitation::Invitation>, StoreError>;
    /// As [`InvitationRepo::find_invitation`], and locks the row until the
    /// transaction ends, so that two transitions of one invitation run one
    /// after the other and the second sees the first's outcome.
    ///
    /// # Errors
    /// As [`InvitationRepo::find_invitation`].
    fn lock_invitation(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::InvitationId,
    ) -> Result<Option<portcullis_domain::invitation::Invitation>, StoreError>;
    /// One page of invitations with their roles, in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_invitations(
        &mut self,
        environment: EnvironmentId,
        query: &InvitationQuery,
    ) -> Result<Vec<portcullis_domain::invitation::Invitation>, StoreError>;
}

/// Filters and page of an audit-trail listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Only events of this type (`user.created`).
    pub event_type: Option<String>,
    /// Only events about the resource with this id.
    pub resource_id: Option<String>,
    /// Only events that occurred at or after this instant.
    pub since: Option<portcullis_domain::Timestamp>,
    /// The keyset page (id order, which is the order of occurrence).
    pub page: Keyset,
}

/// The audit trail, read back.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait EventLogRepo {
    /// One event of an environment.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn find_event(
        &mut self,
        environment: EnvironmentId,
        id: portcullis_domain::EventId,
    ) -> Result<Option<portcullis_domain::event::AuditEvent>, StoreError>;
    /// One page of events, in id order.
    ///
    /// # Errors
    /// Backend failures; `Corrupt` for rows that break invariants.
    fn list_events(
        &mut self,
        environment: EnvironmentId,
        query: &EventQuery,
    ) -> Result<Vec<portcullis_domain::event::AuditEvent>, StoreError>;
}
