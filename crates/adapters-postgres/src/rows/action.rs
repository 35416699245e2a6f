//! `actions` and `action_executions` rows.

use diesel::prelude::*;
use portcullis_domain::action::{
    Action, ActionCode, ActionExecution, ActionName, ExecutionOutcome, Trigger,
};
use portcullis_domain::{ActionExecutionId, ActionId, EnvironmentId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::{action_executions, actions};

/// A stored action.
#[derive(Queryable, Selectable)]
#[diesel(table_name = actions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ActionRow {
    id: String,
    environment_id: String,
    name: String,
    trigger: String,
    code: String,
    enabled: bool,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl ActionRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Action, StoreError> {
        const T: &str = "actions";
        let parts = Action {
            id: parse_id(T, "id", &self.id, ActionId::parse)?,
            environment_id: parse_id(
                T,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            name: ActionName::parse(&self.name).map_err(|e| corrupt(T, "name", e))?,
            trigger: Trigger::parse(&self.trigger).map_err(|e| corrupt(T, "trigger", e))?,
            code: ActionCode::parse(&self.code).map_err(|e| corrupt(T, "code", e))?,
            enabled: self.enabled,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        Action::from_parts(parts).map_err(|e| corrupt(T, "updated_at", e))
    }
}

/// An action to insert.
#[derive(Insertable)]
#[diesel(table_name = actions)]
pub(crate) struct NewActionRow<'a> {
    id: String,
    environment_id: String,
    #[diesel(embed)]
    fields: ActionChangeset<'a>,
    created_at: PrimitiveDateTime,
}

impl<'a> NewActionRow<'a> {
    /// The row of `action`.
    pub(crate) fn from_domain(action: &'a Action) -> Self {
        Self {
            id: action.id.to_string(),
            environment_id: action.environment_id.to_string(),
            fields: ActionChangeset::from_domain(action),
            created_at: action.created_at.as_primitive(),
        }
    }
}

/// Every mutable column of an action.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = actions)]
pub(crate) struct ActionChangeset<'a> {
    name: &'a str,
    trigger: &'a str,
    code: &'a str,
    enabled: bool,
    updated_at: PrimitiveDateTime,
}

impl<'a> ActionChangeset<'a> {
    /// The mutable state of `action`.
    pub(crate) fn from_domain(action: &'a Action) -> Self {
        Self {
            name: action.name.as_str(),
            trigger: action.trigger.as_str(),
            code: action.code.as_str(),
            enabled: action.enabled,
            updated_at: action.updated_at.as_primitive(),
        }
    }
}

/// A stored run.
#[derive(Queryable, Selectable)]
#[diesel(table_name = action_executions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ActionExecutionRow {
    id: String,
    environment_id: String,
    action_id: String,
    outcome: String,
    duration_ms: i32,
    error: Option<String>,
    executed_at: PrimitiveDateTime,
}

impl ActionExecutionRow {
    /// The domain record.
    pub(crate) fn into_domain(self) -> Result<ActionExecution, StoreError> {
        const T: &str = "action_executions";
        Ok(ActionExecution {
            id: parse_id(T, "id", &self.id, ActionExecutionId::parse)?,
            environment_id: parse_id(
                T,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            action_id: parse_id(T, "action_id", &self.action_id, ActionId::parse)?,
            outcome: ExecutionOutcome::parse(&self.outcome)
                .map_err(|e| corrupt(T, "outcome", e))?,
            duration_ms: u32::try_from(self.duration_ms)
                .map_err(|e| corrupt(T, "duration_ms", e))?,
            error: self.error,
            executed_at: Timestamp::from_primitive(self.executed_at),
        })
    }
}

/// A run to insert.
#[derive(Insertable)]
#[diesel(table_name = action_executions)]
pub(crate) struct NewActionExecutionRow<'a> {
    id: String,
    environment_id: String,
    action_id: String,
    outcome: &'static str,
    duration_ms: i32,
    error: Option<&'a str>,
    executed_at: PrimitiveDateTime,
}

impl<'a> NewActionExecutionRow<'a> {
    /// The row of `execution`.
    pub(crate) fn from_domain(execution: &'a ActionExecution) -> Self {
        Self {
            id: execution.id.to_string(),
            environment_id: execution.environment_id.to_string(),
            action_id: execution.action_id.to_string(),
            outcome: execution.outcome.as_str(),
            duration_ms: i32::try_from(execution.duration_ms).unwrap_or(i32::MAX),
            error: execution.error.as_deref(),
            executed_at: execution.executed_at.as_primitive(),
        }
    }
}
