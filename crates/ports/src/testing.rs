//! Test doubles for other crates' unit tests (feature `mock`): a mock
//! transaction implementing every repository, and a unit of work that runs
//! the closure inline on it.

use std::sync::{Arc, Mutex};

use crate::store::{SessionQuery, SessionRepo};
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

use crate::store::ConnectionRepo;
use crate::store::{
    AccessTokenRepo, ClientGrantQuery, ClientGrantRepo, ClientRepo, CountedRole, EnvironmentRepo,
    EventRepo, Keyset, PermissionRepo, ResourceServerRepo, RolePermissionQuery, RolePermissionRepo,
    RoleRepo, ScopeQuery, SigningKeyRepo, StoreError, Tx, UnitOfWork, UserQuery, UserRepo,
    UserRoleQuery, UserRoleRepo,
};
use portcullis_domain::ConnectionId;
use portcullis_domain::connection::Connection;

use portcullis_domain::WebhookId;
use portcullis_domain::webhook::{DeliveryAttempt, Webhook};

mockall::mock! {
    /// A transaction whose every repository method is a mockall expectation.
    pub Tx {}
    impl EnvironmentRepo for Tx {
        fn insert_environment(&mut self, environment: &Environment) -> Result<(), StoreError>;
        fn find_environment_by_slug(&mut self, slug: &str) -> Result<Option<Environment>, StoreError>;
        fn list_environments(&mut self) -> Result<Vec<Environment>, StoreError>;
    }
    impl UserRepo for Tx {
        fn insert_user(&mut self, user: &User) -> Result<(), StoreError>;
        fn update_user(&mut self, user: &User) -> Result<(), StoreError>;
        fn delete_user(&mut self, environment: EnvironmentId, id: UserId) -> Result<bool, StoreError>;
        fn lock_user(&mut self, environment: EnvironmentId, id: UserId) -> Result<Option<User>, StoreError>;
        fn find_user_by_email(&mut self, environment: EnvironmentId, email: &portcullis_domain::user::Email) -> Result<Option<User>, StoreError>;
        fn find_user(&mut self, environment: EnvironmentId, id: UserId) -> Result<Option<User>, StoreError>;
        fn list_users(&mut self, environment: EnvironmentId, query: &UserQuery) -> Result<Vec<User>, StoreError>;
    }
    impl ClientRepo for Tx {
        fn insert_client(&mut self, client: &Client) -> Result<(), StoreError>;
        fn find_client_by_client_id(&mut self, environment: EnvironmentId, client_id: &str) -> Result<Option<Client>, StoreError>;
        fn find_client(&mut self, environment: EnvironmentId, id: ClientId) -> Result<Option<Client>, StoreError>;
        fn update_client(&mut self, client: &Client) -> Result<(), StoreError>;
        fn delete_client(&mut self, environment: EnvironmentId, id: ClientId) -> Result<bool, StoreError>;
        fn list_clients(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<Client>, StoreError>;
    }
    impl ResourceServerRepo for Tx {
        fn insert_resource_server(&mut self, resource_server: &ResourceServer) -> Result<(), StoreError>;
        fn find_resource_server_by_identifier(&mut self, environment: EnvironmentId, identifier: &str) -> Result<Option<ResourceServer>, StoreError>;
        fn find_system_resource_server(&mut self, environment: EnvironmentId) -> Result<Option<ResourceServer>, StoreError>;
        fn insert_scopes(&mut self, scopes: &[Scope]) -> Result<(), StoreError>;
        fn find_resource_server(&mut self, environment: EnvironmentId, id: ResourceServerId) -> Result<Option<ResourceServer>, StoreError>;
        fn update_resource_server(&mut self, resource_server: &ResourceServer) -> Result<(), StoreError>;
        fn delete_resource_server(&mut self, environment: EnvironmentId, id: ResourceServerId) -> Result<bool, StoreError>;
        fn list_resource_servers(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<ResourceServer>, StoreError>;
        fn find_scope(&mut self, environment: EnvironmentId, id: ScopeId) -> Result<Option<Scope>, StoreError>;
        fn update_scope(&mut self, scope: &Scope) -> Result<(), StoreError>;
        fn delete_scope(&mut self, environment: EnvironmentId, id: ScopeId) -> Result<bool, StoreError>;
        fn list_scopes(&mut self, environment: EnvironmentId, query: &ScopeQuery) -> Result<Vec<Scope>, StoreError>;
        fn lock_scopes_of_resource_server(&mut self, environment: EnvironmentId, resource_server: ResourceServerId) -> Result<Vec<Scope>, StoreError>;
    }
    impl ClientGrantRepo for Tx {
        fn insert_client_grant(&mut self, grant: &ClientGrant) -> Result<(), StoreError>;
        fn find_client_grant(&mut self, environment: EnvironmentId, client: ClientId, resource_server: ResourceServerId) -> Result<Option<ClientGrant>, StoreError>;
        fn find_client_with_grant(&mut self, environment: EnvironmentId, client_id: &str, identifier: &str) -> Result<Option<(Client, ResourceServer, ClientGrant)>, StoreError>;
        fn lock_client_grants_of_resource_server(&mut self, environment: EnvironmentId, resource_server: ResourceServerId) -> Result<Vec<ClientGrant>, StoreError>;
        fn update_client_grant_scopes(&mut self, grant: &ClientGrant) -> Result<(), StoreError>;
        fn find_client_grant_by_id(&mut self, environment: EnvironmentId, id: ClientGrantId) -> Result<Option<ClientGrant>, StoreError>;
        fn delete_client_grant(&mut self, environment: EnvironmentId, id: ClientGrantId) -> Result<bool, StoreError>;
        fn list_client_grants(&mut self, environment: EnvironmentId, query: &ClientGrantQuery) -> Result<Vec<ClientGrant>, StoreError>;
    }
    impl SigningKeyRepo for Tx {
        fn insert_signing_key(&mut self, key: &SigningKey) -> Result<(), StoreError>;
        fn update_signing_key(&mut self, key: &SigningKey) -> Result<(), StoreError>;
        fn delete_signing_key(&mut self, environment: EnvironmentId, id: SigningKeyId) -> Result<bool, StoreError>;
        fn lock_signing_keys(&mut self, environment: EnvironmentId) -> Result<Vec<SigningKey>, StoreError>;
        fn list_signing_keys(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<SigningKey>, StoreError>;
        fn list_active_signing_keys(&mut self, environment: EnvironmentId) -> Result<Vec<SigningKey>, StoreError>;
        fn find_signing_key(&mut self, environment: EnvironmentId, id: SigningKeyId) -> Result<Option<SigningKey>, StoreError>;
    }
    impl PermissionRepo for Tx {
        fn insert_permission(&mut self, permission: &Permission) -> Result<(), StoreError>;
        fn update_permission(&mut self, permission: &Permission) -> Result<(), StoreError>;
        fn delete_permission(&mut self, environment: EnvironmentId, id: PermissionId) -> Result<bool, StoreError>;
        fn find_permission(&mut self, environment: EnvironmentId, id: PermissionId) -> Result<Option<Permission>, StoreError>;
        fn list_permissions(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<Permission>, StoreError>;
    }
    impl RoleRepo for Tx {
        fn insert_role(&mut self, role: &Role) -> Result<(), StoreError>;
        fn update_role(&mut self, role: &Role) -> Result<(), StoreError>;
        fn delete_role(&mut self, environment: EnvironmentId, id: RoleId) -> Result<bool, StoreError>;
        fn find_role(&mut self, environment: EnvironmentId, id: RoleId) -> Result<Option<CountedRole>, StoreError>;
        fn list_roles(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<CountedRole>, StoreError>;
    }
    impl RolePermissionRepo for Tx {
        fn insert_role_permission(&mut self, join: &RolePermission) -> Result<(), StoreError>;
        fn delete_role_permission(&mut self, environment: EnvironmentId, id: RolePermissionId) -> Result<bool, StoreError>;
        fn find_role_permission(&mut self, environment: EnvironmentId, id: RolePermissionId) -> Result<Option<RolePermission>, StoreError>;
        fn list_role_permissions(&mut self, environment: EnvironmentId, query: &RolePermissionQuery) -> Result<Vec<RolePermission>, StoreError>;
    }
    impl UserRoleRepo for Tx {
        fn insert_user_role(&mut self, join: &UserRole) -> Result<(), StoreError>;
        fn delete_user_role(&mut self, environment: EnvironmentId, id: UserRoleId) -> Result<bool, StoreError>;
        fn find_user_role(&mut self, environment: EnvironmentId, id: UserRoleId) -> Result<Option<UserRole>, StoreError>;
        fn list_user_roles(&mut self, environment: EnvironmentId, query: &UserRoleQuery) -> Result<Vec<UserRole>, StoreError>;
    }
    impl AccessTokenRepo for Tx {
        fn insert_access_token(&mut self, token: &OpaqueToken) -> Result<(), StoreError>;
        fn find_access_token(&mut self, environment: EnvironmentId, digest: &SecretDigest) -> Result<Option<OpaqueToken>, StoreError>;
        fn revoke_access_token(&mut self, environment: EnvironmentId, id: AccessTokenId, at: Timestamp) -> Result<bool, StoreError>;
    }
    impl EventRepo for Tx {
        fn append_event(&mut self, event: &AuditEvent) -> Result<(), StoreError>;
    }
    impl ConnectionRepo for Tx {
        fn insert_connection(&mut self, connection: &Connection) -> Result<(), StoreError>;
        fn update_connection(&mut self, connection: &Connection) -> Result<(), StoreError>;
        fn delete_connection(&mut self, environment: EnvironmentId, id: ConnectionId) -> Result<bool, StoreError>;
        fn find_connection(&mut self, environment: EnvironmentId, id: ConnectionId) -> Result<Option<Connection>, StoreError>;
        fn list_connections(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<Connection>, StoreError>;
    }
    impl SessionRepo for Tx {
        fn insert_session(&mut self, session: &Session) -> Result<(), StoreError>;
        fn update_session(&mut self, session: &Session) -> Result<(), StoreError>;
        fn delete_session(&mut self, environment: EnvironmentId, id: SessionId) -> Result<bool, StoreError>;
        fn find_session(&mut self, environment: EnvironmentId, id: SessionId) -> Result<Option<Session>, StoreError>;
        fn list_sessions(&mut self, environment: EnvironmentId, query: &SessionQuery) -> Result<Vec<Session>, StoreError>;
        fn revoke_sessions_of_user(&mut self, environment: EnvironmentId, user: UserId, at: Timestamp) -> Result<Vec<Session>, StoreError>;
    }
    impl crate::store::OrganizationRepo for Tx {
        fn insert_organization(&mut self, organization: &portcullis_domain::organization::Organization) -> Result<(), StoreError>;
        fn update_organization(&mut self, organization: &portcullis_domain::organization::Organization) -> Result<(), StoreError>;
        fn delete_organization(&mut self, environment: EnvironmentId, id: portcullis_domain::OrganizationId) -> Result<bool, StoreError>;
        fn find_organization(&mut self, environment: EnvironmentId, id: portcullis_domain::OrganizationId) -> Result<Option<crate::store::CountedOrganization>, StoreError>;
        fn list_organizations(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<crate::store::CountedOrganization>, StoreError>;
    }
    impl crate::store::MembershipRepo for Tx {
        fn insert_membership(&mut self, membership: &portcullis_domain::organization::Membership) -> Result<(), StoreError>;
        fn replace_membership_roles(&mut self, membership: &portcullis_domain::organization::Membership) -> Result<(), StoreError>;
        fn delete_membership(&mut self, environment: EnvironmentId, id: portcullis_domain::MembershipId) -> Result<bool, StoreError>;
        fn find_membership(&mut self, environment: EnvironmentId, id: portcullis_domain::MembershipId) -> Result<Option<portcullis_domain::organization::Membership>, StoreError>;
        fn list_memberships(&mut self, environment: EnvironmentId, query: &crate::store::MembershipQuery) -> Result<Vec<portcullis_domain::organization::Membership>, StoreError>;
    }
    impl crate::store::InvitationRepo for Tx {
        fn insert_invitation(&mut self, invitation: &portcullis_domain::invitation::Invitation) -> Result<(), StoreError>;
        fn update_invitation_status(&mut self, invitation: &portcullis_domain::invitation::Invitation) -> Result<(), StoreError>;
        fn delete_invitation(&mut self, environment: EnvironmentId, id: portcullis_domain::InvitationId) -> Result<bool, StoreError>;
        fn find_invitation(&mut self, environment: EnvironmentId, id: portcullis_domain::InvitationId) -> Result<Option<portcullis_domain::invitation::Invitation>, StoreError>;
        fn lock_invitation(&mut self, environment: EnvironmentId, id: portcullis_domain::InvitationId) -> Result<Option<portcullis_domain::invitation::Invitation>, StoreError>;
        fn list_invitations(&mut self, environment: EnvironmentId, query: &crate::store::InvitationQuery) -> Result<Vec<portcullis_domain::invitation::Invitation>, StoreError>;
    }
    impl crate::store::EventLogRepo for Tx {
        fn find_event(&mut self, environment: EnvironmentId, id: portcullis_domain::EventId) -> Result<Option<AuditEvent>, StoreError>;
        fn list_events(&mut self, environment: EnvironmentId, query: &crate::store::EventQuery) -> Result<Vec<AuditEvent>, StoreError>;
    }
    impl crate::store::ActionRepo for Tx {
        fn insert_action(&mut self, action: &portcullis_domain::action::Action) -> Result<(), StoreError>;
        fn update_action(&mut self, action: &portcullis_domain::action::Action) -> Result<(), StoreError>;
        fn delete_action(&mut self, environment: EnvironmentId, id: portcullis_domain::ActionId) -> Result<bool, StoreError>;
        fn find_action(&mut self, environment: EnvironmentId, id: portcullis_domain::ActionId) -> Result<Option<portcullis_domain::action::Action>, StoreError>;
        fn find_action_by_trigger(&mut self, environment: EnvironmentId, trigger: portcullis_domain::action::Trigger) -> Result<Option<portcullis_domain::action::Action>, StoreError>;
        fn list_actions(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<portcullis_domain::action::Action>, StoreError>;
        fn insert_action_executions(&mut self, executions: &[portcullis_domain::action::ActionExecution]) -> Result<(), StoreError>;
        fn list_action_executions(&mut self, environment: EnvironmentId, action: portcullis_domain::ActionId, page: &Keyset) -> Result<Vec<portcullis_domain::action::ActionExecution>, StoreError>;
        fn find_action_execution(&mut self, environment: EnvironmentId, action: portcullis_domain::ActionId, id: portcullis_domain::ActionExecutionId) -> Result<Option<portcullis_domain::action::ActionExecution>, StoreError>;
        fn prune_action_executions(&mut self, action: portcullis_domain::ActionId, keep: u32) -> Result<u64, StoreError>;
    }
    impl crate::store::WebhookRepo for Tx {
        fn insert_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError>;
        fn update_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError>;
        fn delete_webhook(&mut self, environment: EnvironmentId, id: WebhookId) -> Result<bool, StoreError>;
        fn find_webhook(&mut self, environment: EnvironmentId, id: WebhookId) -> Result<Option<Webhook>, StoreError>;
        fn list_webhooks(&mut self, environment: EnvironmentId, page: &Keyset) -> Result<Vec<Webhook>, StoreError>;
    }
    impl crate::store::DeliveryRepo for Tx {
        fn claim_deliveries(&mut self, now: Timestamp, lease_until: Timestamp, limits: &crate::store::ClaimLimits) -> Result<Vec<crate::store::ClaimedDelivery>, StoreError>;
        fn record_delivery_attempt(&mut self, attempt: &DeliveryAttempt, retry_at: Option<Timestamp>) -> Result<(), StoreError>;
        fn list_delivery_attempts(&mut self, webhook: WebhookId, page: &Keyset) -> Result<Vec<DeliveryAttempt>, StoreError>;
        fn count_pending_deliveries(&mut self) -> Result<u64, StoreError>;
    }
    impl crate::store::RetentionRepo for Tx {
        fn purge_access_tokens(&mut self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
        fn purge_events(&mut self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
        fn purge_delivery_attempts(&mut self, before: Timestamp, limit: u32) -> Result<u64, StoreError>;
    }
}

/// Outcome of the units of work an [`InlineUow`] ran.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UowLog {
    /// Transactions whose work returned `Ok`.
    pub committed: usize,
    /// Transactions whose work returned `Err`.
    pub rolled_back: usize,
    /// Reads run.
    pub reads: usize,
}

/// A unit of work that runs every closure inline on one [`MockTx`], and
/// counts commits and rollbacks.
#[derive(Clone)]
pub struct InlineUow {
    tx: Arc<Mutex<MockTx>>,
    log: Arc<Mutex<UowLog>>,
}

impl std::fmt::Debug for InlineUow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineUow").finish_non_exhaustive()
    }
}

impl InlineUow {
    /// Wraps a prepared mock transaction.
    #[must_use]
    pub fn new(tx: MockTx) -> Self {
        Self {
            tx: Arc::new(Mutex::new(tx)),
            log: Arc::default(),
        }
    }

    /// What ran so far.
    ///
    /// # Panics
    /// If a closure panicked while holding the log.
    #[must_use]
    pub fn log(&self) -> UowLog {
        *self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut dyn Tx) -> Result<T, E>,
    {
        let mut tx = self
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut *tx)
    }
}

#[async_trait]
impl UnitOfWork for InlineUow {
    async fn transaction<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let result = self.run(work);
        let mut log = self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if result.is_ok() {
            log.committed += 1;
        } else {
            log.rolled_back += 1;
        }
        result
    }

    async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .reads += 1;
        self.run(work)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
