//! Resources as the Management API shows them: JSON:API resource objects.
//! The HTTP adapter renders responses with these, and audit events store the
//! same objects, so an event's `data` is always what the API returned. No
//! function here ever reads a secret.

use portcullis_domain::Timestamp;
use portcullis_domain::access::{Permission, RolePermission, UserRole};
use portcullis_domain::access_token::OpaqueToken;
use portcullis_domain::oauth::{Client, ClientGrant, ResourceServer, Scope};
use portcullis_domain::signing_key::{ALGORITHM, SigningKey};
use portcullis_domain::user::User;
use portcullis_ports::store::CountedRole;
use serde_json::{Map, Value, json};

fn rfc3339(at: Timestamp) -> Value {
    Value::String(at.to_rfc3339())
}

fn object(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Map::new()))
}

fn to_one(kind: &str, id: impl ToString) -> Value {
    json!({ "data": { "type": kind, "id": id.to_string() } })
}

/// `user`.
#[must_use]
pub fn user(user: &User) -> Value {
    json!({
        "type": "user",
        "id": user.id().to_string(),
        "attributes": {
            "email": user.email().as_str(),
            "first_name": user.first_name().map(|n| n.as_str()),
            "last_name": user.last_name().map(|n| n.as_str()),
            "email_verified": user.email_verified(),
            "blocked": user.blocked(),
            "metadata": object(user.metadata().as_str()),
            "created_at": rfc3339(user.created_at()),
            "updated_at": rfc3339(user.updated_at()),
        }
    })
}

/// `permission`.
#[must_use]
pub fn permission(permission: &Permission) -> Value {
    json!({
        "type": "permission",
        "id": permission.id.to_string(),
        "attributes": {
            "name": permission.name.as_str(),
            "description": permission.description.as_str(),
            "created_at": rfc3339(permission.created_at),
            "updated_at": rfc3339(permission.updated_at),
        }
    })
}

/// `role`, with its counts.
#[must_use]
pub fn role(counted: &CountedRole) -> Value {
    let role = &counted.role;
    json!({
        "type": "role",
        "id": role.id.to_string(),
        "attributes": {
            "name": role.name.as_str(),
            "description": role.description.as_str(),
            "user_count": counted.user_count,
            "permission_count": counted.permission_count,
            "created_at": rfc3339(role.created_at),
            "updated_at": rfc3339(role.updated_at),
        }
    })
}

/// `role_permission`: a join shown through its relationships.
#[must_use]
pub fn role_permission(join: &RolePermission) -> Value {
    json!({
        "type": "role_permission",
        "id": join.id.to_string(),
        "attributes": {
            "created_at": rfc3339(join.created_at),
        },
        "relationships": {
            "role": to_one("role", join.role_id),
            "permission": to_one("permission", join.permission_id),
        }
    })
}

/// `user_role`: a join shown through its relationships.
#[must_use]
pub fn user_role(join: &UserRole) -> Value {
    json!({
        "type": "user_role",
        "id": join.id.to_string(),
        "attributes": {
            "created_at": rfc3339(join.created_at),
        },
        "relationships": {
            "user": to_one("user", join.user_id),
            "role": to_one("role", join.role_id),
        }
    })
}

/// `access_token`: what is known of an opaque token, never the token itself.
#[must_use]
pub fn access_token(token: &OpaqueToken) -> Value {
    json!({
        "type": "access_token",
        "id": token.id.to_string(),
        "attributes": {
            "client_id": token.client_id,
            "audience": token.audience,
            "scope": token.scopes.join(" "),
            "issued_at": rfc3339(token.issued_at),
            "expires_at": rfc3339(token.expires_at),
            "revoked_at": token.revoked_at.map(rfc3339),
        },
    })
}

/// `signing_key` (the public half only).
#[must_use]
pub fn signing_key(key: &SigningKey) -> Value {
    json!({
        "type": "signing_key",
        "id": key.id.to_string(),
        "attributes": {
            "kid": key.kid,
            "algorithm": ALGORITHM,
            "status": key.status.as_str(),
            "primary": key.primary,
            "public_jwk": object(&key.public_jwk),
            "created_at": rfc3339(key.created_at),
            "deactivated_at": key.deactivated_at.map(rfc3339),
        }
    })
}

