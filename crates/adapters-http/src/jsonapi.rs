//! JSON:API documents: the media type, reading request documents strictly
//! (shape, type, id, known attributes, value types) and writing responses.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// The JSON:API media type.
pub const JSONAPI: &str = "application/vnd.api+json";

/// Checks the request's media type: JSON:API or plain JSON, else `415`.
///
/// # Errors
/// `415` for another or a missing media type.
pub fn require_json_media_type(request: &HttpRequest) -> Result<(), ApiError> {
    let raw = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = raw.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    // JSON:API 1.1: its media type takes only the `ext` and `profile` parameters.
    let jsonapi_params_ok = parts.all(|p| {
        let name = p
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        name == "ext" || name == "profile"
    });
    if (essence == JSONAPI && jsonapi_params_ok) || essence == "application/json" {
        return Ok(());
    }
    let shown = if raw.is_empty() {
        "none".to_owned()
    } else {
        format!("`{raw}`")
    };
    Err(ApiError::new(
        actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Unsupported media type",
        format!("request bodies must be {JSONAPI} (parameters ext and profile only) or application/json, not {shown}"),
    )
    .header_source("Content-Type"))
}

/// What a request document must name.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// A new resource: no id.
    Create,
    /// A change to the resource with this id.
    Update(&'a str),
}

/// The attributes of a request's resource object.
#[derive(Debug, Default)]
pub struct Attributes {
    members: Map<String, Value>,
    relationships: Map<String, Value>,
}

fn pointer(name: &str) -> String {
    format!("/data/attributes/{name}")
}

fn wrong_type(name: &str, expected: &str) -> ApiError {
    ApiError::invalid("invalid_type", format!("{name} must be {expected}")).at(pointer(name))
}

