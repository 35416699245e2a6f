//! [`ResourceServerRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::oauth::{ResourceServer, Scope};
use portcullis_domain::{EnvironmentId, ResourceServerId, ScopeId};
use portcullis_ports::store::{Keyset, ResourceServerRepo, ScopeQuery, StoreError};

use super::DbTx;
use crate::conn::AnyConnection;
use crate::rows::resource_server::{
    NewResourceServerRow, ResourceServerChangeset, ResourceServerRow,
};
use crate::rows::scope::{NewScopeRow, ScopeChangeset, ScopeRow};
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
        if !super::storable(identifier) {
            return Ok(None);
        }
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

    #[tracing::instrument(level = "debug", skip_all, fields(resource_server_id = %id))]
    fn find_resource_server(
        &mut self,
        environment: EnvironmentId,
        id: ResourceServerId,
    ) -> Result<Option<ResourceServer>, StoreError> {
        let row = self.run(|conn| {
            resource_servers::table
                .filter(resource_servers::id.eq(id.to_string()))
                .filter(resource_servers::environment_id.eq(environment.to_string()))
                .select(ResourceServerRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ResourceServerRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(resource_server_id = %resource_server.id))]
    fn update_resource_server(
        &mut self,
        resource_server: &ResourceServer,
    ) -> Result<(), StoreError> {
        let changes = ResourceServerChangeset::from_domain(resource_server);
        let id = resource_server.id.to_string();
        let environment = resource_server.environment_id.to_string();
        let updated = self.guarded(|conn| {
            diesel::update(resource_servers::table)
                .filter(resource_servers::id.eq(&id))
                .filter(resource_servers::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(resource_server_id = %id))]
    fn delete_resource_server(
        &mut self,
        environment: EnvironmentId,
        id: ResourceServerId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(resource_servers::table)
                .filter(resource_servers::id.eq(id.to_string()))
                .filter(resource_servers::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_resource_servers(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<ResourceServer>, StoreError> {
        let select = resource_servers::table
            .filter(resource_servers::environment_id.eq(environment.to_string()))
            .select(ResourceServerRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, resource_servers::id, page);
        let rows = self.run(|conn| select.load::<ResourceServerRow>(conn))?;
        rows.into_iter()
            .map(ResourceServerRow::into_domain)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(scope_id = %id))]
    fn find_scope(
        &mut self,
        environment: EnvironmentId,
        id: ScopeId,
    ) -> Result<Option<Scope>, StoreError> {
        let row = self.run(|conn| {
            scopes::table
                .filter(scopes::id.eq(id.to_string()))
                .filter(scopes::environment_id.eq(environment.to_string()))
                .select(ScopeRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ScopeRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(scope_id = %scope.id))]
    fn update_scope(&mut self, scope: &Scope) -> Result<(), StoreError> {
        let changes = ScopeChangeset::from_domain(scope);
        let id = scope.id.to_string();
        let environment = scope.environment_id.to_string();
        let updated = self.guarded(|conn| {
            diesel::update(scopes::table)
                .filter(scopes::id.eq(&id))
                .filter(scopes::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(scope_id = %id))]
    fn delete_scope(
        &mut self,
        environment: EnvironmentId,
        id: ScopeId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(scopes::table)
                .filter(scopes::id.eq(id.to_string()))
                .filter(scopes::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_scopes(
        &mut self,
        environment: EnvironmentId,
        query: &ScopeQuery,
    ) -> Result<Vec<Scope>, StoreError> {
        let page = &query.page;
        let mut select = scopes::table
            .filter(scopes::environment_id.eq(environment.to_string()))
            .select(ScopeRow::as_select())
            .into_boxed();
        if let Some(resource_server) = query.resource_server {
            select = select.filter(scopes::resource_server_id.eq(resource_server.to_string()));
        }
        let select = id_keyset!(select, scopes::id, page);
        let rows = self.run(|conn| select.load::<ScopeRow>(conn))?;
        rows.into_iter().map(ScopeRow::into_domain).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(resource_server_id = %resource_server))]
    fn lock_scopes_of_resource_server(
        &mut self,
        environment: EnvironmentId,
        resource_server: ResourceServerId,
    ) -> Result<Vec<Scope>, StoreError> {
        let environment = environment.to_string();
        let resource_server = resource_server.to_string();
        // Built per backend: the select clause is typed by its backend.
        macro_rules! scopes {
            () => {
                scopes::table
                    .filter(scopes::environment_id.eq(&environment))
                    .filter(scopes::resource_server_id.eq(&resource_server))
                    .order(scopes::id.asc())
                    .select(ScopeRow::as_select())
            };
        }
        let rows = self.run(|conn| match conn {
            // `FOR UPDATE` only compiles on the inner connection. A scope
            // renamed or deleted by a transaction still open blocks this read
            // until it commits; the read then sees the scope as committed.
            AnyConnection::Postgres(pg) => scopes!().for_update().load(pg),
            // A SQLite write transaction (`BEGIN IMMEDIATE`) already holds
            // the database's only write lock.
            AnyConnection::Sqlite(_) => scopes!().load(conn),
        })?;
        rows.into_iter().map(ScopeRow::into_domain).collect()
    }
}
