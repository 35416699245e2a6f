//! `/api/invitations` (guarded by the `organizations` scopes) and the
//! invitee's public answers, `POST /invitations/{id}/accept` and
//! `/decline`, which take no management token: the invitation's token in
//! a plain JSON body is the proof.
//!
//! The create response is the only one that carries `token`. An answer
//! with an unknown id or a wrong token is `404` (the two are not told
//! apart), an expired invitation `410`, a settled one `409`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::invitations::{
    AcceptInvitation, AnswerInvitationError, CreateInvitation, CreateInvitationError,
    InvitationFilter, InvitationLookupError, IssuedInvitation,
};
use std::sync::Arc;

use portcullis_application::environments::ResolvedEnvironment;
use portcullis_application::representation;
use portcullis_domain::invitation::InvitationStatus;
use portcullis_domain::{InvitationId, OrganizationId, RoleId};
use portcullis_ports::store::UnitOfWork;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, violations, violations_at};
use crate::jsonapi::{
    Expect, JSONAPI, invalid_relationship, read_resource_with, require_json_media_type,
    required_relationship as required, resource_response, with_self_link,
};
use crate::query::{ListQuery, email_filter, id_filter, page_response};
use crate::state::AppState;
use crate::tenancy::{authenticate, environment};

const KIND: &str = "invitation";
pub(crate) const RELATIONSHIPS: [&str; 1] = ["organization"];
const WRITABLE: [&str; 3] = ["email", "role_ids", "expires_at"];
const READ_ONLY: [&str; 4] = ["status", "token", "created_at", "updated_at"];
pub(crate) const FILTERS: [&str; 3] = ["organization", "status", "email"];
/// Members of an answer's body.
const ACCEPT_MEMBERS: [&str; 5] = [
    "token",
    "first_name",
    "last_name",
    "password",
    "password_confirmation",
];

fn invitation_id(raw: &str) -> Result<InvitationId, ApiError> {
    InvitationId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no invitation with id `{raw}`")))
}

fn not_found() -> ApiError {
    ApiError::not_found("no such invitation")
}

fn role_error(code: &str, detail: &str, index: usize) -> ApiError {
    ApiError::invalid(code, detail).at(format!("/data/attributes/role_ids/{index}"))
}

fn not_pending(status: InvitationStatus) -> ApiError {
    ApiError::conflict(
        "invitation_not_pending",
        format!(
            "the invitation is {} and no longer pending",
            status.as_str()
        ),
    )
}

impl From<CreateInvitationError> for ApiError {
    fn from(error: CreateInvitationError) -> Self {
        match error {
            CreateInvitationError::Invalid(list) => violations(list),
            CreateInvitationError::UnknownOrganization => invalid_relationship(
                "organization",
                "no such organization in this environment".into(),
            ),
            CreateInvitationError::UnknownRole(index) => {
                role_error("unknown_role", "no such role in this environment", index)
            }
            CreateInvitationError::DuplicateRole(index) => {
                role_error("duplicate_role", "a role is listed twice", index)
            }
            CreateInvitationError::AlreadyMember => ApiError::conflict(
                "already_member",
                "a user with this e-mail is already a member of the organization",
            )
            .at("/data/attributes/email"),
            CreateInvitationError::Store(store) => store.into(),
        }
    }
}

impl From<InvitationLookupError> for ApiError {
    fn from(error: InvitationLookupError) -> Self {
        match error {
            InvitationLookupError::NotFound => not_found(),
            InvitationLookupError::NotPending(status) => not_pending(status),
            InvitationLookupError::Store(store) => store.into(),
        }
    }
}