impl Attributes {
    /// Refuses members outside `known` (`400`).
    ///
    /// # Errors
    /// `400 unknown_attribute` pointing at the first unknown member.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.members.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(ApiError::bad_request(
                "unknown_attribute",
                format!("unknown attribute `{unknown}`"),
            )
            .at(pointer(unknown))),
            None => Ok(()),
        }
    }

    /// Refuses, in this order: a server-set member of `read_only` (`422
    /// read_only_attribute`), a member outside `writable` (`400
    /// unknown_attribute`), and `null` for a member of `not_null` (`422
    /// null_not_allowed`), each pointing at the member.
    ///
    /// # Errors
    /// The first of those found.
    pub fn writable(
        &self,
        read_only: &[&str],
        writable: &[&str],
        not_null: &[&str],
    ) -> Result<(), ApiError> {
        if let Some(member) = read_only.iter().find(|m| self.has(m)) {
            return Err(ApiError::invalid(
                "read_only_attribute",
                format!("{member} is set by the server and cannot be written"),
            )
            .at(pointer(member)));
        }
        self.only(writable)?;
        for member in not_null {
            if self.members.get(*member).is_some_and(Value::is_null) {
                return Err(ApiError::invalid(
                    "null_not_allowed",
                    format!("{member} cannot be null"),
                )
                .at(pointer(member)));
            }
        }
        Ok(())
    }

    /// Whether the member is present (even as `null`).
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    /// A string member; absent is `None`, `null` or another type is `422`.
    ///
    /// # Errors
    /// `422 invalid_type`.
    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.members.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type(name, "a string")),
        }
    }

    /// A nullable string member: absent `None`, `null` `Some(None)`.
    ///
    /// # Errors
    /// `422 invalid_type`.
    pub fn nullable_string(&self, name: &str) -> Result<Option<Option<String>>, ApiError> {
        match self.members.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(wrong_type(name, "a string or null")),
        }
    }

    /// An array-of-strings member; absent is `None`, `null` or another type
    /// is `422`, pointing at the offending item when one is not a string.
    ///
    /// # Errors
    /// `422 invalid_type`.
    pub fn string_list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.members.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ApiError::invalid(
                        "invalid_type",
                        format!("{name}[{index}] must be a string"),
                    )
                    .at(format!("{}/{index}", pointer(name)))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(name, "an array of strings")),
        }
    }

    /// A boolean member.
    ///
    /// # Errors
    /// `422 invalid_type`.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.members.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(name, "true or false")),
        }
    }

    /// Whether the request names the relationship (even with `data: null`).
    #[must_use]
    pub fn has_relationship(&self, name: &str) -> bool {
        self.relationships.contains_key(name)
    }

    /// An integer member (a JSON number without fraction that fits `i64`).
    ///
    /// # Errors
    /// `422 invalid_type`.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.members.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(_) => Err(wrong_type(name, "an integer")),
        }
    }

    /// The id of a to-one relationship that must name a resource of
    /// `expected_type` (only names accepted by [`read_resource_with`]
    /// are present). Absent or `{"data": null}` is `None`.
    ///
    /// # Errors
    /// `400 invalid_document` for a malformed linkage, `409 type_mismatch`
    /// for another type, each pointing into `/data/relationships/{name}`.
    pub fn relationship(
        &self,
        name: &str,
        expected_type: &str,
    ) -> Result<Option<String>, ApiError> {
        let base = format!("/data/relationships/{name}");
        let Some(value) = self.relationships.get(name) else {
            return Ok(None);
        };
        let Value::Object(relationship) = value else {
            return Err(ApiError::bad_request(
                "invalid_document",
                format!("relationship `{name}` must be an object with `data`"),
            )
            .at(base));
        };
        let linkage = match relationship.get("data") {
            None => {
                return Err(ApiError::bad_request(
                    "invalid_document",
                    format!("relationship `{name}` needs a `data` member"),
                )
                .at(base));
            }
            Some(Value::Null) => return Ok(None),
            Some(Value::Object(linkage)) => linkage,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_document",
                    format!("`{name}` is a to-one relationship: `data` must be an object or null"),
                )
                .at(format!("{base}/data")));
            }
        };
        match linkage.get("type") {
            Some(Value::String(t)) if t == expected_type => {}
            Some(Value::String(t)) => {
                return Err(ApiError::conflict(
                    "type_mismatch",
                    format!("relationship `{name}` must name a `{expected_type}`, not a `{t}`"),
                )
                .at(format!("{base}/data/type")));
            }
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_document",
                    "a resource linkage needs a string `type`",
                )
                .at(format!("{base}/data/type")));
            }
        }
        match linkage.get("id") {
            Some(Value::String(id)) => Ok(Some(id.clone())),
            _ => Err(ApiError::bad_request(
                "invalid_document",
                "a resource linkage needs a string `id`",
            )
            .at(format!("{base}/data/id"))),
        }
    }

    /// The ids of a to-many relationship whose linkages must each name a
    /// resource of `expected_type` (only names accepted by
    /// [`read_resource_with`] are present), in the order given. Absent is
    /// `None`; `{"data": []}` is an empty list.
    ///
    /// # Errors
    /// `400 invalid_document` for a malformed relationship or linkage,
    /// `409 type_mismatch` for another type, each pointing into
    /// `/data/relationships/{name}` (at `/data/<index>` for a linkage).
    pub fn to_many_relationship(
        &self,
        name: &str,
        expected_type: &str,
    ) -> Result<Option<Vec<String>>, ApiError> {
        let base = format!("/data/relationships/{name}");
        let Some(value) = self.relationships.get(name) else {
            return Ok(None);
        };
        let Some(data) = value.as_object().map(|r| r.get("data")) else {
            return Err(ApiError::bad_request(
                "invalid_document",
                format!("relationship `{name}` must be an object with `data`"),
            )
            .at(base));
        };
        let linkages = match data {
            None => {
                return Err(ApiError::bad_request(
                    "invalid_document",
                    format!("relationship `{name}` needs a `data` member"),
                )
                .at(base));
            }
            Some(Value::Array(linkages)) => linkages,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_document",
                    format!("`{name}` is a to-many relationship: `data` must be an array"),
                )
                .at(format!("{base}/data")));
            }
        };
        let mut ids = Vec::with_capacity(linkages.len());
        for (index, linkage) in linkages.iter().enumerate() {
            let at = format!("{base}/data/{index}");
            let Value::Object(linkage) = linkage else {
                return Err(ApiError::bad_request(
                    "invalid_document",
                    "a resource linkage must be an object",
                )
                .at(at));
            };
            match linkage.get("type") {
                Some(Value::String(t)) if t == expected_type => {}
                Some(Value::String(t)) => {
                    return Err(ApiError::conflict(
                        "type_mismatch",
                        format!("relationship `{name}` must name `{expected_type}`s, not a `{t}`"),
                    )
                    .at(format!("{at}/type")));
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_document",
                        "a resource linkage needs a string `type`",
                    )
                    .at(format!("{at}/type")));
                }
            }
            match linkage.get("id") {
                Some(Value::String(id)) => ids.push(id.clone()),
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_document",
                        "a resource linkage needs a string `id`",
                    )
                    .at(format!("{at}/id")));
                }
            }
        }
        Ok(Some(ids))
    }

    /// A JSON object member, returned serialized.
    ///
    /// # Errors
    /// `422 invalid_type`.
    pub fn object_text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.members.get(name) {
            None => Ok(None),
            Some(value @ Value::Object(_)) => Ok(Some(value.to_string())),
            Some(_) => Err(wrong_type(name, "a JSON object")),
        }
    }
}

