//! The OpenAPI 3.1 description of the server, built from the route table
//! (`routes.rs`): the table pairs each route it registers with one [`Doc`],
//! so a route cannot be served without being described, nor described
//! without being served. The description is a plain JSON value: handlers
//! read their documents by hand (`jsonapi.rs`), so there are no request
//! types to derive schemas from; the schemas below say what those readers
//! accept and what `representation` renders.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::jsonapi::JSONAPI;
use crate::query::MAX_PAGE_SIZE;

/// The name of the security scheme in the description.
const SCHEME: &str = "oauth2";

/// What the description says about one operation: an OpenAPI Operation
/// Object, without its path parameters (derived from the path template).
#[derive(Debug, Clone)]
pub struct Doc(Value);

/// One served operation: method (upper case), path template, description.
#[derive(Debug, Clone)]
pub struct Described {
    /// `GET`, `POST`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// The path template as actix registers it (`/api/users/{id}`).
    pub path: &'static str,
    /// The operation.
    pub doc: Doc,
}

/// The attributes each resource type shows, as `(name, type)`: `s` string,
/// `t` RFC 3339 date-time, `b` boolean, `i` integer, `o` object, `[s]` list
/// of strings, `*` any JSON value; a trailing `?` allows `null`; a leading
/// `~` marks a member only some responses carry (a secret shown once).
/// Each mirrors a function of `portcullis_application::representation`;
/// the conformance run (schemathesis) fails on any difference.
const ATTRIBUTES: &[(&str, &[(&str, &str)])] = &[
    (
        "user",
        &[
            ("email", "s"),
            ("first_name", "s?"),
            ("last_name", "s?"),
            ("email_verified", "b"),
            ("blocked", "b"),
            ("metadata", "o"),
            ("created_at", "t"),
            ("updated_at", "t"),
        ],
    ),
    (
        "permission",
        &[
            ("name", "s"),
            ("description", "s"),
            ("created_at", "t"),
            ("updated_at", "t"),
        ],
    ),
    (
        "role",
        &[
            ("name", "s"),
            ("description", "s"),
            ("user_count", "i"),
            ("permission_count", "i"),
            ("created_at", "t"),
            ("updated_at", "t"),
        ],
    ),
    ("role_permission", &[("created_at", "t")]),
    ("user_role", &[("created_at", "t")]),
    (
        "signing_key",
        &[
            ("kid", "s"),
            ("algorithm", "s"),
            ("status", "s"),
            ("primary", "b"),
            ("public_jwk", "o"),
            ("created_at", "t"),
            ("deactivated_at", "t?"),
        ],
    ),
    (
        "client",
        &[
            ("name", "s"),
            ("client_id", "s"),
            ("client_type", "s"),
            ("redirect_uris", "[s]"),
            ("grant_types", "[s]"),
            ("token_format", "s"),
            ("first_party", "b"),
            ("created_at", "t"),
            ("updated_at", "t"),
            ("~client_secret", "s"),
        ],
    ),
    (
        "resource_server",
        &[
            ("name", "s"),
            ("identifier", "s"),
            ("token_lifetime", "i"),
            ("system", "b"),
            ("created_at", "t"),
            ("updated_at", "t"),
        ],
    ),
    (
        "scope",
        &[("name", "s"), ("description", "s"), ("created_at", "t")],
    ),
    (
        "client_grant",
        &[("allowed_scopes", "[s]"), ("created_at", "t")],
    ),
    (
        "connection",
        &[
            ("strategy", "s"),
            ("display_name", "s"),
            ("client_id", "s"),
            ("client_secret_set", "b"),
            ("scopes", "s"),
            ("discovery_url", "s?"),
            ("enforce_sso", "b"),
            ("created_at", "t"),
            ("updated_at", "t"),
        ],
    ),
    (
        "session",
        &[
            ("ip_address", "s?"),
            ("user_agent", "s?"),
            ("last_active_at", "t"),
            ("expires_at", "t"),
            ("revoked_at", "t?"),
            ("status", "s"),
            ("created_at", "t"),
        ],
    ),
    (
        "organization",
        &[
            ("name", "s"),
            ("metadata", "o"),
            ("member_count", "i"),
            ("created_at", "t"),
            ("updated_at", "t"),
        ],
    ),
    ("membership", &[("created_at", "t"), ("updated_at", "t")]),
    (
        "invitation",
        &[
            ("email", "s"),
            ("role_ids", "[s]"),
            ("status", "s"),
            ("expires_at", "t"),
            ("created_at", "t"),
            ("updated_at", "t"),
            ("~token", "s"),
        ],
    ),
    (
        "event",
        &[
            ("event_type", "s"),
            ("actor", "s"),
            ("resource_type", "s"),
            ("resource_id", "s"),
            ("data", "*"),
            ("occurred_at", "t"),
        ],
    ),
    (
        "event_type",
        &[
            ("description", "s"),
            ("resource_type", "s"),
            ("schema", "o"),
        ],
    ),
    (
        "action",
        &[
            ("name", "s"),
            ("trigger", "s"),
            ("code", "s"),
            ("enabled", "b"),
            ("created_at", "t"),
            ("updated_at", "t"),
        ],
    ),
    (
        "action_execution",
        &[
            ("outcome", "s"),
            ("duration_ms", "i"),
            ("error", "s?"),
            ("executed_at", "t"),
        ],
    ),
    (
        "webhook",
        &[
            ("name", "s"),
            ("url", "s"),
            ("events", "[s]"),
            ("active", "b"),
            ("created_at", "t"),
            ("updated_at", "t"),
            ("~signing_secret", "s"),
        ],
    ),
    (
        "webhook_delivery",
        &[
            ("event_id", "s"),
            ("attempt", "i"),
            ("status_code", "i?"),
            ("duration_ms", "i"),
            ("error", "s?"),
            ("outcome", "s"),
            ("attempted_at", "t"),
        ],
    ),
];

