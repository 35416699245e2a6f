//! `/api/clients`: the clients collection, with `rotate_secret`.
//!
//! A client secret appears in two responses only: the one that created the
//! client and the one that rotated its secret.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::clients::{
    ClientLookupError, ClientWithSecret, CreateClient, CreateClientError, DeleteClientError,
    RotateSecretError, UpdateClient, UpdateClientError,
};
use portcullis_application::representation;
use portcullis_domain::ClientId;
use portcullis_ports::store::UnitOfWork;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Attributes, Expect, read_resource, resource_response};
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const WRITABLE: [&str; 6] = [
    "name",
    "client_type",
    "grant_types",
    "redirect_uris",
    "token_format",
    "first_party",
];

/// Attributes the server sets: sending one is a `422`, never silently ignored.
const READ_ONLY: [&str; 4] = ["client_id", "client_secret", "created_at", "updated_at"];

fn client_id(raw: &str) -> Result<ClientId, ApiError> {
    ClientId::parse(raw).map_err(|_| ApiError::not_found(format!("no client with id `{raw}`")))
}

fn not_found() -> ApiError {
    ApiError::not_found("no such client")
}

impl From<CreateClientError> for ApiError {
    fn from(error: CreateClientError) -> Self {
        match error {
            CreateClientError::Invalid(list) => violations(list),
            CreateClientError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateClientError> for ApiError {
    fn from(error: UpdateClientError) -> Self {
        match error {
            UpdateClientError::NotFound => not_found(),
            UpdateClientError::Invalid(list) => violations(list),
            UpdateClientError::Store(store) => store.into(),
        }
    }
}

impl From<ClientLookupError> for ApiError {
    fn from(error: ClientLookupError) -> Self {
        match error {
            ClientLookupError::NotFound => not_found(),
            ClientLookupError::Store(store) => store.into(),
        }
    }
}

impl From<DeleteClientError> for ApiError {
    fn from(error: DeleteClientError) -> Self {
        match error {
            DeleteClientError::NotFound => not_found(),
            DeleteClientError::SelfDeletion => ApiError::conflict(
                "self_deletion",
                "a client cannot delete itself: use another client's token",
            ),
            DeleteClientError::Store(store) => store.into(),
        }
    }
}

impl From<RotateSecretError> for ApiError {
    fn from(error: RotateSecretError) -> Self {
        match error {
            RotateSecretError::NotFound => not_found(),
            RotateSecretError::PublicClient => {
                ApiError::conflict("public_client", "a public client has no secret to rotate")
            }
            RotateSecretError::Store(store) => store.into(),
        }
    }
}

/// Refuses read-only members (`422`), unknown ones (`400`) and `null` for
/// any writable one (`422`).
fn check_members(attributes: &Attributes) -> Result<(), ApiError> {
    attributes.writable(&READ_ONLY, &WRITABLE, &WRITABLE)
}

/// The resource object with its secret, for the two responses that show it.
fn with_secret(created: &ClientWithSecret) -> Value {
    let mut resource = representation::client(&created.client);
    if let (Some(secret), Some(Value::Object(attributes))) =
        (&created.secret, resource.get_mut("attributes"))
    {
        attributes.insert(
            "client_secret".to_owned(),
            Value::String(secret.expose_secret().to_owned()),
        );
    }
    resource
}

/// `POST /api/clients`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "client", Expect::Create, false)?;
    check_members(&attributes)?;
    let name = attributes.string("name")?.ok_or_else(|| {
        ApiError::invalid("name_required", "name is required").at("/data/attributes/name")
    })?;
    let command = CreateClient {
        name,
        client_type: attributes.string("client_type")?,
        grant_types: attributes.string_list("grant_types")?,
        redirect_uris: attributes.string_list("redirect_uris")?,
        token_format: attributes.string("token_format")?,
        first_party: attributes.boolean("first_party")?,
    };
    let created = state.clients.create(&actor, command).await?;
    let link = caller.url(&format!("/api/clients/{}", created.client.id));
    Ok(resource_response(
        StatusCode::CREATED,
        with_secret(&created),
        &link,
    ))
}

/// `GET /api/clients/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:read")?;
    let client = state.clients.get(&actor, client_id(&path)?).await?;
    let link = caller.url(&format!("/api/clients/{}", client.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::client(&client),
        &link,
    ))
}

/// `GET /api/clients`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .clients
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/clients");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |client| (representation::client(client), client.id.to_string()),
    ))
}

/// `PATCH /api/clients/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:write")?;
    let id = client_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "client", Expect::Update(&path), false)?;
    check_members(&attributes)?;
    let command = UpdateClient {
        name: attributes.string("name")?,
        client_type: attributes.string("client_type")?,
        grant_types: attributes.string_list("grant_types")?,
        redirect_uris: attributes.string_list("redirect_uris")?,
        token_format: attributes.string("token_format")?,
        first_party: attributes.boolean("first_party")?,
    };
    let client = state.clients.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/clients/{}", client.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::client(&client),
        &link,
    ))
}

/// `PATCH /api/clients/{id}/rotate_secret` (no body needed).
pub async fn rotate_secret<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:write")?;
    let rotated = state
        .clients
        .rotate_secret(&actor, client_id(&path)?)
        .await?;
    let link = caller.url(&format!("/api/clients/{}", rotated.client.id));
    Ok(resource_response(
        StatusCode::OK,
        with_secret(&rotated),
        &link,
    ))
}

/// `DELETE /api/clients/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:delete")?;
    state.clients.delete(&actor, client_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