/// `client` (never its secret).
#[must_use]
pub fn client(client: &Client) -> Value {
    json!({
        "type": "client",
        "id": client.id.to_string(),
        "attributes": {
            "name": client.name,
            "client_id": client.client_id,
            "client_type": client.client_type.as_str(),
            "redirect_uris": client.redirect_uris,
            "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "token_format": client.token_format.as_str(),
            "first_party": client.first_party,
            "created_at": rfc3339(client.created_at),
            "updated_at": rfc3339(client.updated_at),
        }
    })
}

/// `resource_server`.
#[must_use]
pub fn resource_server(server: &ResourceServer) -> Value {
    json!({
        "type": "resource_server",
        "id": server.id.to_string(),
        "attributes": {
            "name": server.name,
            "identifier": server.identifier,
            "token_lifetime": server.token_lifetime.seconds(),
            "system": server.system,
            "created_at": rfc3339(server.created_at),
            "updated_at": rfc3339(server.updated_at),
        }
    })
}

/// `scope`.
#[must_use]
pub fn scope(scope: &Scope) -> Value {
    json!({
        "type": "scope",
        "id": scope.id.to_string(),
        "attributes": {
            "name": scope.name,
            "description": scope.description,
            "created_at": rfc3339(scope.created_at),
        },
        "relationships": { "resource_server": to_one("resource_server", scope.resource_server_id) }
    })
}

/// `client_grant`.
#[must_use]
pub fn client_grant(grant: &ClientGrant) -> Value {
    json!({
        "type": "client_grant",
        "id": grant.id.to_string(),
        "attributes": {
            "allowed_scopes": grant.allowed_scopes,
            "created_at": rfc3339(grant.created_at),
        },
        "relationships": {
            "client": to_one("client", grant.client_id),
            "resource_server": to_one("resource_server", grant.resource_server_id),
        }
    })
}

/// `connection`: never its client secret nor the ciphertext, only whether one is set.
#[must_use]
pub fn connection(connection: &portcullis_domain::connection::Connection) -> Value {
    json!({
        "type": "connection",
        "id": connection.id.to_string(),
        "attributes": {
            "strategy": connection.strategy.as_str(),
            "display_name": connection.display_name.as_str(),
            "client_id": connection.client_id.as_str(),
            "client_secret_set": connection.client_secret_set(),
            "scopes": connection.scopes.as_str(),
            "discovery_url": connection.discovery_url.as_ref().map(|d| d.as_str()),
            "enforce_sso": connection.enforce_sso,
            "created_at": rfc3339(connection.created_at),
            "updated_at": rfc3339(connection.updated_at),
        }
    })
}
/// `session`, with its `status` derived at `now`.
#[must_use]
pub fn session(session: &portcullis_domain::session::Session, now: Timestamp) -> Value {
    json!({
        "type": "session",
        "id": session.id.to_string(),
        "attributes": {
            "ip_address": session.ip_address.as_ref().map(|ip| ip.as_str()),
            "user_agent": session.user_agent.as_ref().map(|ua| ua.as_str()),
            "last_active_at": rfc3339(session.last_active_at),
            "expires_at": rfc3339(session.expires_at),
            "revoked_at": session.revoked_at.map(rfc3339),
            "status": session.status(now).as_str(),
            "created_at": rfc3339(session.created_at),
        },
        "relationships": {
            "user": to_one("user", session.user_id),
        }
    })
}
/// `organization`, with its member count.
#[must_use]
pub fn organization(counted: &portcullis_ports::store::CountedOrganization) -> Value {
    let organization = &counted.organization;
    json!({
        "type": "organization",
        "id": organization.id.to_string(),
        "attributes": {
            "name": organization.name.as_str(),
            "metadata": object(organization.metadata.as_str()),
            "member_count": counted.member_count,
            "created_at": rfc3339(organization.created_at),
            "updated_at": rfc3339(organization.updated_at),
        }
    })
}

/// `membership`: a user in an organization, with the roles held there.
#[must_use]
pub fn membership(membership: &portcullis_domain::organization::Membership) -> Value {
    let roles: Vec<Value> = membership
        .role_ids
        .iter()
        .map(|id| json!({ "type": "role", "id": id.to_string() }))
        .collect();
    json!({
        "type": "membership",
        "id": membership.id.to_string(),
        "attributes": {
            "created_at": rfc3339(membership.created_at),
            "updated_at": rfc3339(membership.updated_at),
        },
        "relationships": {
            "user": to_one("user", membership.user_id),
            "organization": to_one("organization", membership.organization_id),
            "roles": { "data": roles },
        }
    })
}

