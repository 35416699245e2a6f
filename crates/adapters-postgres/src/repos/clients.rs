//! [`ClientRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::oauth::Client;
use portcullis_domain::{ClientId, EnvironmentId};
use portcullis_ports::store::{ClientRepo, Keyset, StoreError};

use super::DbTx;
use crate::rows::client::{ClientChangeset, ClientRow, NewClientRow};
use crate::schema::clients;

impl ClientRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %client.environment_id))]
    fn insert_client(&mut self, client: &Client) -> Result<(), StoreError> {
        let row = NewClientRow::from_domain(client);
        self.guarded(|conn| {
            diesel::insert_into(clients::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn find_client_by_client_id(
        &mut self,
        environment: EnvironmentId,
        client_id: &str,
    ) -> Result<Option<Client>, StoreError> {
        if !super::storable(client_id) {
            return Ok(None);
        }
        let row = self.run(|conn| {
            clients::table
                .filter(clients::environment_id.eq(environment.to_string()))
                .filter(clients::client_id.eq(client_id))
                .select(ClientRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ClientRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client = %id))]
    fn find_client(
        &mut self,
        environment: EnvironmentId,
        id: ClientId,
    ) -> Result<Option<Client>, StoreError> {
        let row = self.run(|conn| {
            clients::table
                .filter(clients::id.eq(id.to_string()))
                .filter(clients::environment_id.eq(environment.to_string()))
                .select(ClientRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ClientRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client = %client.id))]
    fn update_client(&mut self, client: &Client) -> Result<(), StoreError> {
        let changes = ClientChangeset::from_domain(client);
        let id = client.id.to_string();
        let environment = client.environment_id.to_string();
        let updated = self.guarded(|conn| {
            diesel::update(clients::table)
                .filter(clients::id.eq(&id))
                .filter(clients::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client = %id))]
    fn delete_client(
        &mut self,
        environment: EnvironmentId,
        id: ClientId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(clients::table)
                .filter(clients::id.eq(id.to_string()))
                .filter(clients::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_clients(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Client>, StoreError> {
        let select = clients::table
            .filter(clients::environment_id.eq(environment.to_string()))
            .select(ClientRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, clients::id, page);
        let rows = self.run(|conn| select.load::<ClientRow>(conn))?;
        rows.into_iter().map(ClientRow::into_domain).collect()
    }
}
