//! [`ActionRepo`] on [`DbTx`], with keyset pagination in id order.

use diesel::prelude::*;
use portcullis_domain::action::{Action, ActionExecution, Trigger};
use portcullis_domain::{ActionExecutionId, ActionId, EnvironmentId};
use portcullis_ports::store::{ActionRepo, Keyset, StoreError};

use super::DbTx;
use crate::rows::action::{
    ActionChangeset, ActionExecutionRow, ActionRow, NewActionExecutionRow, NewActionRow,
};
use crate::schema::{action_executions, actions};

impl ActionRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(action_id = %action.id))]
    fn insert_action(&mut self, action: &Action) -> Result<(), StoreError> {
        let row = NewActionRow::from_domain(action);
        self.guarded(|conn| {
            diesel::insert_into(actions::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(action_id = %action.id))]
    fn update_action(&mut self, action: &Action) -> Result<(), StoreError> {
        let changes = ActionChangeset::from_domain(action);
        let id = action.id.to_string();
        let environment = action.environment_id.to_string();
        let updated = self.guarded(|conn| {
            diesel::update(actions::table)
                .filter(actions::id.eq(&id))
                .filter(actions::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(action_id = %id))]
    fn delete_action(
        &mut self,
        environment: EnvironmentId,
        id: ActionId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(actions::table)
                .filter(actions::id.eq(id.to_string()))
                .filter(actions::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(action_id = %id))]
    fn find_action(
        &mut self,
        environment: EnvironmentId,
        id: ActionId,
    ) -> Result<Option<Action>, StoreError> {
        let row = self.run(|conn| {
            actions::table
                .filter(actions::id.eq(id.to_string()))
                .filter(actions::environment_id.eq(environment.to_string()))
                .select(ActionRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ActionRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn find_action_by_trigger(
        &mut self,
        environment: EnvironmentId,
        trigger: Trigger,
    ) -> Result<Option<Action>, StoreError> {
        let row = self.run(|conn| {
            actions::table
                .filter(actions::environment_id.eq(environment.to_string()))
                .filter(actions::trigger.eq(trigger.as_str()))
                .select(ActionRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ActionRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_actions(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Action>, StoreError> {
        let select = actions::table
            .filter(actions::environment_id.eq(environment.to_string()))
            .select(ActionRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, actions::id, page);
        let rows = self.run(|conn| select.load::<ActionRow>(conn))?;
        rows.into_iter().map(ActionRow::into_domain).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(count = executions.len()))]
    fn insert_action_executions(
        &mut self,
        executions: &[ActionExecution],
    ) -> Result<(), StoreError> {
        for execution in executions {
            let row = NewActionExecutionRow::from_domain(execution);
            self.run(|conn| {
                diesel::insert_into(action_executions::table)
                    .values(&row)
                    .execute(conn)
            })?;
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(action_id = %action))]
    fn list_action_executions(
        &mut self,
        environment: EnvironmentId,
        action: ActionId,
        page: &Keyset,
    ) -> Result<Vec<ActionExecution>, StoreError> {
        let select = action_executions::table
            .filter(action_executions::action_id.eq(action.to_string()))
            .filter(action_executions::environment_id.eq(environment.to_string()))
            .select(ActionExecutionRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, action_executions::id, page);
        let rows = self.run(|conn| select.load::<ActionExecutionRow>(conn))?;
        rows.into_iter()
            .map(ActionExecutionRow::into_domain)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(execution_id = %id))]
    fn find_action_execution(
        &mut self,
        environment: EnvironmentId,
        action: ActionId,
        id: ActionExecutionId,
    ) -> Result<Option<ActionExecution>, StoreError> {
        let row = self.run(|conn| {
            action_executions::table
                .filter(action_executions::id.eq(id.to_string()))
                .filter(action_executions::action_id.eq(action.to_string()))
                .filter(action_executions::environment_id.eq(environment.to_string()))
                .select(ActionExecutionRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ActionExecutionRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(action_id = %action))]
    fn prune_action_executions(&mut self, action: ActionId, keep: u32) -> Result<u64, StoreError> {
        let action = action.to_string();
        // The id of the oldest run to keep; everything before it goes.
        let oldest_kept = self.run(|conn| {
            action_executions::table
                .filter(action_executions::action_id.eq(&action))
                .order(action_executions::id.desc())
                .offset(i64::from(keep.max(1)) - 1)
                .select(action_executions::id)
                .first::<String>(conn)
                .optional()
        })?;
        let Some(oldest_kept) = oldest_kept else {
            return Ok(0);
        };
        let deleted = self.run(|conn| {
            diesel::delete(action_executions::table)
                .filter(action_executions::action_id.eq(&action))
                .filter(action_executions::id.lt(&oldest_kept))
                .execute(conn)
        })?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }
}