/// `invitation`: never its token (only the create response carries that).
#[must_use]
pub fn invitation(invitation: &portcullis_domain::invitation::Invitation) -> Value {
    let role_ids: Vec<String> = invitation
        .role_ids
        .iter()
        .map(ToString::to_string)
        .collect();
    let user = match invitation.user_id {
        Some(id) => to_one("user", id),
        None => json!({ "data": null }),
    };
    json!({
        "type": "invitation",
        "id": invitation.id.to_string(),
        "attributes": {
            "email": invitation.email.as_str(),
            "role_ids": role_ids,
            "status": invitation.status.as_str(),
            "expires_at": rfc3339(invitation.expires_at),
            "created_at": rfc3339(invitation.created_at),
            "updated_at": rfc3339(invitation.updated_at),
        },
        "relationships": {
            "organization": to_one("organization", invitation.organization_id),
            "user": user,
        }
    })
}

/// `event`: one entry of the audit trail; `data` is the resource object
/// it recorded.
#[must_use]
pub fn event(event: &portcullis_domain::event::AuditEvent) -> Value {
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    json!({
        "type": "event",
        "id": event.id.to_string(),
        "attributes": {
            "event_type": event.event_type,
            "actor": event.actor,
            "resource_type": event.resource_type,
            "resource_id": event.resource_id,
            "data": data,
            "occurred_at": rfc3339(event.occurred_at),
        }
    })
}

/// `event_type`: an entry of the catalog; its id is the event's name.
#[must_use]
pub fn event_type(event_type: &crate::event_types::EventType) -> Value {
    json!({
        "type": "event_type",
        "id": event_type.name,
        "attributes": {
            "description": event_type.description,
            "resource_type": event_type.resource_type(),
            "schema": event_type.schema(),
        }
    })
}

/// `action`.
#[must_use]
pub fn action(action: &portcullis_domain::action::Action) -> Value {
    json!({
        "type": "action",
        "id": action.id.to_string(),
        "attributes": {
            "name": action.name.as_str(),
            "trigger": action.trigger.as_str(),
            "code": action.code.as_str(),
            "enabled": action.enabled,
            "created_at": rfc3339(action.created_at),
            "updated_at": rfc3339(action.updated_at),
        }
    })
}

/// `action_execution`, with its action as a relationship.
#[must_use]
pub fn action_execution(execution: &portcullis_domain::action::ActionExecution) -> Value {
    json!({
        "type": "action_execution",
        "id": execution.id.to_string(),
        "attributes": {
            "outcome": execution.outcome.as_str(),
            "duration_ms": execution.duration_ms,
            "error": execution.error,
            "executed_at": rfc3339(execution.executed_at),
        },
        "relationships": {
            "action": to_one("action", execution.action_id),
        }
    })
}

/// `webhook`, never with its signing secret (see [`webhook_with_secret`]).
#[must_use]
pub fn webhook(webhook: &portcullis_domain::webhook::Webhook) -> Value {
    json!({
        "type": "webhook",
        "id": webhook.id.to_string(),
        "attributes": {
            "name": webhook.name.as_str(),
            "url": webhook.url.as_str(),
            "events": webhook.events,
            "active": webhook.active,
            "created_at": rfc3339(webhook.created_at),
            "updated_at": rfc3339(webhook.updated_at),
        }
    })
}

/// `webhook` with `signing_secret`: only the create and `rotate_secret`
/// responses render this, never an event.
#[must_use]
pub fn webhook_with_secret(
    webhook: &portcullis_domain::webhook::Webhook,
    secret: &secrecy::SecretString,
) -> Value {
    use secrecy::ExposeSecret as _;
    let mut resource = self::webhook(webhook);
    if let Some(attributes) = resource
        .get_mut("attributes")
        .and_then(Value::as_object_mut)
    {
        attributes.insert(
            "signing_secret".to_owned(),
            Value::String(secret.expose_secret().to_owned()),
        );
    }
    resource
}

/// `webhook_delivery`: one attempt.
#[must_use]
pub fn webhook_delivery(attempt: &portcullis_domain::webhook::DeliveryAttempt) -> Value {
    json!({
        "type": "webhook_delivery",
        "id": attempt.id.to_string(),
        "attributes": {
            "event_id": attempt.event_id.to_string(),
            "attempt": attempt.attempt,
            "status_code": attempt.status_code,
            "duration_ms": attempt.duration_ms,
            "error": attempt.error,
            "outcome": attempt.outcome.as_str(),
            "attempted_at": rfc3339(attempt.attempted_at),
        },
        "relationships": {
            "webhook": to_one("webhook", attempt.webhook_id),
        }
    })
}
