//! `/api/organizations`: the organizations collection (guarded by the
//! `organizations` scopes), shown with their member counts. `PATCH` (+)
//! changes `name` and `metadata`; `DELETE` takes the memberships along.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::organizations::{
    CreateOrganization, CreateOrganizationError, OrganizationLookupError, UpdateOrganization,
    UpdateOrganizationError,
};
use portcullis_application::representation;
use portcullis_domain::OrganizationId;
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Attributes, Expect, read_resource, resource_response};
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const KIND: &str = "organization";
const WRITABLE: [&str; 2] = ["name", "metadata"];
const READ_ONLY: [&str; 3] = ["member_count", "created_at", "updated_at"];

fn organization_id(raw: &str) -> Result<OrganizationId, ApiError> {
    OrganizationId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no organization with id `{raw}`")))
}

/// Refuses server-set and unknown attributes, and `null` for any writable one.
fn writable_only(attributes: &Attributes) -> Result<(), ApiError> {
    attributes.writable(&READ_ONLY, &WRITABLE, &WRITABLE)
}

impl From<CreateOrganizationError> for ApiError {
    fn from(error: CreateOrganizationError) -> Self {
        match error {
            CreateOrganizationError::Invalid(list) => violations(list),
            CreateOrganizationError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateOrganizationError> for ApiError {
    fn from(error: UpdateOrganizationError) -> Self {
        match error {
            UpdateOrganizationError::NotFound => ApiError::not_found("no such organization"),
            UpdateOrganizationError::Invalid(list) => violations(list),
            UpdateOrganizationError::Store(store) => store.into(),
        }
    }
}

impl From<OrganizationLookupError> for ApiError {
    fn from(error: OrganizationLookupError) -> Self {
        match error {
            OrganizationLookupError::NotFound => ApiError::not_found("no such organization"),
            OrganizationLookupError::Store(store) => store.into(),
        }
    }
}

/// `POST /api/organizations`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, KIND, Expect::Create, false)?;
    writable_only(&attributes)?;
    let name = attributes.string("name")?.ok_or_else(|| {
        ApiError::invalid("name_required", "name is required").at("/data/attributes/name")
    })?;
    let command = CreateOrganization {
        name,
        metadata: attributes.object_text("metadata")?,
    };
    let organization = state.organizations.create(&actor, command).await?;
    let link = caller.url(&format!(
        "/api/organizations/{}",
        organization.organization.id
    ));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::organization(&organization),
        &link,
    ))
}

/// `GET /api/organizations/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:read")?;
    let organization = state
        .organizations
        .get(&actor, organization_id(&path)?)
        .await?;
    let link = caller.url(&format!(
        "/api/organizations/{}",
        organization.organization.id
    ));
    Ok(resource_response(
        StatusCode::OK,
        representation::organization(&organization),
        &link,
    ))
}

/// `GET /api/organizations`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .organizations
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/organizations");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |organization| {
            (
                representation::organization(organization),
                organization.organization.id.to_string(),
            )
        },
    ))
}

/// `PATCH /api/organizations/{id}` (+).
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:write")?;
    let id = organization_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, KIND, Expect::Update(&path), false)?;
    writable_only(&attributes)?;
    let command = UpdateOrganization {
        name: attributes.string("name")?,
        metadata: attributes.object_text("metadata")?,
    };
    let organization = state.organizations.update(&actor, id, command).await?;
    let link = caller.url(&format!(
        "/api/organizations/{}",
        organization.organization.id
    ));
    Ok(resource_response(
        StatusCode::OK,
        representation::organization(&organization),
        &link,
    ))
}

/// `DELETE /api/organizations/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:delete")?;
    state
        .organizations
        .delete(&actor, organization_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
