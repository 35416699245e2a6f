//! [`ClientGrantRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::oauth::{Client, ClientGrant, ResourceServer};
use portcullis_domain::{ClientGrantId, ClientId, EnvironmentId, ResourceServerId};
use portcullis_ports::store::{ClientGrantQuery, ClientGrantRepo, StoreError};

use super::DbTx;
use crate::conn::AnyConnection;
use crate::rows::client::ClientRow;
use crate::rows::client_grant::{ClientGrantRow, NewClientGrantRow};
use crate::rows::json_array;
use crate::rows::resource_server::ResourceServerRow;
use crate::schema::{client_grants, clients, resource_servers};

impl ClientGrantRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %grant.environment_id))]
    fn insert_client_grant(&mut self, grant: &ClientGrant) -> Result<(), StoreError> {
        let row = NewClientGrantRow::from_domain(grant);
        self.guarded(|conn| {
            diesel::insert_into(client_grants::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn find_client_grant(
        &mut self,
        environment: EnvironmentId,
        client: ClientId,
        resource_server: ResourceServerId,
    ) -> Result<Option<ClientGrant>, StoreError> {
        let row = self.run(|conn| {
            client_grants::table
                .filter(client_grants::environment_id.eq(environment.to_string()))
                .filter(client_grants::client_id.eq(client.to_string()))
                .filter(client_grants::resource_server_id.eq(resource_server.to_string()))
                .select(ClientGrantRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ClientGrantRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn find_client_with_grant(
        &mut self,
        environment: EnvironmentId,
        client_id: &str,
        identifier: &str,
    ) -> Result<Option<(Client, ResourceServer, ClientGrant)>, StoreError> {
        let row = self.run(|conn| {
            client_grants::table
                .inner_join(clients::table)
                .inner_join(resource_servers::table)
                .filter(clients::environment_id.eq(environment.to_string()))
                .filter(clients::client_id.eq(client_id))
                .filter(resource_servers::environment_id.eq(environment.to_string()))
                .filter(resource_servers::identifier.eq(identifier))
                .select((
                    ClientRow::as_select(),
                    ResourceServerRow::as_select(),
                    ClientGrantRow::as_select(),
                ))
                .first::<(ClientRow, ResourceServerRow, ClientGrantRow)>(conn)
                .optional()
        })?;
        row.map(|(client, server, grant)| {
            Ok((
                client.into_domain()?,
                server.into_domain()?,
                grant.into_domain()?,
            ))
        })
        .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(resource_server_id = %resource_server))]
    fn lock_client_grants_of_resource_server(
        &mut self,
        environment: EnvironmentId,
        resource_server: ResourceServerId,
    ) -> Result<Vec<ClientGrant>, StoreError> {
        let environment = environment.to_string();
        let resource_server = resource_server.to_string();
        // Built per backend: the select clause is typed by its backend.
        macro_rules! grants {
            () => {
                client_grants::table
                    .filter(client_grants::environment_id.eq(&environment))
                    .filter(client_grants::resource_server_id.eq(&resource_server))
                    .order(client_grants::id.asc())
                    .select(ClientGrantRow::as_select())
            };
        }
        let rows = self.run(|conn| match conn {
            // `FOR UPDATE` only compiles on the inner connection.
            AnyConnection::Postgres(pg) => grants!().for_update().load(pg),
            // A SQLite write transaction (`BEGIN IMMEDIATE`) already holds
            // the database's only write lock.
            AnyConnection::Sqlite(_) => grants!().load(conn),
        })?;
        rows.into_iter().map(ClientGrantRow::into_domain).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client_grant_id = %grant.id))]
    fn update_client_grant_scopes(&mut self, grant: &ClientGrant) -> Result<(), StoreError> {
        let allowed = json_array(grant.allowed_scopes.iter().map(String::as_str));
        let id = grant.id.to_string();
        let environment = grant.environment_id.to_string();
        let updated = self.run(|conn| {
            diesel::update(client_grants::table)
                .filter(client_grants::id.eq(&id))
                .filter(client_grants::environment_id.eq(&environment))
                .set(client_grants::allowed_scopes.eq(&allowed))
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client_grant_id = %id))]
    fn find_client_grant_by_id(
        &mut self,
        environment: EnvironmentId,
        id: ClientGrantId,
    ) -> Result<Option<ClientGrant>, StoreError> {
        let row = self.run(|conn| {
            client_grants::table
                .filter(client_grants::id.eq(id.to_string()))
                .filter(client_grants::environment_id.eq(environment.to_string()))
                .select(ClientGrantRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ClientGrantRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client_grant_id = %id))]
    fn delete_client_grant(
        &mut self,
        environment: EnvironmentId,
        id: ClientGrantId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(client_grants::table)
                .filter(client_grants::id.eq(id.to_string()))
                .filter(client_grants::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_client_grants(
        &mut self,
        environment: EnvironmentId,
        query: &ClientGrantQuery,
    ) -> Result<Vec<ClientGrant>, StoreError> {
        let page = &query.page;
        let mut select = client_grants::table
            .filter(client_grants::environment_id.eq(environment.to_string()))
            .select(ClientGrantRow::as_select())
            .into_boxed();
        if let Some(client) = query.client {
            select = select.filter(client_grants::client_id.eq(client.to_string()));
        }
        if let Some(resource_server) = query.resource_server {
            select =
                select.filter(client_grants::resource_server_id.eq(resource_server.to_string()));
        }
        let select = id_keyset!(select, client_grants::id, page);
        let rows = self.run(|conn| select.load::<ClientGrantRow>(conn))?;
        rows.into_iter().map(ClientGrantRow::into_domain).collect()
    }
}
