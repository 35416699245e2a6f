//! [`EnvironmentRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::environment::Environment;
use portcullis_ports::store::{EnvironmentRepo, StoreError};

use super::DbTx;
use crate::rows::environment::{EnvironmentRow, NewEnvironmentRow};
use crate::schema::environments;

impl EnvironmentRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment.id))]
    fn insert_environment(&mut self, environment: &Environment) -> Result<(), StoreError> {
        let row = NewEnvironmentRow::from_domain(environment);
        self.guarded(|conn| {
            diesel::insert_into(environments::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    fn find_environment_by_slug(&mut self, slug: &str) -> Result<Option<Environment>, StoreError> {
        if !super::storable(slug) {
            return Ok(None);
        }
        let row = self.run(|conn| {
            environments::table
                .filter(environments::slug.eq(slug))
                .select(EnvironmentRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(EnvironmentRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    fn list_environments(&mut self) -> Result<Vec<Environment>, StoreError> {
        let rows = self.run(|conn| {
            environments::table
                .order((environments::created_at.asc(), environments::id.asc()))
                .select(EnvironmentRow::as_select())
                .load(conn)
        })?;
        rows.into_iter().map(EnvironmentRow::into_domain).collect()
    }
}
