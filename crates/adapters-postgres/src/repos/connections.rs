//! [`ConnectionRepo`] on [`DbTx`], with keyset pagination in id order.

use diesel::prelude::*;
use portcullis_domain::connection::Connection;
use portcullis_domain::{ConnectionId, EnvironmentId};
use portcullis_ports::store::{ConnectionRepo, Keyset, StoreError};

use super::DbTx;
use crate::rows::connection::{ConnectionChangeset, ConnectionRow, NewConnectionRow};
use crate::schema::connections;

impl ConnectionRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(connection_id = %connection.id))]
    fn insert_connection(&mut self, connection: &Connection) -> Result<(), StoreError> {
        let row = NewConnectionRow::from_domain(connection);
        self.guarded(|conn| {
            diesel::insert_into(connections::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(connection_id = %connection.id))]
    fn update_connection(&mut self, connection: &Connection) -> Result<(), StoreError> {
        let changes = ConnectionChangeset::from_domain(connection);
        let id = connection.id.to_string();
        let environment = connection.environment_id.to_string();
        let updated = self.guarded(|conn| {
            diesel::update(connections::table)
                .filter(connections::id.eq(&id))
                .filter(connections::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(connection_id = %id))]
    fn delete_connection(
        &mut self,
        environment: EnvironmentId,
        id: ConnectionId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(connections::table)
                .filter(connections::id.eq(id.to_string()))
                .filter(connections::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(connection_id = %id))]
    fn find_connection(
        &mut self,
        environment: EnvironmentId,
        id: ConnectionId,
    ) -> Result<Option<Connection>, StoreError> {
        let row = self.run(|conn| {
            connections::table
                .filter(connections::id.eq(id.to_string()))
                .filter(connections::environment_id.eq(environment.to_string()))
                .select(ConnectionRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(ConnectionRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_connections(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Connection>, StoreError> {
        let select = connections::table
            .filter(connections::environment_id.eq(environment.to_string()))
            .select(ConnectionRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, connections::id, page);
        let rows = self.run(|conn| select.load::<ConnectionRow>(conn))?;
        rows.into_iter().map(ConnectionRow::into_domain).collect()
    }
}