impl From<AnswerInvitationError> for ApiError {
    fn from(error: AnswerInvitationError) -> Self {
        match error {
            // The answer's body is plain JSON: pointers name its members.
            AnswerInvitationError::Invalid(list) => {
                violations_at(list, |v| format!("/{}", v.field))
            }
            AnswerInvitationError::NotFound => not_found(),
            AnswerInvitationError::NotPending(status) => not_pending(status),
            AnswerInvitationError::Expired => ApiError::new(
                StatusCode::GONE,
                "invitation_expired",
                "Gone",
                "the invitation has expired",
            ),
            AnswerInvitationError::UserBlocked => {
                ApiError::conflict("user_blocked", "the invited user is blocked")
            }
            AnswerInvitationError::AlreadyMember => ApiError::conflict(
                "already_member",
                "the user is already a member of the organization",
            ),
            AnswerInvitationError::UserRace => ApiError::conflict(
                "concurrent_user_creation",
                "a user with this e-mail was created at the same time; try again",
            ),
            err @ AnswerInvitationError::Crypto(_) => ApiError::internal(&err),
            AnswerInvitationError::Store(store) => store.into(),
        }
    }
}

/// The resource object with its token, for the create response only.
fn with_token(issued: &IssuedInvitation) -> Value {
    let mut resource = representation::invitation(&issued.invitation);
    if let Some(Value::Object(attributes)) = resource.get_mut("attributes") {
        attributes.insert(
            "token".to_owned(),
            Value::String(issued.token.expose_secret().to_owned()),
        );
    }
    resource
}

/// `POST /api/invitations`.
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
    if let Some(member) = READ_ONLY.iter().find(|m| document.has(m)) {
        return Err(ApiError::invalid(
            "read_only_attribute",
            format!("{member} is set by the server and cannot be written"),
        )
        .at(format!("/data/attributes/{member}")));
    }
    document.only(&WRITABLE)?;
    let organization = required(
        &document,
        "organization",
        "organization",
        OrganizationId::parse,
    )?;
    let email = document.string("email")?.ok_or_else(|| {
        ApiError::invalid("email_required", "email is required").at("/data/attributes/email")
    })?;
    let roles = document
        .string_list("role_ids")?
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            RoleId::parse(raw)
                .map_err(|_| role_error("unknown_role", "no such role in this environment", index))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let issued = state
        .invitations
        .create(
            &actor,
            CreateInvitation {
                organization,
                email,
                roles,
                expires_at: document.string("expires_at")?,
            },
        )
        .await?;
    let link = caller.url(&format!("/api/invitations/{}", issued.invitation.id));
    Ok(resource_response(
        StatusCode::CREATED,
        with_token(&issued),
        &link,
    ))
}

/// `GET /api/invitations/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:read")?;
    let invitation = state.invitations.get(&actor, invitation_id(&path)?).await?;
    let link = caller.url(&format!("/api/invitations/{}", invitation.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::invitation(&invitation),
        &link,
    ))
}

/// `GET /api/invitations`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:read")?;
    let query = ListQuery::parse(request.query_string(), &FILTERS)?;
    let status = query
        .filter("status")
        .map(|raw| {
            InvitationStatus::parse(raw).map_err(|_| {
                ApiError::bad_request(
                    "invalid_filter",
                    "filter[status] must be pending, accepted, declined or revoked",
                )
                .param("filter[status]")
            })
        })
        .transpose()?;
    let email = email_filter(&query)?;
    let filter = InvitationFilter {
        organization: id_filter(&query, "organization", OrganizationId::parse)?,
        status,
        email,
    };
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .invitations
        .list(&actor, filter, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/invitations");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |invitation| {
            (
                representation::invitation(invitation),
                invitation.id.to_string(),
            )
        },
    ))
}

/// `PATCH /api/invitations/{id}/revoke`: only a pending invitation (`409`).
pub async fn revoke<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:write")?;
    let invitation = state
        .invitations
        .revoke(&actor, invitation_id(&path)?)
        .await?;
    let link = caller.url(&format!("/api/invitations/{}", invitation.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::invitation(&invitation),
        &link,
    ))
}

