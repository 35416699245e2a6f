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
        "allOf": [reference("Resource")],
        "properties": { "type": { "const": kind } },
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
    let mut required = vec!["type"];
    if with_id {
        required.push("id");
    }
    json!({
        "required": true,
        "content": {
            JSONAPI: { "schema": {
                "type": "object",
                "required": ["data"],
                "properties": { "data": {
                    "type": "object",
                    "required": required,
                    "properties": {
                        "type": { "const": kind },
                        "id": { "type": "string" },
                        "attributes": { "type": "object" },
                        "relationships": { "type": "object" },
                    },
                }},
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

/// Any other operation, given as an OpenAPI Operation Object.
#[must_use]
pub fn custom(operation: Value) -> Doc {
    Doc(operation)
}

/// An OAuth error response (RFC 6749 §5.2 shape).
#[must_use]
pub fn oauth_error(description: &str) -> Value {
    json!({
        "description": description,
        "content": content("application/json", reference("OAuthError")),
    })
}

/// A plain-JSON response with `schema`.
#[must_use]
pub fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": content("application/json", schema) })
}

/// A reference to error response `status` (a JSON:API error document).
#[must_use]
pub fn error_response(status: u16) -> Value {
    error_ref(status)
}

/// A reference to a component schema.
#[must_use]
pub fn schema(name: &str) -> Value {
    reference(name)
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
        (422, "A member of the request document is invalid."),
        (503, "The store is unavailable; retry later."),
    ] {
        responses.insert(
            format!("Error{status}"),
            error_response_component(status, description),
        );
    }
    json!({
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
            "Resource": {
                "type": "object",
                "description": "A JSON:API resource object.",
                "required": ["type", "id", "attributes"],
                "properties": {
                    "type": { "type": "string" },
                    "id": { "type": "string", "minLength": 1 },
                    "attributes": { "type": "object" },
                    "relationships": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "required": ["data"],
                            "properties": { "data": {
                                "oneOf": [
                                    { "type": "null" },
                                    reference("Identifier"),
                                    { "type": "array", "items": reference("Identifier") },
                                ],
                            }},
                        },
                    },
                    "links": reference("SelfLinks"),
                    "meta": { "type": "object" },
                },
                "additionalProperties": false,
            },
            "Identifier": {
                "type": "object",
                "required": ["type", "id"],
                "properties": { "type": { "type": "string" }, "id": { "type": "string" } },
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
    })
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
        document(&crate::routes::operations(), env!("CARGO_PKG_VERSION")).to_string()
    })
}

// The operations that are not Management API collections.

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