/// Reads a request document holding one resource object of `kind`, which
/// must carry no relationships.
///
/// An empty body is allowed only when `allow_empty` (it then reads as no
/// attributes).
///
/// # Errors
/// `415` for the media type, `400` for malformed JSON, a wrong shape or any
/// relationship, `409` for a wrong `type` or an `id` that differs from the URL's.
pub fn read_resource(
    request: &HttpRequest,
    body: &[u8],
    kind: &str,
    expect: Expect<'_>,
    allow_empty: bool,
) -> Result<Attributes, ApiError> {
    read_resource_with(request, body, kind, expect, allow_empty, &[])
}

/// As [`read_resource`], accepting the relationships named in
/// `relationships` (read them with [`Attributes::relationship`]).
///
/// # Errors
/// As [`read_resource`]; `400 unknown_relationship` for other names.
pub fn read_resource_with(
    request: &HttpRequest,
    body: &[u8],
    kind: &str,
    expect: Expect<'_>,
    allow_empty: bool,
    known_relationships: &[&str],
) -> Result<Attributes, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if allow_empty {
            Ok(Attributes::default())
        } else {
            Err(
                ApiError::bad_request("missing_document", "the request needs a JSON:API document")
                    .at(""),
            )
        };
    }
    require_json_media_type(request)?;
    let document = crate::body::json(body)?;
    let Value::Object(mut document) = document else {
        return Err(ApiError::bad_request(
            "invalid_document",
            "the document must be a JSON object",
        )
        .at(""));
    };
    if let Some(member) = document
        .keys()
        .find(|k| !["data", "meta", "jsonapi"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(
            "invalid_document",
            format!("unexpected top-level member `{member}`"),
        )
        .at(format!("/{member}")));
    }
    let Some(Value::Object(mut data)) = document.remove("data") else {
        return Err(
            ApiError::bad_request("invalid_document", "`data` must be a resource object")
                .at("/data"),
        );
    };
    if let Some(member) = data.keys().find(|k| {
        !["type", "id", "attributes", "relationships", "meta", "lid"].contains(&k.as_str())
    }) {
        return Err(ApiError::bad_request(
            "invalid_document",
            format!("unexpected member `{member}` in data"),
        )
        .at(format!("/data/{member}")));
    }
    match data.get("type") {
        Some(Value::String(t)) if t == kind => {}
        Some(Value::String(t)) => {
            return Err(ApiError::conflict(
                "type_mismatch",
                format!("expected type `{kind}`, got `{t}`"),
            )
            .at("/data/type"));
        }
        _ => {
            return Err(
                ApiError::bad_request("invalid_document", "`data.type` must be a string")
                    .at("/data/type"),
            );
        }
    }
    match (expect, data.get("id")) {
        (Expect::Create, None) => {}
        (Expect::Create, Some(_)) => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "client_generated_id",
                "Forbidden",
                "ids are generated by the server",
            )
            .at("/data/id"));
        }
        (Expect::Update(id), Some(Value::String(given))) if given == id => {}
        (Expect::Update(id), Some(Value::String(given))) => {
            return Err(ApiError::conflict(
                "id_mismatch",
                format!("document id `{given}` differs from the URL's `{id}`"),
            )
            .at("/data/id"));
        }
        (Expect::Update(_), _) => {
            return Err(ApiError::bad_request(
                "invalid_document",
                "`data.id` must be the resource's id",
            )
            .at("/data/id"));
        }
    }
    let relationships = match data.remove("relationships") {
        None => Map::new(),
        Some(Value::Object(relationships)) => {
            if let Some(name) = relationships
                .keys()
                .find(|k| !known_relationships.contains(&k.as_str()))
            {
                return Err(ApiError::bad_request(
                    "unknown_relationship",
                    format!("unknown relationship `{name}`"),
                )
                .at(format!("/data/relationships/{name}")));
            }
            relationships
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_document",
                "`relationships` must be an object",
            )
            .at("/data/relationships"));
        }
    };
    match data.remove("attributes") {
        None => Ok(Attributes {
            members: Map::new(),
            relationships,
        }),
        Some(Value::Object(members)) => Ok(Attributes {
            members,
            relationships,
        }),
        Some(_) => Err(
            ApiError::bad_request("invalid_document", "`attributes` must be an object")
                .at("/data/attributes"),
        ),
    }
}

/// Adds `links.self` to a resource object.
#[must_use]
pub fn with_self_link(mut resource: Value, self_link: &str) -> Value {
    if let Some(map) = resource.as_object_mut() {
        map.insert("links".into(), json!({ "self": self_link }));
    }
    resource
}

