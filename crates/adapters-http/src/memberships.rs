//! `/api/memberships`: users in organizations with the roles they hold
//! there (guarded by the `organizations` scopes). The request names the
//! user and the organization as to-one relationships and the roles as a
//! to-many one; an end unknown in the caller's environment is
//! `422 invalid_relationship` pointing at its linkage (at its index for a
//! role), a second membership of a user in an organization is
//! `409 duplicate`. `PATCH` (+) replaces the roles.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::memberships::{
    CreateMembership, CreateMembershipError, MembershipFilter, MembershipLookupError,
    UpdateMembershipError,
};
use portcullis_application::representation;
use portcullis_domain::{MembershipId, OrganizationId, RoleId, UserId};
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::jsonapi::{
    Attributes, Expect, invalid_relationship, read_resource_with,
    required_relationship as required, resource_response,
};
use crate::query::{ListQuery, id_filter, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const KIND: &str = "membership";
pub(crate) const RELATIONSHIPS: [&str; 3] = ["user", "organization", "roles"];
pub(crate) const FILTERS: [&str; 2] = ["organization", "user"];
const READ_ONLY: [&str; 2] = ["created_at", "updated_at"];

fn membership_id(raw: &str) -> Result<MembershipId, ApiError> {
    MembershipId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no membership with id `{raw}`")))
}

fn unknown_role(index: usize) -> ApiError {
    ApiError::invalid("invalid_relationship", "no such role in this environment")
        .at(format!("/data/relationships/roles/data/{index}"))
}

fn repeated_role(index: usize) -> ApiError {
    ApiError::invalid("duplicate_role", "a role is listed twice")
        .at(format!("/data/relationships/roles/data/{index}"))
}

/// Refuses every attribute: a membership is written through its relationships.
fn no_attributes(attributes: &Attributes) -> Result<(), ApiError> {
    if let Some(member) = READ_ONLY.iter().find(|m| attributes.has(m)) {
        return Err(ApiError::invalid(
            "read_only_attribute",
            format!("{member} is set by the server and cannot be written"),
        )
        .at(format!("/data/attributes/{member}")));
    }
    attributes.only(&[])
}

/// The roles of the request, parsed; an id that cannot exist is an unknown role.
fn roles(attributes: &Attributes) -> Result<Option<Vec<RoleId>>, ApiError> {
    let Some(raw) = attributes.to_many_relationship("roles", "role")? else {
        return Ok(None);
    };
    raw.iter()
        .enumerate()
        .map(|(index, id)| RoleId::parse(id).map_err(|_| unknown_role(index)))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl From<CreateMembershipError> for ApiError {
    fn from(error: CreateMembershipError) -> Self {
        match error {
            CreateMembershipError::UnknownUser => {
                invalid_relationship("user", "no such user in this environment".into())
            }
            CreateMembershipError::UnknownOrganization => invalid_relationship(
                "organization",
                "no such organization in this environment".into(),
            ),
            CreateMembershipError::UnknownRole(index) => unknown_role(index),
            CreateMembershipError::DuplicateRole(index) => repeated_role(index),
            CreateMembershipError::Duplicate => ApiError::conflict(
                "duplicate",
                "the user is already a member of this organization",
            )
            .at("/data/relationships"),
            CreateMembershipError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateMembershipError> for ApiError {
    fn from(error: UpdateMembershipError) -> Self {
        match error {
            UpdateMembershipError::NotFound => ApiError::not_found("no such membership"),
            UpdateMembershipError::UnknownRole(index) => unknown_role(index),
            UpdateMembershipError::DuplicateRole(index) => repeated_role(index),
            UpdateMembershipError::Store(store) => store.into(),
        }
    }
}

impl From<MembershipLookupError> for ApiError {
    fn from(error: MembershipLookupError) -> Self {
        match error {
            MembershipLookupError::NotFound => ApiError::not_found("no such membership"),
            MembershipLookupError::Store(store) => store.into(),
        }
    }
}

/// `POST /api/memberships`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document =
        read_resource_with(&request, &body, KIND, Expect::Create, false, &RELATIONSHIPS)?;
    no_attributes(&document)?;
    let user = required(&document, "user", "user", UserId::parse)?;
    let organization = required(
        &document,
        "organization",
        "organization",
        OrganizationId::parse,
    )?;
    let roles = roles(&document)?.unwrap_or_default();
    let membership = state
        .memberships
        .create(
            &actor,
            CreateMembership {
                user,
                organization,
                roles,
            },
        )
        .await?;
    let link = caller.url(&format!("/api/memberships/{}", membership.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::membership(&membership),
        &link,
    ))
}

/// `GET /api/memberships/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:read")?;
    let membership = state.memberships.get(&actor, membership_id(&path)?).await?;
    let link = caller.url(&format!("/api/memberships/{}", membership.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::membership(&membership),
        &link,
    ))
}

/// `GET /api/memberships`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:read")?;
    let query = ListQuery::parse(request.query_string(), &FILTERS)?;
    let filter = MembershipFilter {
        organization: id_filter(&query, "organization", OrganizationId::parse)?,
        user: id_filter(&query, "user", UserId::parse)?,
    };
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .memberships
        .list(&actor, filter, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/memberships");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |membership| {
            (
                representation::membership(membership),
                membership.id.to_string(),
            )
        },
    ))
}

/// `PATCH /api/memberships/{id}` (+): replaces the roles; the user and the
/// organization of a membership never change.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:write")?;
    let id = membership_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document = read_resource_with(
        &request,
        &body,
        KIND,
        Expect::Update(&path),
        false,
        &RELATIONSHIPS,
    )?;
    no_attributes(&document)?;
    for fixed in ["user", "organization"] {
        if document.has_relationship(fixed) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "immutable_relationship",
                "Forbidden",
                format!("the {fixed} of a membership cannot change"),
            )
            .at(format!("/data/relationships/{fixed}")));
        }
    }
    let roles = roles(&document)?.ok_or_else(|| {
        ApiError::invalid("relationship_required", "relationship `roles` is required")
            .at("/data/relationships/roles")
    })?;
    let membership = state.memberships.replace_roles(&actor, id, roles).await?;
    let link = caller.url(&format!("/api/memberships/{}", membership.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::membership(&membership),
        &link,
    ))
}

/// `DELETE /api/memberships/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:delete")?;
    state
        .memberships
        .delete(&actor, membership_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