/// A relationship: `(name, target type, kind)`.
type Relationship = (&'static str, &'static str, &'static str);

/// The relationships each resource type shows: `(name, target type, kind)`
/// with kind `1` to-one, `1?` to-one or `null`, `n` to-many.
const RELATIONSHIPS: &[(&str, &[Relationship])] = &[
    (
        "role_permission",
        &[("role", "role", "1"), ("permission", "permission", "1")],
    ),
    ("user_role", &[("user", "user", "1"), ("role", "role", "1")]),
    ("scope", &[("resource_server", "resource_server", "1")]),
    (
        "client_grant",
        &[
            ("client", "client", "1"),
            ("resource_server", "resource_server", "1"),
        ],
    ),
    ("session", &[("user", "user", "1")]),
    (
        "membership",
        &[
            ("user", "user", "1"),
            ("organization", "organization", "1"),
            ("roles", "role", "n"),
        ],
    ),
    (
        "invitation",
        &[
            ("organization", "organization", "1"),
            ("user", "user", "1?"),
        ],
    ),
    ("action_execution", &[("action", "action", "1")]),
    ("webhook_delivery", &[("webhook", "webhook", "1")]),
];

/// What a request document may carry for each resource type:
/// `(attributes, relationships)`. Attributes as in [`ATTRIBUTES`] plus `e`
/// e-mail, `u` URL and `one|two` a closed list (an array of one with `[..]`);
/// a leading `!` marks what a creation requires. Relationships are
/// `(name, target type, kind)` as in [`RELATIONSHIPS`], `!` again for
/// required. Each mirrors what the handler's `WRITABLE` list and readers
/// accept; anything else is refused with `400`/`422`.
type RequestSpec = (
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str, &'static str)],
);
const REQUESTS: &[(&str, RequestSpec)] = &[
    (
        "user",
        (
            &[
                ("!email", "e"),
                ("first_name", "s?"),
                ("last_name", "s?"),
                ("password", "s"),
                ("password_confirmation", "s"),
                ("email_verified", "b"),
                ("blocked", "b"),
                ("metadata", "o"),
            ],
            &[],
        ),
    ),
    (
        "permission",
        (&[("!name", "s"), ("description", "s?")], &[]),
    ),
    ("role", (&[("!name", "s"), ("description", "s?")], &[])),
    (
        "role_permission",
        (
            &[],
            &[("!role", "role", "1"), ("!permission", "permission", "1")],
        ),
    ),
    (
        "user_role",
        (&[], &[("!user", "user", "1"), ("!role", "role", "1")]),
    ),
    ("signing_key", (&[], &[])),
    (
        "client",
        (
            &[
                ("!name", "s"),
                ("!client_type", "confidential|public"),
                (
                    "grant_types",
                    "[authorization_code|client_credentials|refresh_token]",
                ),
                ("redirect_uris", "[s]"),
                ("token_format", "jwt|opaque"),
                ("first_party", "b"),
            ],
            &[],
        ),
    ),
    (
        "resource_server",
        (
            &[
                ("!name", "s"),
                ("!identifier", "u"),
                ("token_lifetime", "i"),
            ],
            &[],
        ),
    ),
    (
        "scope",
        (
            &[("!name", "s"), ("description", "s?")],
            &[("!resource_server", "resource_server", "1")],
        ),
    ),
    (
        "client_grant",
        (
            &[("allowed_scopes", "[s]")],
            &[
                ("!client", "client", "1"),
                ("!resource_server", "resource_server", "1"),
            ],
        ),
    ),
    (
        "connection",
        (
            &[
                ("!strategy", "s"),
                ("!display_name", "s"),
                ("!client_id", "s"),
                ("!client_secret", "s"),
                ("scopes", "s"),
                ("discovery_url", "u?"),
                ("enforce_sso", "b"),
            ],
            &[],
        ),
    ),
    (
        "session",
        (
            &[
                ("ip_address", "s"),
                ("user_agent", "s"),
                ("expires_at", "t"),
            ],
            &[("!user", "user", "1")],
        ),
    ),
    ("organization", (&[("!name", "s"), ("metadata", "o")], &[])),
    (
        "membership",
        (
            &[],
            &[
                ("!user", "user", "1"),
                ("!organization", "organization", "1"),
                ("roles", "role", "n"),
            ],
        ),
    ),
    (
        "invitation",
        (
            &[("!email", "e"), ("role_ids", "[s]"), ("expires_at", "t")],
            &[("!organization", "organization", "1")],
        ),
    ),
    (
        "action",
        (
            &[
                ("!name", "s"),
                ("!trigger", "pre_token|post_login"),
                ("!code", "s"),
                ("enabled", "b"),
            ],
            &[],
        ),
    ),
    (
        "webhook",
        (
            &[
                ("!name", "s"),
                ("!url", "u"),
                ("!events", "[s]"),
                ("active", "b"),
            ],
            &[],
        ),
    ),
];

fn request_value_schema(spec: &str) -> Value {
    let (base, nullable) = match spec.strip_suffix('?') {
        Some(base) => (base, true),
        None => (spec, false),
    };
    let schema = match base {
        // Names and other text: no control characters (refused with `422`).
        "s" => {
            json!({ "type": "string", "minLength": 1, "pattern": "^[^\\u0000-\\u001f\\u007f]+$" })
        }
        "e" => json!({ "type": "string", "format": "email" }),
        "u" => json!({ "type": "string", "format": "uri" }),
        list if list.contains('|') => {
            match list.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                Some(items) => {
                    json!({ "type": "array", "items": { "enum": items.split('|').collect::<Vec<_>>() } })
                }
                None => json!({ "enum": list.split('|').collect::<Vec<_>>() }),
            }
        }
        _ => return value_schema(spec),
    };
    if nullable {
        json!({ "oneOf": [{ "type": "null" }, schema] })
    } else {
        schema
    }
}

