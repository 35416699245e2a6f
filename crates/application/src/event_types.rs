//! The catalog of every event the server emits, each with a description
//! and a JSON Schema (draft 2020-12) of its `data`: the resource object as
//! the API renders it. `GET /api/event-types` serves it and webhook
//! subscriptions are checked against it. The shapes below mirror
//! [`crate::representation`]; a test renders every resource type and
//! validates it against its schema, so the two cannot drift apart.

use serde_json::{Map, Value, json};

/// The JSON type of an attribute.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// A string.
    Text,
    /// A string or `null`.
    NullableText,
    /// `true` or `false`.
    Boolean,
    /// A non-negative integer.
    Count,
    /// A JSON object.
    Object,
    /// An array of strings.
    TextList,
    /// An RFC 3339 instant.
    Time,
    /// An RFC 3339 instant or `null`.
    NullableTime,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An array of these strings.
    ListOf(&'static [&'static str]),
}

/// The cardinality of a relationship.
#[derive(Debug, Clone, Copy)]
enum Link {
    /// Always one resource.
    One,
    /// One resource or `null`.
    OptionalOne,
    /// An array of resources.
    Many,
}

/// A resource type as events carry it.
#[derive(Debug)]
struct Shape {
    kind: &'static str,
    attributes: &'static [(&'static str, Field)],
    relationships: &'static [(&'static str, &'static str, Link)],
}

/// One kind of event.
#[derive(Debug)]
pub struct EventType {
    /// Its name, `<resource type>.<what happened>` (`user.created`).
    pub name: &'static str,
    /// What it means, for people.
    pub description: &'static str,
    shape: &'static Shape,
}

use Field::{
    Boolean, Count, ListOf, NullableText, NullableTime, Object, OneOf, Text, TextList, Time,
};
use Link::{Many, One, OptionalOne};

