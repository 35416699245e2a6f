//! What handlers share: the use-case services and the host routing rules.

use std::sync::Arc;

use portcullis_application::actions::ActionService;
use portcullis_application::client_grants::ClientGrantService;
use portcullis_application::clients::ClientService;
use portcullis_application::connections::ConnectionService;
use portcullis_application::environments::EnvironmentService;
use portcullis_application::events::EventService;
use portcullis_application::invitations::InvitationService;
use portcullis_application::keys::KeyCache;
use portcullis_application::memberships::MembershipService;
use portcullis_application::organizations::OrganizationService;
use portcullis_application::permissions::PermissionService;
use portcullis_application::resource_servers::ResourceServerService;
use portcullis_application::role_permissions::RolePermissionService;
use portcullis_application::roles::RoleService;
use portcullis_application::scopes::ScopeService;
use portcullis_application::sessions::SessionService;
use portcullis_application::signing_keys::SigningKeyService;
use portcullis_application::tokens::TokenService;
use portcullis_application::user_roles::UserRoleService;
use portcullis_application::users::UserService;
use portcullis_application::webhooks::WebhookService;

/// The services behind the HTTP routes, generic over the store.
pub struct AppState<U> {
    /// Environments and host resolution.
    pub environments: Arc<EnvironmentService<U>>,
    /// Token issuance and verification.
    pub tokens: Arc<TokenService<U>>,
    /// Published keys (JWKS).
    pub keys: Arc<KeyCache<U>>,
    /// The users collection.
    pub users: Arc<UserService<U>>,
    /// The signing-keys collection.
    pub signing_keys: Arc<SigningKeyService<U>>,
    /// The permissions collection.
    pub permissions: Arc<PermissionService<U>>,
    /// The roles collection.
    pub roles: Arc<RoleService<U>>,
    /// The role-permissions collection.
    pub role_permissions: Arc<RolePermissionService<U>>,
    /// The user-roles collection.
    pub user_roles: Arc<UserRoleService<U>>,
    /// The clients collection.
    pub clients: Arc<ClientService<U>>,
    /// The client-grants collection.
    pub client_grants: Arc<ClientGrantService<U>>,
    /// The resource-servers collection.
    pub resource_servers: Arc<ResourceServerService<U>>,
    /// The scopes collection.
    pub scopes: Arc<ScopeService<U>>,
    /// The connections collection.
    pub connections: Arc<ConnectionService<U>>,
    /// The actions collection and their executions.
    pub actions: Arc<ActionService<U>>,
    /// The sessions collection.
    pub sessions: Arc<SessionService<U>>,
    /// The organizations collection.
    pub organizations: Arc<OrganizationService<U>>,
    /// The memberships collection.
    pub memberships: Arc<MembershipService<U>>,
    /// The invitations collection and the invitee's answers.
    pub invitations: Arc<InvitationService<U>>,
    /// The audit trail.
    pub events: Arc<EventService<U>>,
    /// The webhooks collection and their deliveries.
    pub webhooks: Arc<WebhookService<U>>,
    /// The store, for the readiness probe.
    pub store: Arc<U>,
    /// The base domain under which `SLUG.<base>` selects environment `SLUG`.
    pub base_domain: String,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Rate limits of `/oauth/token` and `/api`.
    pub limits: Arc<crate::limits::RateLimits>,
}

impl<U> std::fmt::Debug for AppState<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("base_domain", &self.base_domain)
            .finish_non_exhaustive()
    }
}