fn value_schema(spec: &str) -> Value {
    let (base, nullable) = match spec.strip_suffix('?') {
        Some(base) => (base, true),
        None => (spec, false),
    };
    let schema = match base {
        "s" => json!({ "type": "string" }),
        "t" => json!({ "type": "string", "format": "date-time" }),
        "b" => json!({ "type": "boolean" }),
        "i" => json!({ "type": "integer" }),
        "o" => json!({ "type": "object" }),
        "[s]" => json!({ "type": "array", "items": { "type": "string" } }),
        _ => json!({}),
    };
    match (nullable, schema.get("type").cloned()) {
        (true, Some(kind)) => {
            let mut schema = schema;
            schema["type"] = json!([kind, "null"]);
            schema
        }
        _ => schema,
    }
}

fn identifier(kind: &str) -> Value {
    json!({
        "type": "object",
        "required": ["type", "id"],
        "properties": { "type": { "const": kind }, "id": { "type": "string", "minLength": 1 } },
        "additionalProperties": false,
    })
}

/// The schema of a `kind` resource object as responses show it.
fn resource_component(kind: &str) -> Value {
    let attributes = ATTRIBUTES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[][..], |(_, a)| *a);
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, spec) in attributes {
        let name = match name.strip_prefix('~') {
            Some(optional) => optional,
            None => {
                required.push(json!(name));
                name
            }
        };
        properties.insert((*name).to_owned(), value_schema(spec));
    }
    let mut resource = json!({
        "type": "object",
        "required": ["type", "id", "attributes"],
        "properties": {
            "type": { "const": kind },
            "id": { "type": "string", "minLength": 1 },
            "attributes": {
                "type": "object",
                "required": required,
                "properties": properties,
                "additionalProperties": false,
            },
            "links": reference("SelfLinks"),
        },
        "additionalProperties": false,
    });
    if let Some((_, relationships)) = RELATIONSHIPS.iter().find(|(k, _)| *k == kind) {
        let mut properties = Map::new();
        for (name, target, arity) in *relationships {
            let data = match *arity {
                "n" => json!({ "type": "array", "items": identifier(target) }),
                "1?" => json!({ "oneOf": [{ "type": "null" }, identifier(target)] }),
                _ => identifier(target),
            };
            properties.insert(
                (*name).to_owned(),
                json!({
                    "type": "object",
                    "required": ["data"],
                    "properties": { "data": data },
                    "additionalProperties": false,
                }),
            );
        }
        let names: Vec<&str> = relationships.iter().map(|(n, _, _)| *n).collect();
        resource["required"] = json!(["type", "id", "attributes", "relationships"]);
        resource["properties"]["relationships"] = json!({
            "type": "object",
            "required": names,
            "properties": properties,
            "additionalProperties": false,
        });
    }
    resource
}

/// The component name of a resource type's schema (`user` is `UserResource`).
fn component_name(kind: &str) -> String {
    let camel: String = kind
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    format!("{camel}Resource")
}

