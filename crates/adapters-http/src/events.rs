//! `/api/events` (+): the audit trail, read only, filtered by `type`,
//! `resource_id` and `since`; and `/api/event-types` (+): the catalog of
//! every event the server emits, with the JSON Schema of its `data`. Both
//! need `events:read`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::event_types;
use portcullis_application::events::{self, EventFilter, EventLookupError};
use portcullis_application::representation;
use portcullis_domain::{EventId, Timestamp};
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

pub(crate) const FILTERS: [&str; 3] = ["type", "resource_id", "since"];
/// Events are in the order they occurred: both names sort by it.
pub(crate) const SORTS: [&str; 2] = ["occurred_at", "created_at"];

impl From<EventLookupError> for ApiError {
    fn from(error: EventLookupError) -> Self {
        match error {
            EventLookupError::NotFound => ApiError::not_found("no such event"),
            EventLookupError::Store(store) => store.into(),
        }
    }
}

fn bad_filter(name: &str, detail: String) -> ApiError {
    ApiError::bad_request("invalid_filter", detail).param(format!("filter[{name}]"))
}

/// `GET /api/events`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("events:read")?;
    let query = ListQuery::parse(request.query_string(), &FILTERS)?;
    let event_type = query
        .filter("type")
        .map(|raw| {
            event_types::find(raw)
                .map(|e| e.name.to_owned())
                .ok_or_else(|| {
                    bad_filter(
                        "type",
                        format!("`{raw}` is not an event type (see /api/event-types)"),
                    )
                })
        })
        .transpose()?;
    let since = query
        .filter("since")
        .map(|raw| {
            Timestamp::parse_rfc3339(raw).map_err(|_| {
                bad_filter(
                    "since",
                    "filter[since] must be an RFC 3339 date-time".into(),
                )
            })
        })
        .transpose()?;
    let filter = EventFilter {
        event_type,
        resource_id: query.filter("resource_id").map(str::to_owned),
        since,
    };
    let (sort, descending) = query.sort(&SORTS)?;
    let page = state
        .events
        .list(&actor, filter, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/events");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |event| (representation::event(event), event.id.to_string()),
    ))
}

/// `GET /api/events/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("events:read")?;
    let id = EventId::parse(&path)
        .map_err(|_| ApiError::not_found(format!("no event with id `{path}`")))?;
    let event = state.events.get(&actor, id).await?;
    let link = caller.url(&format!("/api/events/{}", event.id));
    Ok(crate::jsonapi::resource_response(
        StatusCode::OK,
        representation::event(&event),
        &link,
    ))
}

/// `GET /api/event-types`: the catalog, in its order (by resource type).
pub async fn list_types<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    caller.require("events:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["name"])?;
    let params = query.page(sort, descending)?;
    let page = events::event_types(&params).map_err(|_| {
        ApiError::bad_request(
            "invalid_cursor",
            "page[after] is not a cursor of this listing",
        )
        .param("page[after]")
    })?;
    let base = caller.url("/api/event-types");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |event_type| {
            (
                representation::event_type(event_type),
                event_type.name.to_owned(),
            )
        },
    ))
}

/// `GET /api/event-types/{name}`.
pub async fn get_type<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    caller.require("events:read")?;
    let event_type = events::event_type(&path)
        .map_err(|_| ApiError::not_found(format!("no event type `{path}`")))?;
    let link = caller.url(&format!("/api/event-types/{}", event_type.name));
    Ok(crate::jsonapi::resource_response(
        StatusCode::OK,
        representation::event_type(event_type),
        &link,
    ))
}