/// A `200`/`201` response with a single resource.
#[must_use]
pub fn resource_response(
    status: actix_web::http::StatusCode,
    resource: Value,
    self_link: &str,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, JSONAPI));
    if status == actix_web::http::StatusCode::CREATED {
        response.insert_header((header::LOCATION, self_link));
    }
    response.body(
        json!({ "data": with_self_link(resource, self_link), "links": { "self": self_link } })
            .to_string(),
    )
}

/// A `200` response with a page of resources.
#[must_use]
pub fn collection_response(
    resources: Vec<Value>,
    self_link: &str,
    next_link: Option<String>,
) -> HttpResponse {
    let mut links = json!({ "self": self_link });
    if let (Some(next), Some(map)) = (next_link, links.as_object_mut()) {
        map.insert("next".into(), Value::String(next));
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, JSONAPI))
        .body(json!({ "data": resources, "links": links }).to_string())
}

/// `422 invalid_relationship` pointing at the linkage of relationship `name`.
pub(crate) fn invalid_relationship(name: &str, detail: String) -> ApiError {
    ApiError::invalid("invalid_relationship", detail).at(format!("/data/relationships/{name}/data"))
}

/// A required to-one relationship's id, parsed with `parse`: missing is
/// `422 relationship_required`, an id `parse` refuses is
/// `422 invalid_relationship` (no such resource can exist).
pub(crate) fn required_relationship<T, E>(
    attributes: &Attributes,
    name: &str,
    kind: &str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    let raw = attributes.relationship(name, kind)?.ok_or_else(|| {
        ApiError::invalid(
            "relationship_required",
            format!("relationship `{name}` is required"),
        )
        .at(format!("/data/relationships/{name}"))
    })?;
    parse(&raw).map_err(|_| invalid_relationship(name, format!("no {kind} with id `{raw}`")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Source;

    fn with_roles(roles: Value) -> Attributes {
        let mut relationships = Map::new();
        relationships.insert("roles".into(), roles);
        Attributes {
            members: Map::new(),
            relationships,
        }
    }

    fn failure(result: Result<Option<Vec<String>>, ApiError>) -> (u16, String, Option<String>) {
        let error = result.unwrap_err();
        let first = error.errors()[0].clone();
        let pointer = match first.source {
            Some(Source::Pointer(p)) => Some(p),
            _ => None,
        };
        (error.status().as_u16(), first.code, pointer)
    }

    #[test]
    fn to_many_relationships_give_their_ids_in_order() {
        let attributes = with_roles(json!({ "data": [
            { "type": "role", "id": "b" },
            { "type": "role", "id": "a" },
        ] }));
        assert_eq!(
            attributes.to_many_relationship("roles", "role").unwrap(),
            Some(vec!["b".to_owned(), "a".to_owned()])
        );
        assert_eq!(
            with_roles(json!({ "data": [] }))
                .to_many_relationship("roles", "role")
                .unwrap(),
            Some(vec![])
        );
        assert_eq!(
            Attributes::default()
                .to_many_relationship("roles", "role")
                .unwrap(),
            None
        );
    }

    #[test]
    fn malformed_to_many_relationships_point_at_the_offending_member() {
        let check = |roles: Value| failure(with_roles(roles).to_many_relationship("roles", "role"));
        assert_eq!(
            check(json!({ "data": null })),
            (
                400,
                "invalid_document".into(),
                Some("/data/relationships/roles/data".into())
            )
        );
        assert_eq!(
            check(json!({ "data": { "type": "role", "id": "a" } })),
            (
                400,
                "invalid_document".into(),
                Some("/data/relationships/roles/data".into())
            )
        );
        assert_eq!(
            check(json!({})),
            (
                400,
                "invalid_document".into(),
                Some("/data/relationships/roles".into())
            )
        );
        assert_eq!(
            check(json!([])),
            (
                400,
                "invalid_document".into(),
                Some("/data/relationships/roles".into())
            )
        );
        assert_eq!(
            check(json!({ "data": [{ "type": "role", "id": "a" }, "b"] })),
            (
                400,
                "invalid_document".into(),
                Some("/data/relationships/roles/data/1".into())
            )
        );
        assert_eq!(
            check(json!({ "data": [{ "type": "user", "id": "a" }] })),
            (
                409,
                "type_mismatch".into(),
                Some("/data/relationships/roles/data/0/type".into())
            )
        );
        assert_eq!(
            check(json!({ "data": [{ "id": "a" }] })),
            (
                400,
                "invalid_document".into(),
                Some("/data/relationships/roles/data/0/type".into())
            )
        );
        assert_eq!(
            check(json!({ "data": [{ "type": "role", "id": 7 }] })),
            (
                400,
                "invalid_document".into(),
                Some("/data/relationships/roles/data/0/id".into())
            )
        );
    }
}