/// `DELETE /api/invitations/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("organizations:delete")?;
    state
        .invitations
        .delete(&actor, invitation_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An answer's body: a JSON object of known string members.
fn answer_body(request: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    require_json_media_type(request)?;
    let value = crate::body::json(body)?;
    let Value::Object(members) = value else {
        return Err(ApiError::bad_request(
            "invalid_document",
            "the body must be a JSON object such as {\"token\": \"...\"}",
        )
        .at(""));
    };
    if let Some(unknown) = members
        .keys()
        .find(|k| !ACCEPT_MEMBERS.contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(
            "unknown_member",
            format!("`{unknown}` is not a member of an answer"),
        )
        .at(format!("/{unknown}")));
    }
    if let Some((name, _)) = members.iter().find(|(_, v)| !v.is_string()) {
        return Err(
            ApiError::invalid("invalid_type", format!("{name} must be a string"))
                .at(format!("/{name}")),
        );
    }
    Ok(members)
}

/// A string member of an answer's body (type already checked).
fn member(members: &mut Map<String, Value>, name: &str) -> Option<String> {
    match members.remove(name) {
        Some(Value::String(text)) => Some(text),
        _ => None,
    }
}

/// What an answering request carries.
struct Answer {
    environment: Arc<ResolvedEnvironment>,
    id: InvitationId,
    members: Map<String, Value>,
    token: SecretString,
}

/// The answering request: its environment (by host), the invitation id and
/// the token; an id that cannot exist is a `404` like any unknown one.
async fn answer_head<U: UnitOfWork>(
    request: &HttpRequest,
    path: &str,
    payload: web::Payload,
    state: &web::Data<AppState<U>>,
) -> Result<Answer, ApiError> {
    // Public and able to create users (a password hash): limited per
    // address before any other work.
    if let Some(decision) = state.limits.public_address(request) {
        crate::limits::note(request, &decision);
        if decision.refused() {
            return Err(decision.api_error());
        }
    }
    let environment = environment(request, state).await?;
    let body = crate::body::read(request, payload, state.body_limit).await?;
    let mut members = answer_body(request, &body)?;
    let token = member(&mut members, "token")
        .ok_or_else(|| ApiError::invalid("token_required", "token is required").at("/token"))?;
    let id = invitation_id(path)?;
    Ok(Answer {
        environment,
        id,
        members,
        token: SecretString::from(token),
    })
}

/// The answer's response: the invitation as it now stands.
fn answered(
    environment: &ResolvedEnvironment,
    invitation: &portcullis_domain::invitation::Invitation,
    meta: Option<Value>,
) -> HttpResponse {
    let link = format!("{}/api/invitations/{}", environment.issuer, invitation.id);
    let mut document = json!({
        "data": with_self_link(representation::invitation(invitation), &link),
    });
    if let (Some(meta), Some(map)) = (meta, document.as_object_mut()) {
        map.insert("meta".to_owned(), meta);
    }
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CONTENT_TYPE, JSONAPI))
        .body(document.to_string())
}

/// `POST /invitations/{id}/accept` (no management token): `{"token": ...}`,
/// plus `first_name`, `last_name`, `password` (and its confirmation) used
/// only when the acceptance creates the user.
pub async fn accept<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let Answer {
        environment,
        id,
        mut members,
        token,
    } = answer_head(&request, &path, payload, &state).await?;
    let command = AcceptInvitation {
        token,
        first_name: member(&mut members, "first_name"),
        last_name: member(&mut members, "last_name"),
        password: member(&mut members, "password").map(SecretString::from),
        password_confirmation: member(&mut members, "password_confirmation")
            .map(SecretString::from),
    };
    let accepted = state
        .invitations
        .accept(environment.environment.id, id, command)
        .await?;
    Ok(answered(
        &environment,
        &accepted.invitation,
        Some(json!({
            "user_created": accepted.user_created,
            "membership_id": accepted.membership.id.to_string(),
        })),
    ))
}

/// `POST /invitations/{id}/decline` (no management token): `{"token": ...}`.
pub async fn decline<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let Answer {
        environment,
        id,
        members,
        token,
    } = answer_head(&request, &path, payload, &state).await?;
    if let Some(name) = members.keys().next() {
        return Err(ApiError::bad_request(
            "unknown_member",
            format!("`{name}` is not a member of a decline"),
        )
        .at(format!("/{name}")));
    }
    let invitation = state
        .invitations
        .decline(environment.environment.id, id, token)
        .await?;
    Ok(answered(&environment, &invitation, None))
}