fn content(media: &str, schema: Value) -> Value {
    json!({ media: { "schema": schema } })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn error_ref(status: u16) -> Value {
    json!({ "$ref": format!("#/components/responses/Error{status}") })
}

/// The statuses every Management API operation may answer with an error:
/// no or a bad token, a missing scope, an unknown environment (host) or
/// route, an unavailable store.
const COMMON_ERRORS: [u16; 4] = [401, 403, 404, 503];
/// And those of operations with a request body.
const BODY_ERRORS: [u16; 5] = [400, 409, 413, 415, 422];

fn operation(
    summary: &str,
    tag: &str,
    scope: Option<&str>,
    ok: &[(u16, Value)],
    errors: &[u16],
) -> Map<String, Value> {
    let mut responses = Map::new();
    for (status, response) in ok {
        responses.insert(status.to_string(), response.clone());
    }
    for status in errors {
        responses.insert(status.to_string(), error_ref(*status));
    }
    let mut op = Map::new();
    op.insert("summary".into(), json!(summary));
    op.insert("tags".into(), json!([tag]));
    op.insert(
        "security".into(),
        match scope {
            Some(scope) => json!([{ SCHEME: [scope] }]),
            None => json!([]),
        },
    );
    op.insert("responses".into(), Value::Object(responses));
    op
}

fn resource_doc(kind: &str, description: &str) -> Value {
    json!({
        "description": description,
        "content": content(JSONAPI, json!({
            "type": "object",
            "required": ["data", "links"],
            "properties": {
                "data": resource_schema(kind),
                "links": reference("SelfLinks"),
            },
            "additionalProperties": false,
        })),
    })
}

fn resource_schema(kind: &str) -> Value {
    json!({
        "allOf": [reference(&component_name(kind))],
        "required": ["links"],
    })
}

fn tag_of(kind: &str) -> String {
    kind.to_owned()
}

fn scoped(scope: &str) -> String {
    format!(" Requires the `{scope}` scope.")
}

fn query_params(filters: &[&str], sorts: &[&str]) -> Vec<Value> {
    let mut keys: Vec<Value> = sorts.iter().map(|s| json!(s)).collect();
    keys.extend(sorts.iter().map(|s| json!(format!("-{s}"))));
    let mut params = vec![
        json!({
            "name": "sort", "in": "query", "required": false,
            "description": "The sort key; a leading `-` sorts descending.",
            "schema": { "type": "string", "enum": keys },
        }),
        json!({
            "name": "page[size]", "in": "query", "required": false,
            "description": "Resources per page.",
            "schema": { "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE },
        }),
        json!({
            "name": "page[after]", "in": "query", "required": false,
            "description": "The opaque cursor of a `links.next`.",
            "schema": { "type": "string" },
        }),
    ];
    params.extend(filters.iter().map(|f| {
        json!({
            "name": format!("filter[{f}]"), "in": "query", "required": false,
            "schema": { "type": "string" },
        })
    }));
    params
}

/// A collection listing (`GET`), paged by cursor.
#[must_use]
pub fn list(kind: &str, scope: &str, filters: &[&str], sorts: &[&str]) -> Doc {
    let ok = json!({
        "description": format!("A page of `{kind}` resources; `links.next` while there are more."),
        "content": content(JSONAPI, json!({
            "type": "object",
            "required": ["data", "links"],
            "properties": {
                "data": { "type": "array", "items": resource_schema(kind) },
                "links": reference("PageLinks"),
            },
            "additionalProperties": false,
        })),
    });
    let mut errors = vec![400];
    errors.extend(COMMON_ERRORS);
    let mut op = operation(
        &format!("List {kind} resources.{}", scoped(scope)),
        &tag_of(kind),
        Some(scope),
        &[(200, ok)],
        &errors,
    );
    op.insert(
        "parameters".into(),
        Value::Array(query_params(filters, sorts)),
    );
    Doc(Value::Object(op))
}

/// One resource (`GET`).
#[must_use]
pub fn get(kind: &str, scope: &str) -> Doc {
    Doc(Value::Object(operation(
        &format!("Get one {kind}.{}", scoped(scope)),
        &tag_of(kind),
        Some(scope),
        &[(200, resource_doc(kind, "The resource."))],
        &COMMON_ERRORS,
    )))
}

fn request_document(kind: &str, with_id: bool) -> Value {
    let (attributes, relationships) = REQUESTS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or((&[][..], &[][..]), |(_, (a, r))| (*a, *r));
    let creating = !with_id;
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, spec) in attributes {
        let name = match name.strip_prefix('!') {
            Some(name) => {
                if creating {
                    required.push(json!(name));
                }
                name
            }
            None => name,
        };
        properties.insert(name.to_owned(), request_value_schema(spec));
    }
    let mut data_required = vec![json!("type")];
    if with_id {
        data_required.push(json!("id"));
    }
    if !required.is_empty() {
        data_required.push(json!("attributes"));
    }
    let mut data = json!({
        "type": "object",
        "properties": {
            "type": { "const": kind },
            "attributes": {
                "type": "object",
                "required": required,
                "properties": properties,
                "additionalProperties": false,
            },
        },
        "additionalProperties": false,
    });
    if !relationships.is_empty() {
        let mut rel_properties = Map::new();
        let mut rel_required = Vec::new();
        for (name, target, arity) in relationships {
            let name = match name.strip_prefix('!') {
                Some(name) => {
                    if creating {
                        rel_required.push(json!(name));
                    }
                    name
                }
                None => name,
            };
            let linkage = if *arity == "n" {
                json!({ "type": "array", "items": identifier(target) })
            } else {
                identifier(target)
            };
            rel_properties.insert(
                name.to_owned(),
                json!({
                    "type": "object",
                    "required": ["data"],
                    "properties": { "data": linkage },
                    "additionalProperties": false,
                }),
            );
        }
        if !rel_required.is_empty() {
            data_required.push(json!("relationships"));
        }
        data["properties"]["relationships"] = json!({
            "type": "object",
            "required": rel_required,
            "properties": rel_properties,
            "additionalProperties": false,
        });
    }
    if with_id {
        // A creation names no id: the server generates it (`403` otherwise).
        data["properties"]["id"] = json!({ "type": "string" });
    }
    data["required"] = Value::Array(data_required);
    json!({
        "required": true,
        "content": {
            JSONAPI: { "schema": {
                "type": "object",
                "required": ["data"],
                "properties": { "data": data },
                "additionalProperties": false,
            }},
        },
    })
}

fn write_errors() -> Vec<u16> {
    let mut errors = BODY_ERRORS.to_vec();
    errors.extend(COMMON_ERRORS);
    errors.sort_unstable();
    errors
}

/// A creation (`POST`): `201` with `Location`.
#[must_use]
pub fn create(kind: &str, scope: &str) -> Doc {
    let mut created = resource_doc(kind, "Created.");
    created["headers"] = json!({ "Location": {
        "description": "The new resource's URL.",
        "schema": { "type": "string", "format": "uri" },
    }});
    let mut op = operation(
        &format!("Create a {kind}.{}", scoped(scope)),
        &tag_of(kind),
        Some(scope),
        &[(201, created)],
        &write_errors(),
    );
    op.insert("requestBody".into(), request_document(kind, false));
    Doc(Value::Object(op))
}

/// A change (`PATCH`) with a resource document naming the id.
#[must_use]
pub fn update(kind: &str, scope: &str) -> Doc {
    let mut op = operation(
        &format!("Change a {kind}: only the members sent.{}", scoped(scope)),
        &tag_of(kind),
        Some(scope),
        &[(200, resource_doc(kind, "The changed resource."))],
        &write_errors(),
    );
    op.insert("requestBody".into(), request_document(kind, true));
    Doc(Value::Object(op))
}

/// An action (`PATCH` on a sub-path) that needs no body.
#[must_use]
pub fn action(kind: &str, scope: &str, summary: &str) -> Doc {
    let mut errors = vec![409];
    errors.extend(COMMON_ERRORS);
    Doc(Value::Object(operation(
        &format!("{summary}{}", scoped(scope)),
        &tag_of(kind),
        Some(scope),
        &[(200, resource_doc(kind, "The resource after the action."))],
        &errors,
    )))
}

/// A deletion (`DELETE`).
#[must_use]
pub fn delete(kind: &str, scope: &str) -> Doc {
    let mut errors = vec![409];
    errors.extend(COMMON_ERRORS);
    Doc(Value::Object(operation(
        &format!("Delete a {kind}.{}", scoped(scope)),
        &tag_of(kind),
        Some(scope),
        &[(204, json!({ "description": "Deleted." }))],
        &errors,
    )))
}

/// A plain-JSON response with `schema`.
#[must_use]
fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": content("application/json", schema) })
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let name = name.split(':').next().unwrap_or(name);
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
        })
        .collect()
}

