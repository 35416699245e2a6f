//! [`ClientRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::EnvironmentId;
use portcullis_domain::oauth::Client;
use portcullis_ports::store::{ClientRepo, StoreError};

use super::DbTx;
use crate::rows::client::{ClientRow, NewClientRow};
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
}
