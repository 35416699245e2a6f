//! [`ResourceServerRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::EnvironmentId;
use portcullis_domain::oauth::{ResourceServer, Scope};
use portcullis_ports::store::{ResourceServerRepo, StoreError};

use super::DbTx;
use crate::rows::resource_server::{NewResourceServerRow, ResourceServerRow};
use crate::rows::scope::NewScopeRow;
use crate::schema::{resource_servers, scopes};

impl ResourceServerRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %resource_server.environment_id))]
    fn insert_resource_server(
        &mut self,
        resource_server: &ResourceServer,
    ) -> Result<(), StoreError> {
        let row = NewResourceServerRow::from_domain(resource_server);
        self.guarded(|conn| {
            diesel::insert_into(resource_servers::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn find_resource_server_by_identifier(
        &mut self,
        environment: EnvironmentId,
        identifier: &str,
    ) -> Result<Option<ResourceServer>, StoreError> {
        let row = self.run(|conn| {
            resource_servers::table
                .filter(resource_servers::environment_id.eq(environment.to_string()))
                .filter(resource_servers::identifier.eq(identifier))
                .select(ResourceServerRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ResourceServerRow::into_domain).transpose()
    }

    fn find_system_resource_server(
        &mut self,
        environment: EnvironmentId,
    ) -> Result<Option<ResourceServer>, StoreError> {
        let row = self.run(|conn| {
            resource_servers::table
                .filter(resource_servers::environment_id.eq(environment.to_string()))
                .filter(resource_servers::is_system.eq(true))
                .order(resource_servers::id.asc())
                .select(ResourceServerRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ResourceServerRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(count = scopes.len()))]
    fn insert_scopes(&mut self, scopes: &[Scope]) -> Result<(), StoreError> {
        let rows: Vec<NewScopeRow<'_>> = scopes.iter().map(NewScopeRow::from_domain).collect();
        // One statement per scope: a multi-row insert does not compile on the
        // two-backend connection. The savepoint covers them all, so a
        // conflict on any scope inserts none.
        self.guarded(|conn| {
            for row in &rows {
                diesel::insert_into(scopes::table)
                    .values(row)
                    .execute(conn)?;
            }
            Ok(())
        })
    }
}