/// The OpenAPI path of an actix path template (`{tail:.*}` is `{tail}`).
#[must_use]
pub fn openapi_path(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(inner) => format!("{{{}}}", inner.split([':', '}']).next().unwrap_or(inner)),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The headers of a rate-limited answer (draft-ietf-httpapi-ratelimit-headers).
fn rate_limit_headers() -> Value {
    let text =
        |description: &str| json!({ "description": description, "schema": { "type": "string" } });
    json!({
        "Retry-After": text("Seconds until a request may succeed."),
        "RateLimit-Policy": text("The policies applied, e.g. `\"api-client\";q=1000;w=10`."),
        "RateLimit": text("What is left of each, e.g. `\"api-client\";r=0;t=1`."),
    })
}

fn error_response_component(status: u16, description: &str) -> Value {
    let mut response = json!({
        "description": description,
        "content": content(JSONAPI, reference("ErrorDocument")),
    });
    match status {
        401 | 403 => {
            response["headers"] = json!({ "WWW-Authenticate": {
                "description": "The Bearer challenge (RFC 6750).",
                "schema": { "type": "string" },
            }});
        }
        405 => {
            response["headers"] = json!({ "Allow": {
                "description": "The methods the path serves.",
                "schema": { "type": "string" },
            }});
        }
        503 => {
            response["headers"] = json!({ "Retry-After": {
                "description": "Seconds to wait.",
                "schema": { "type": "string" },
            }});
        }
        429 => response["headers"] = rate_limit_headers(),
        _ => {}
    }
    response
}

fn components() -> Value {
    let scopes: Map<String, Value> = portcullis_domain::oauth::management_api_scopes()
        .into_iter()
        .map(|s| (s.to_string(), json!(format!("Management API scope `{s}`"))))
        .collect();
    let mut responses = Map::new();
    for (status, description) in [
        (400, "Bad request: a malformed query or document."),
        (401, "No valid bearer token."),
        (403, "The token lacks the scope the operation needs."),
        (404, "No such resource, environment or route."),
        (405, "The path does not serve this method."),
        (
            409,
            "Conflicts with the current state (e.g. a duplicate name).",
        ),
        (410, "No longer available."),
        (413, "The request body is too large."),
        (415, "The request body is neither JSON:API nor JSON."),
        (
            414,
            "The request target is longer than `server.max_uri_bytes`.",
        ),
        (422, "A member of the request document is invalid."),
        (429, "Over a rate limit; retry after `Retry-After` seconds."),
        (
            431,
            "The header fields are larger than `server.max_header_bytes`.",
        ),
        (503, "The store is unavailable; retry later."),
    ] {
        responses.insert(
            format!("Error{status}"),
            error_response_component(status, description),
        );
    }
    let mut components = json!({
        "securitySchemes": {
          "client_basic": {
            "type": "http",
            "scheme": "basic",
            "description": "OAuth client authentication: client id and secret (RFC 6749 §2.3.1).",
          },
          SCHEME: {
            "type": "oauth2",
            "description": "A bearer access token from `POST /oauth/token` (client credentials) whose audience is this environment's Management API. Each operation names the scope it needs.",
            "flows": { "clientCredentials": { "tokenUrl": "/oauth/token", "scopes": scopes } },
          },
        },
        "responses": responses,
        "schemas": {
            "Link": { "type": "string", "format": "uri" },
            "SelfLinks": {
                "type": "object",
                "required": ["self"],
                "properties": { "self": reference("Link") },
                "additionalProperties": false,
            },
            "PageLinks": {
                "type": "object",
                "required": ["self"],
                "properties": { "self": reference("Link"), "next": reference("Link") },
                "additionalProperties": false,
            },
            "ErrorDocument": {
                "type": "object",
                "description": "A JSON:API error document.",
                "required": ["errors"],
                "properties": { "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["status", "code", "title", "detail"],
                        "properties": {
                            "status": { "type": "string", "pattern": "^[45][0-9]{2}$" },
                            "code": { "type": "string" },
                            "title": { "type": "string" },
                            "detail": { "type": "string" },
                            "source": {
                                "type": "object",
                                "minProperties": 1,
                                "maxProperties": 1,
                                "properties": {
                                    "pointer": { "type": "string" },
                                    "parameter": { "type": "string" },
                                    "header": { "type": "string" },
                                },
                                "additionalProperties": false,
                            },
                        },
                        "additionalProperties": false,
                    },
                }},
                "additionalProperties": false,
            },
            "OAuthError": {
                "type": "object",
                "description": "An OAuth 2.0 error (RFC 6749 §5.2).",
                "required": ["error"],
                "properties": {
                    "error": { "type": "string" },
                    "error_description": { "type": "string" },
                },
            },
        },
    });
    for (kind, _) in ATTRIBUTES {
        components["schemas"][component_name(kind)] = resource_component(kind);
    }
    components
}