const USER: Shape = Shape {
    kind: "user",
    attributes: &[
        ("email", Text),
        ("first_name", NullableText),
        ("last_name", NullableText),
        ("email_verified", Boolean),
        ("blocked", Boolean),
        ("metadata", Object),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};
const PERMISSION: Shape = Shape {
    kind: "permission",
    attributes: &[
        ("name", Text),
        ("description", Text),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};
const ROLE: Shape = Shape {
    kind: "role",
    attributes: &[
        ("name", Text),
        ("description", Text),
        ("user_count", Count),
        ("permission_count", Count),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};
const ROLE_PERMISSION: Shape = Shape {
    kind: "role_permission",
    attributes: &[("created_at", Time)],
    relationships: &[("role", "role", One), ("permission", "permission", One)],
};
const USER_ROLE: Shape = Shape {
    kind: "user_role",
    attributes: &[("created_at", Time)],
    relationships: &[("user", "user", One), ("role", "role", One)],
};
const ACCESS_TOKEN: Shape = Shape {
    kind: "access_token",
    attributes: &[
        ("client_id", Text),
        ("audience", Text),
        ("scope", Text),
        ("issued_at", Time),
        ("expires_at", Time),
        ("revoked_at", NullableTime),
    ],
    relationships: &[],
};
const SIGNING_KEY: Shape = Shape {
    kind: "signing_key",
    attributes: &[
        ("kid", Text),
        ("algorithm", OneOf(&["RS256"])),
        ("status", OneOf(&["active", "inactive"])),
        ("primary", Boolean),
        ("public_jwk", Object),
        ("created_at", Time),
        ("deactivated_at", NullableTime),
    ],
    relationships: &[],
};
const GRANT_TYPES: &[&str] = &["authorization_code", "client_credentials", "refresh_token"];
const CLIENT: Shape = Shape {
    kind: "client",
    attributes: &[
        ("name", Text),
        ("client_id", Text),
        ("client_type", OneOf(&["confidential", "public"])),
        ("redirect_uris", TextList),
        ("grant_types", ListOf(GRANT_TYPES)),
        ("token_format", OneOf(&["jwt", "opaque"])),
        ("first_party", Boolean),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};
const RESOURCE_SERVER: Shape = Shape {
    kind: "resource_server",
    attributes: &[
        ("name", Text),
        ("identifier", Text),
        ("token_lifetime", Count),
        ("system", Boolean),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};
const SCOPE: Shape = Shape {
    kind: "scope",
    attributes: &[("name", Text), ("description", Text), ("created_at", Time)],
    relationships: &[("resource_server", "resource_server", One)],
};
const CLIENT_GRANT: Shape = Shape {
    kind: "client_grant",
    attributes: &[("allowed_scopes", TextList), ("created_at", Time)],
    relationships: &[
        ("client", "client", One),
        ("resource_server", "resource_server", One),
    ],
};
const WEBHOOK: Shape = Shape {
    kind: "webhook",
    attributes: &[
        ("name", Text),
        ("url", Text),
        ("events", TextList),
        ("active", Boolean),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};
const CONNECTION: Shape = Shape {
    kind: "connection",
    attributes: &[
        (
            "strategy",
            OneOf(&[
                "google",
                "microsoft",
                "github",
                "facebook",
                "discord",
                "gitlab",
                "slack",
                "linkedin",
                "bitbucket",
                "auth0",
                "oidc",
            ]),
        ),
        ("display_name", Text),
        ("client_id", Text),
        ("client_secret_set", Boolean),
        ("scopes", Text),
        ("discovery_url", NullableText),
        ("enforce_sso", Boolean),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};
const SESSION: Shape = Shape {
    kind: "session",
    attributes: &[
        ("ip_address", NullableText),
        ("user_agent", NullableText),
        ("last_active_at", Time),
        ("expires_at", Time),
        ("revoked_at", NullableTime),
        ("status", OneOf(&["active", "expired", "revoked"])),
        ("created_at", Time),
    ],
    relationships: &[("user", "user", One)],
};
const ORGANIZATION: Shape = Shape {
    kind: "organization",
    attributes: &[
        ("name", Text),
        ("metadata", Object),
        ("member_count", Count),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};
const MEMBERSHIP: Shape = Shape {
    kind: "membership",
    attributes: &[("created_at", Time), ("updated_at", Time)],
    relationships: &[
        ("user", "user", One),
        ("organization", "organization", One),
        ("roles", "role", Many),
    ],
};
const INVITATION: Shape = Shape {
    kind: "invitation",
    attributes: &[
        ("email", Text),
        ("role_ids", TextList),
        (
            "status",
            OneOf(&["pending", "accepted", "declined", "revoked"]),
        ),
        ("expires_at", Time),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[
        ("organization", "organization", One),
        ("user", "user", OptionalOne),
    ],
};

const ACTION: Shape = Shape {
    kind: "action",
    attributes: &[
        ("name", Text),
        ("trigger", OneOf(&["pre_token", "post_login"])),
        ("code", Text),
        ("enabled", Boolean),
        ("created_at", Time),
        ("updated_at", Time),
    ],
    relationships: &[],
};

macro_rules! event {
    ($name:literal, $shape:ident, $description:literal) => {
        EventType {
            name: $name,
            description: $description,
            shape: &$shape,
        }
    };
}

/// Every event the server emits, grouped by resource type.
static CATALOG: &[EventType] = &[
    event!(
        "user.created",
        USER,
        "A user was created (through the API or by accepting an invitation)."
    ),
    event!(
        "user.updated",
        USER,
        "A user's attributes changed (including being blocked or unblocked)."
    ),
    event!(
        "user.deleted",
        USER,
        "A user was deleted, with its sessions, roles and memberships."
    ),
    event!(
        "permission.created",
        PERMISSION,
        "A permission was created."
    ),
    event!(
        "permission.updated",
        PERMISSION,
        "A permission's name or description changed."
    ),
    event!(
        "permission.deleted",
        PERMISSION,
        "A permission was deleted, with its role grants."
    ),
    event!("role.created", ROLE, "A role was created."),
    event!(
        "role.updated",
        ROLE,
        "A role's name or description changed."
    ),
    event!(
        "role.deleted",
        ROLE,
        "A role was deleted, with its grants and assignments."
    ),
    event!(
        "role_permission.created",
        ROLE_PERMISSION,
        "A permission was granted to a role."
    ),
    event!(
        "role_permission.deleted",
        ROLE_PERMISSION,
        "A permission was taken from a role."
    ),
    event!(
        "user_role.created",
        USER_ROLE,
        "A role was assigned to a user."
    ),
    event!(
        "user_role.deleted",
        USER_ROLE,
        "A role was taken from a user."
    ),
    event!("client.created", CLIENT, "An OAuth client was created."),
    event!(
        "client.updated",
        CLIENT,
        "An OAuth client's settings changed."
    ),
    event!(
        "client.secret_rotated",
        CLIENT,
        "A confidential client's secret was replaced; the old one stopped working."
    ),
    event!(
        "client.deleted",
        CLIENT,
        "An OAuth client was deleted, with its grants and tokens."
    ),
    event!(
        "client_grant.created",
        CLIENT_GRANT,
        "A client was granted access to a resource server."
    ),
    event!(
        "client_grant.updated",
        CLIENT_GRANT,
        "A grant's allowed scopes changed (directly, or by a scope rename or deletion)."
    ),
    event!(
        "client_grant.deleted",
        CLIENT_GRANT,
        "A client's access to a resource server was withdrawn."
    ),
    event!(
        "resource_server.created",
        RESOURCE_SERVER,
        "A resource server (an API) was created."
    ),
    event!(
        "resource_server.updated",
        RESOURCE_SERVER,
        "A resource server's name or token lifetime changed."
    ),
    event!(
        "resource_server.deleted",
        RESOURCE_SERVER,
        "A resource server was deleted, with its scopes and grants."
    ),
    event!(
        "scope.created",
        SCOPE,
        "A scope was added to a resource server."
    ),
    event!(
        "scope.updated",
        SCOPE,
        "A scope's name or description changed."
    ),
    event!(
        "scope.deleted",
        SCOPE,
        "A scope was deleted and removed from every grant."
    ),
    event!(
        "signing_key.created",
        SIGNING_KEY,
        "A signing key was generated and became primary."
    ),
    event!(
        "signing_key.deactivated",
        SIGNING_KEY,
        "A signing key stopped signing and left the JWKS."
    ),
    event!(
        "signing_key.deleted",
        SIGNING_KEY,
        "An inactive signing key was deleted."
    ),
    event!(
        "access_token.revoked",
        ACCESS_TOKEN,
        "An opaque access token was revoked by its client."
    ),
    event!(
        "session.created",
        SESSION,
        "A session was opened for a user."
    ),
    event!(
        "session.touched",
        SESSION,
        "A session's last activity was recorded."
    ),
    event!(
        "session.revoked",
        SESSION,
        "A session was revoked (directly, or because its user was blocked)."
    ),
    event!("session.deleted", SESSION, "A session was deleted."),
    event!(
        "connection.created",
        CONNECTION,
        "An identity provider connection was created."
    ),
    event!(
        "connection.updated",
        CONNECTION,
        "A connection's settings changed."
    ),
    event!(
        "connection.deleted",
        CONNECTION,
        "A connection was deleted."
    ),
    event!(
        "organization.created",
        ORGANIZATION,
        "An organization was created."
    ),
    event!(
        "organization.updated",
        ORGANIZATION,
        "An organization's name or metadata changed."
    ),
    event!(
        "organization.deleted",
        ORGANIZATION,
        "An organization was deleted, with its memberships and invitations."
    ),
    event!(
        "membership.created",
        MEMBERSHIP,
        "A user joined an organization (through the API or an accepted invitation)."
    ),
    event!(
        "membership.updated",
        MEMBERSHIP,
        "The roles a member holds changed."
    ),
    event!(
        "membership.deleted",
        MEMBERSHIP,
        "A user left an organization."
    ),
    event!(
        "invitation.created",
        INVITATION,
        "Someone was invited into an organization."
    ),
    event!(
        "invitation.revoked",
        INVITATION,
        "A pending invitation was withdrawn."
    ),
    event!(
        "invitation.accepted",
        INVITATION,
        "The invitee accepted and became a member."
    ),
    event!("invitation.declined", INVITATION, "The invitee declined."),
    event!(
        "invitation.deleted",
        INVITATION,
        "An invitation was deleted."
    ),
    event!(
        "action.created",
        ACTION,
        "A JavaScript action was attached to a trigger."
    ),
    event!(
        "action.updated",
        ACTION,
        "An action's name, code or enabled flag changed."
    ),
    event!("action.deleted", ACTION, "An action was deleted."),
    event!("webhook.created", WEBHOOK, "A webhook was created."),
    event!(
        "webhook.updated",
        WEBHOOK,
        "A webhook's name, URL, subscriptions or active flag changed."
    ),
    event!("webhook.deleted", WEBHOOK, "A webhook was deleted."),
    event!(
        "webhook.secret_rotated",
        WEBHOOK,
        "A webhook's signing secret was replaced (the secret itself is never in an event)."
    ),
];

/// Every event type, grouped by resource type.
#[must_use]
pub fn catalog() -> &'static [EventType] {
    CATALOG
}

/// The event type called `name`, if the server emits it.
#[must_use]
pub fn find(name: &str) -> Option<&'static EventType> {
    CATALOG.iter().find(|event| event.name == name)
}

fn field_schema(field: Field) -> Value {
    match field {
        Text => json!({"type": "string"}),
        NullableText => json!({"type": ["string", "null"]}),
        Boolean => json!({"type": "boolean"}),
        Count => json!({"type": "integer", "minimum": 0}),
        Object => json!({"type": "object"}),
        TextList => json!({"type": "array", "items": {"type": "string"}}),
        Time => json!({"type": "string", "format": "date-time"}),
        NullableTime => json!({"type": ["string", "null"], "format": "date-time"}),
        OneOf(values) => json!({"enum": values}),
        ListOf(values) => json!({"type": "array", "items": {"enum": values}}),
    }
}

fn identifier(kind: &str) -> Value {
    json!({
        "type": "object",
        "required": ["type", "id"],
        "properties": {"type": {"const": kind}, "id": {"type": "string"}},
        "additionalProperties": false
    })
}

fn link_schema(kind: &str, link: Link) -> Value {
    let data = match link {
        One => identifier(kind),
        OptionalOne => json!({"oneOf": [{"type": "null"}, identifier(kind)]}),
        Many => json!({"type": "array", "items": identifier(kind)}),
    };
    json!({
        "type": "object",
        "required": ["data"],
        "properties": {"data": data},
        "additionalProperties": false
    })
}

fn object_of(members: impl Iterator<Item = (&'static str, Value)>) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, schema) in members {
        required.push(Value::String(name.to_owned()));
        properties.insert(name.to_owned(), schema);
    }
    json!({
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": false
    })
}

impl EventType {
    /// The JSON type of the resource the event is about (`user`).
    #[must_use]
    pub fn resource_type(&self) -> &'static str {
        self.shape.kind
    }

    /// The JSON Schema (draft 2020-12) of the event's `data`.
    #[must_use]
    pub fn schema(&self) -> Value {
        let shape = self.shape;
        let mut members = vec![
            ("type", json!({"const": shape.kind})),
            (
                "id",
                json!({"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$"}),
            ),
            (
                "attributes",
                object_of(
                    shape
                        .attributes
                        .iter()
                        .map(|(name, field)| (*name, field_schema(*field))),
                ),
            ),
        ];
        if !shape.relationships.is_empty() {
            members.push((
                "relationships",
                object_of(
                    shape
                        .relationships
                        .iter()
                        .map(|(name, kind, link)| (*name, link_schema(kind, *link))),
                ),
            ));
        }
        let mut schema = object_of(members.into_iter());
        if let Some(map) = schema.as_object_mut() {
            map.insert(
                "$schema".to_owned(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            map.insert("title".to_owned(), json!(format!("data of {}", self.name)));
        }
        schema
    }
}
