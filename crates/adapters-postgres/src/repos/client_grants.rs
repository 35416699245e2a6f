//! [`ClientGrantRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::oauth::{Client, ClientGrant, ResourceServer};
use portcullis_domain::{ClientId, EnvironmentId, ResourceServerId};
use portcullis_ports::store::{ClientGrantRepo, StoreError};

use super::DbTx;
use crate::rows::client::ClientRow;
use crate::rows::client_grant::{ClientGrantRow, NewClientGrantRow};
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
}