/// The whole description of `operations`, for the server at version `version`.
#[must_use]
pub fn document(operations: &[Described], version: &str) -> Value {
    let mut paths = Map::new();
    for op in operations {
        let item = paths.entry(openapi_path(op.path)).or_insert_with(|| {
            let params = path_parameters(op.path);
            if params.is_empty() {
                json!({})
            } else {
                json!({ "parameters": params })
            }
        });
        let mut operation = op.doc.0.clone();
        operation["operationId"] = json!(operation_id(op.method, op.path));
        add_limit_responses(op.path, &mut operation);
        item[op.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Portcullis",
            "version": version,
            "description": "The Management API (JSON:API 1.1) and the OAuth endpoints of one environment, selected by host name. See /api/docs for a browsable view.",
        },
        "paths": paths,
        "components": components(),
    })
}

/// The answers of the limits that apply before any handler: the request
/// head limits everywhere, the rate limits on the Management API and the
/// token endpoint.
fn add_limit_responses(path: &str, operation: &mut Value) {
    let management = operation["security"]
        .as_array()
        .is_some_and(|s| s.iter().any(|r| r.get(SCHEME).is_some()));
    let responses = &mut operation["responses"];
    responses["414"] = error_ref(414);
    responses["431"] = error_ref(431);
    if management || path.starts_with("/invitations/") {
        responses["429"] = error_ref(429);
    } else if path == "/oauth/token" {
        responses["429"] = json!({
            "description": "Over the rate limit of the client or of the address (`rate_limited`); retry after `Retry-After` seconds.",
            "headers": rate_limit_headers(),
            "content": content("application/json", reference("OAuthError")),
        });
    }
}

