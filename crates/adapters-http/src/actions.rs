//! `/api/actions`: JavaScript actions, one per trigger, and
//! `/api/actions/{id}/executions`, the record of their runs (most recent
//! first unless `sort=executed_at`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::actions::{
    ActionLookupError, CreateAction, CreateActionError, UpdateAction, UpdateActionError,
};
use portcullis_application::representation;
use portcullis_domain::action::Trigger;
use portcullis_domain::{ActionExecutionId, ActionId};
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Attributes, Expect, read_resource, resource_response};
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const WRITABLE: [&str; 4] = ["name", "trigger", "code", "enabled"];
const READ_ONLY: [&str; 2] = ["created_at", "updated_at"];

fn action_id(raw: &str) -> Result<ActionId, ApiError> {
    ActionId::parse(raw).map_err(|_| ApiError::not_found(format!("no action with id `{raw}`")))
}

fn not_found() -> ApiError {
    ApiError::not_found("no such action")
}

fn trigger_taken(trigger: Trigger) -> ApiError {
    ApiError::conflict(
        "action_trigger_taken",
        format!(
            "the environment already has an action for trigger {}",
            trigger.as_str()
        ),
    )
    .at("/data/attributes/trigger")
}

impl From<CreateActionError> for ApiError {
    fn from(error: CreateActionError) -> Self {
        match error {
            CreateActionError::Invalid(list) => violations(list),
            CreateActionError::TriggerTaken(trigger) => trigger_taken(trigger),
            CreateActionError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateActionError> for ApiError {
    fn from(error: UpdateActionError) -> Self {
        match error {
            UpdateActionError::NotFound => not_found(),
            UpdateActionError::Invalid(list) => violations(list),
            UpdateActionError::TriggerTaken(trigger) => trigger_taken(trigger),
            UpdateActionError::Store(store) => store.into(),
        }
    }
}

impl From<ActionLookupError> for ApiError {
    fn from(error: ActionLookupError) -> Self {
        match error {
            ActionLookupError::NotFound => not_found(),
            ActionLookupError::Store(store) => store.into(),
        }
    }
}

/// Refuses read-only, unknown and `null` members.
fn check_members(attributes: &Attributes) -> Result<(), ApiError> {
    attributes.writable(&READ_ONLY, &WRITABLE, &WRITABLE)
}

fn respond(
    status: StatusCode,
    caller_url: &str,
    action: &portcullis_domain::action::Action,
) -> HttpResponse {
    resource_response(status, representation::action(action), caller_url)
}

/// `POST /api/actions`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("actions:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "action", Expect::Create, false)?;
    check_members(&attributes)?;
    let command = CreateAction {
        name: attributes.string("name")?,
        trigger: attributes.string("trigger")?,
        code: attributes.string("code")?,
        enabled: attributes.boolean("enabled")?,
    };
    let action = state.actions.create(&actor, command).await?;
    let link = caller.url(&format!("/api/actions/{}", action.id));
    Ok(respond(StatusCode::CREATED, &link, &action))
}

/// `GET /api/actions/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("actions:read")?;
    let action = state.actions.get(&actor, action_id(&path)?).await?;
    let link = caller.url(&format!("/api/actions/{}", action.id));
    Ok(respond(StatusCode::OK, &link, &action))
}

/// `GET /api/actions`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("actions:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .actions
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/actions");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |action| (representation::action(action), action.id.to_string()),
    ))
}

/// `PATCH /api/actions/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("actions:write")?;
    let id = action_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "action", Expect::Update(&path), false)?;
    check_members(&attributes)?;
    let command = UpdateAction {
        name: attributes.string("name")?,
        trigger: attributes.string("trigger")?,
        code: attributes.string("code")?,
        enabled: attributes.boolean("enabled")?,
    };
    let action = state.actions.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/actions/{}", action.id));
    Ok(respond(StatusCode::OK, &link, &action))
}

/// `DELETE /api/actions/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("actions:delete")?;
    state.actions.delete(&actor, action_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/actions/{id}/executions/{execution_id}`.
pub async fn execution<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("actions:read")?;
    let (action, execution) = path.into_inner();
    let action = action_id(&action)?;
    let id = ActionExecutionId::parse(&execution)
        .map_err(|_| ApiError::not_found(format!("no execution with id `{execution}`")))?;
    let found = state.actions.execution(&actor, action, id).await?;
    let link = caller.url(&format!("/api/actions/{action}/executions/{id}"));
    Ok(resource_response(
        StatusCode::OK,
        representation::action_execution(&found),
        &link,
    ))
}

/// `GET /api/actions/{id}/executions`: most recent first by default.
pub async fn executions<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("actions:read")?;
    let id = action_id(&path)?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, ascending_unless_asked) = query.sort(&["executed_at"])?;
    let descending = query.get("sort").is_none() || ascending_unless_asked;
    let page = state
        .actions
        .executions(&actor, id, query.page(sort, descending)?)
        .await?;
    let base = caller.url(&format!("/api/actions/{id}/executions"));
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |execution| {
            (
                representation::action_execution(execution),
                execution.id.to_string(),
            )
        },
    ))
}
