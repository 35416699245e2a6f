//! `/api/sessions`: sessions of users (guarded by the `sessions` scopes).
//! The request names the user as a relationship; a user unknown in the
//! caller's environment is `422 invalid_relationship`, a blocked one
//! `409 user_blocked`. `touch` on a revoked or expired session is
//! `409 session_revoked` / `409 session_expired`; `revoke` is idempotent.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::sessions::{
    CreateSession, CreateSessionError, SessionFilter, SessionLookupError, SessionView,
    TouchSessionError,
};
use portcullis_domain::session::SessionStateError;
use portcullis_domain::{SessionId, UserId};
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{
    Expect, invalid_relationship, read_resource_with, required_relationship as required,
    resource_response,
};
use crate::query::{ListQuery, id_filter, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const KIND: &str = "session";
pub(crate) const RELATIONSHIPS: [&str; 1] = ["user"];
pub(crate) const FILTERS: [&str; 2] = ["user", "active"];

fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(raw).map_err(|_| ApiError::not_found(format!("no session with id `{raw}`")))
}

impl From<CreateSessionError> for ApiError {
    fn from(error: CreateSessionError) -> Self {
        match error {
            CreateSessionError::Invalid(list) => violations(list),
            CreateSessionError::UnknownUser => {
                invalid_relationship("user", "no such user in this environment".into())
            }
            CreateSessionError::UserBlocked => {
                ApiError::conflict("user_blocked", "a blocked user gets no new session")
                    .at("/data/relationships/user/data")
            }
            CreateSessionError::Store(store) => store.into(),
        }
    }
}

impl From<SessionLookupError> for ApiError {
    fn from(error: SessionLookupError) -> Self {
        match error {
            SessionLookupError::NotFound => ApiError::not_found("no such session"),
            SessionLookupError::Store(store) => store.into(),
        }
    }
}

impl From<TouchSessionError> for ApiError {
    fn from(error: TouchSessionError) -> Self {
        match error {
            TouchSessionError::NotFound => ApiError::not_found("no such session"),
            TouchSessionError::State(SessionStateError::Revoked) => {
                ApiError::conflict("session_revoked", "the session is revoked")
            }
            TouchSessionError::State(SessionStateError::Expired) => {
                ApiError::conflict("session_expired", "the session has expired")
            }
            TouchSessionError::Store(store) => store.into(),
        }
    }
}

fn respond(status: StatusCode, view: &SessionView, link: &str) -> HttpResponse {
    resource_response(
        status,
        representation::session(&view.session, view.now),
        link,
    )
}

/// `POST /api/sessions`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("sessions:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document =
        read_resource_with(&request, &body, KIND, Expect::Create, false, &RELATIONSHIPS)?;
    document.only(&["ip_address", "user_agent", "expires_at"])?;
    let user = required(&document, "user", "user", UserId::parse)?;
    let command = CreateSession {
        user,
        ip_address: document.string("ip_address")?,
        user_agent: document.string("user_agent")?,
        expires_at: document.string("expires_at")?,
    };
    let view = state.sessions.create(&actor, command).await?;
    let link = caller.url(&format!("/api/sessions/{}", view.session.id));
    Ok(respond(StatusCode::CREATED, &view, &link))
}

/// `GET /api/sessions/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("sessions:read")?;
    let view = state.sessions.get(&actor, session_id(&path)?).await?;
    let link = caller.url(&format!("/api/sessions/{}", view.session.id));
    Ok(respond(StatusCode::OK, &view, &link))
}

/// `GET /api/sessions`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("sessions:read")?;
    let query = ListQuery::parse(request.query_string(), &FILTERS)?;
    let filter = SessionFilter {
        user: id_filter(&query, "user", UserId::parse)?,
        active: query.bool_filter("active")?,
    };
    let (sort, descending) = query.sort(&["created_at"])?;
    let (page, now) = state
        .sessions
        .list(&actor, filter, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/sessions");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |session| {
            (
                representation::session(session, now),
                session.id.to_string(),
            )
        },
    ))
}

/// `PATCH /api/sessions/{id}/touch` (no body needed).
pub async fn touch<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("sessions:write")?;
    let view = state.sessions.touch(&actor, session_id(&path)?).await?;
    let link = caller.url(&format!("/api/sessions/{}", view.session.id));
    Ok(respond(StatusCode::OK, &view, &link))
}

/// `PATCH /api/sessions/{id}/revoke` (no body needed; idempotent).
pub async fn revoke<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("sessions:write")?;
    let view = state.sessions.revoke(&actor, session_id(&path)?).await?;
    let link = caller.url(&format!("/api/sessions/{}", view.session.id));
    Ok(respond(StatusCode::OK, &view, &link))
}

/// `DELETE /api/sessions/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("sessions:delete")?;
    state.sessions.delete(&actor, session_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