/// A stable operation id: the method and the path's words, e.g.
/// `get_api_users_id`.
#[must_use]
pub fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    format!("{}_{}", method.to_ascii_lowercase(), words.join("_"))
}

/// The description of the served routes, rendered once.
pub(crate) fn cached() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut operations = crate::routes::operations();
        operations.push(Described {
            method: "GET",
            path: "/metrics",
            doc: metrics(),
        });
        document(&operations, env!("CARGO_PKG_VERSION")).to_string()
    })
}

// The operations that are not Management API collections.

/// `GET /metrics`, served by the binary (not the route table) when
/// `metrics.enabled` (the default); `404` otherwise.
#[must_use]
pub fn metrics() -> Doc {
    public(
        "Prometheus metrics in the text exposition format (no token).",
        "operations",
        json!({
            "200": {
                "description": "The metrics.",
                "content": content("text/plain", json!({ "type": "string" })),
            },
            "404": error_ref(404),
        }),
    )
}

fn public(summary: &str, tag: &str, responses: Value) -> Doc {
    Doc(json!({ "summary": summary, "tags": [tag], "security": [], "responses": responses }))
}

/// An error status that may come as an OAuth error (`application/json`)
/// or, before the OAuth handler runs (host, body size), as a JSON:API one.
fn oauth_or_jsonapi(description: &str) -> Value {
    json!({
        "description": description,
        "content": {
            "application/json": { "schema": reference("OAuthError") },
            JSONAPI: { "schema": reference("ErrorDocument") },
        },
    })
}

fn form_body(properties: Value, required: &[&str]) -> Value {
    json!({
        "required": true,
        "content": { "application/x-www-form-urlencoded": { "schema": {
            "type": "object",
            "required": required,
            "properties": properties,
        }}},
    })
}

fn client_auth_members() -> Value {
    json!({
        "client_id": { "type": "string", "description": "With `client_secret`, instead of HTTP Basic." },
        "client_secret": { "type": "string" },
    })
}

fn oauth_op(summary: &str, ok: Value, body: Value) -> Doc {
    Doc(json!({
        "summary": summary,
        "tags": ["oauth"],
        "security": [{ "client_basic": [] }, {}],
        "requestBody": body,
        "responses": {
            "200": ok,
            "400": oauth_or_jsonapi("An invalid request (RFC 6749 §5.2 error codes), or an unreadable body."),
            "401": json!({
                "description": "Client authentication failed (`invalid_client`).",
                "headers": { "WWW-Authenticate": { "description": "The Basic challenge.", "schema": { "type": "string" } } },
                "content": content("application/json", reference("OAuthError")),
            }),
            "404": error_ref(404),
            "413": error_ref(413),
            "503": oauth_or_jsonapi("The store is unavailable (`temporarily_unavailable`); retry later."),
        },
    }))
}

/// `POST /oauth/token` (RFC 6749 §4.4, client credentials).
#[must_use]
pub fn oauth_token() -> Doc {
    let mut members = client_auth_members();
    members["grant_type"] = json!({ "type": "string", "enum": ["client_credentials"] });
    members["scope"] = json!({ "type": "string", "description": "Space-separated scopes; all granted ones when absent." });
    members["audience"] = json!({ "type": "string", "description": "The resource server's identifier; the Management API when absent." });
    oauth_op(
        "Issue an access token (client credentials).",
        json_response(
            "The token (RFC 6749 §5.1).",
            json!({
                "type": "object",
                "required": ["access_token", "token_type", "expires_in"],
                "properties": {
                    "access_token": { "type": "string" },
                    "token_type": { "const": "Bearer" },
                    "expires_in": { "type": "integer", "minimum": 0 },
                    "scope": { "type": "string" },
                },
            }),
        ),
        form_body(members, &["grant_type"]),
    )
}

/// `POST /oauth/introspect` (RFC 7662).
#[must_use]
pub fn oauth_introspect() -> Doc {
    let mut members = client_auth_members();
    members["token"] = json!({ "type": "string" });
    members["token_type_hint"] = json!({ "type": "string" });
    oauth_op(
        "Introspect a token (RFC 7662), as a confidential client of the environment.",
        json_response(
            "The token's state; `active: false` for any token that is not active.",
            json!({
                "type": "object",
                "required": ["active"],
                "properties": { "active": { "type": "boolean" } },
            }),
        ),
        form_body(members, &["token"]),
    )
}

/// `POST /oauth/revoke` (RFC 7009).
#[must_use]
pub fn oauth_revoke() -> Doc {
    let mut members = client_auth_members();
    members["token"] = json!({ "type": "string" });
    members["token_type_hint"] = json!({ "type": "string" });
    oauth_op(
        "Revoke one of the client's opaque tokens (RFC 7009).",
        json!({ "description": "Revoked, or the token was unknown (RFC 7009 §2.2)." }),
        form_body(members, &["token"]),
    )
}

/// `GET /.well-known/jwks.json`.
#[must_use]
pub fn jwks() -> Doc {
    public(
        "The environment's public signing keys (RFC 7517 JWK Set).",
        "oauth",
        json!({
            "200": json_response("The JWK Set.", json!({
                "type": "object",
                "required": ["keys"],
                "properties": { "keys": { "type": "array", "items": {
                    "type": "object",
                    "required": ["kty", "kid"],
                    "properties": { "kty": { "type": "string" }, "kid": { "type": "string" } },
                }}},
            })),
            "404": error_ref(404),
            "503": error_ref(503),
        }),
    )
}

/// `GET /.well-known/openid-configuration`.
#[must_use]
pub fn discovery() -> Doc {
    public(
        "Authorization server metadata (RFC 8414).",
        "oauth",
        json!({
            "200": json_response("The metadata.", json!({
                "type": "object",
                "required": ["issuer", "token_endpoint", "jwks_uri"],
                "properties": {
                    "issuer": { "type": "string" },
                    "token_endpoint": { "type": "string" },
                    "jwks_uri": { "type": "string" },
                },
            })),
            "404": error_ref(404),
        }),
    )
}

/// `GET /health/live` and `/health/ready`.
#[must_use]
pub fn probe(summary: &str, status: &str, can_fail: bool) -> Doc {
    let mut responses = json!({
        "200": json_response("Up.", json!({
            "type": "object",
            "required": ["status"],
            "properties": { "status": { "const": status } },
            "additionalProperties": false,
        })),
    });
    if can_fail {
        responses["503"] = error_ref(503);
    }
    public(summary, "health", responses)
}

/// `GET /api/openapi.json`.
#[must_use]
pub fn openapi_json() -> Doc {
    public(
        "This OpenAPI 3.1 description.",
        "documentation",
        json!({ "200": json_response("The description.", json!({
            "type": "object",
            "required": ["openapi", "info", "paths"],
        }))}),
    )
}

/// `GET /api/docs`.
#[must_use]
pub fn docs_index() -> Doc {
    public(
        "The browsable API reference (Swagger UI, served from the binary).",
        "documentation",
        json!({ "200": {
            "description": "The page.",
            "content": { "text/html": { "schema": { "type": "string" } } },
        }}),
    )
}

/// `GET /api/docs/{file}`.
#[must_use]
pub fn docs_asset() -> Doc {
    public(
        "A file of the API reference page (scripts, styles, images).",
        "documentation",
        json!({
            "200": {
                "description": "The file.",
                "content": { "*/*": { "schema": {} } },
            },
            "404": error_ref(404),
        }),
    )
}

/// `POST /api/signing-keys`: an empty body or an empty `signing_key` document.
#[must_use]
pub fn generate_key() -> Doc {
    let mut doc = create("signing_key", "signing_keys:write");
    doc.0["summary"] = json!(format!(
        "Generate a new signing key (the body may be empty).{}",
        scoped("signing_keys:write")
    ));
    doc.0["requestBody"]["required"] = json!(false);
    doc
}

/// `POST /invitations/{id}/accept` and `/decline`: no management token,
/// a plain JSON body with the invitation's token.
#[must_use]
pub fn answer(accept: bool) -> Doc {
    let mut members =
        json!({ "token": { "type": "string", "description": "The invitation's token." } });
    if accept {
        for name in [
            "first_name",
            "last_name",
            "password",
            "password_confirmation",
        ] {
            members[name] = json!({ "type": "string", "description": "Used only when accepting creates the user." });
        }
    }
    let mut ok = resource_doc("invitation", "The invitation as it now stands.");
    ok["content"][JSONAPI]["schema"]["required"] = json!(["data"]);
    ok["content"][JSONAPI]["schema"]["properties"]["meta"] = json!({ "type": "object" });
    let mut errors = vec![400, 404, 409, 410, 413, 415, 422, 503];
    errors.sort_unstable();
    let mut responses = Map::new();
    responses.insert("200".into(), ok);
    for status in errors {
        responses.insert(status.to_string(), error_ref(status));
    }
    Doc(json!({
        "summary": if accept {
            "Accept an invitation with its token (no management token)."
        } else {
            "Decline an invitation with its token (no management token)."
        },
        "tags": ["invitation"],
        "security": [],
        "requestBody": {
            "required": true,
            "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["token"],
                "properties": members,
                "additionalProperties": false,
            }}},
        },
        "responses": responses,
    }))
}
