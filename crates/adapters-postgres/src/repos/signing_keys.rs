//! [`SigningKeyRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::signing_key::{KeyStatus, SigningKey};
use portcullis_domain::{EnvironmentId, SigningKeyId};
use portcullis_ports::store::{Keyset, SigningKeyRepo, StoreError};

use super::DbTx;
use crate::conn::AnyConnection;
use crate::rows::signing_key::{NewSigningKeyRow, SigningKeyChangeset, SigningKeyRow};
use crate::schema::{environments, signing_keys};

impl SigningKeyRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(signing_key_id = %key.id))]
    fn insert_signing_key(&mut self, key: &SigningKey) -> Result<(), StoreError> {
        let row = NewSigningKeyRow::from_domain(key);
        self.guarded(|conn| {
            diesel::insert_into(signing_keys::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(signing_key_id = %key.id))]
    fn update_signing_key(&mut self, key: &SigningKey) -> Result<(), StoreError> {
        let changes = SigningKeyChangeset::from_domain(key);
        let updated = self.run(|conn| {
            diesel::update(signing_keys::table)
                .filter(signing_keys::id.eq(key.id.to_string()))
                .filter(signing_keys::environment_id.eq(key.environment_id.to_string()))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(signing_key_id = %id))]
    fn delete_signing_key(
        &mut self,
        environment: EnvironmentId,
        id: SigningKeyId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(signing_keys::table)
                .filter(signing_keys::id.eq(id.to_string()))
                .filter(signing_keys::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn lock_signing_keys(
        &mut self,
        environment: EnvironmentId,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let environment = environment.to_string();
        // Built per backend: the select clause is typed by its backend.
        macro_rules! all_keys {
            () => {
                signing_keys::table
                    .filter(signing_keys::environment_id.eq(&environment))
                    .order((signing_keys::created_at.asc(), signing_keys::id.asc()))
                    .select(SigningKeyRow::as_select())
            };
        }
        let rows = self.run(|conn| match conn {
            // Concurrent rotations of one environment must serialize, and
            // the second must see the keys the first inserted. Locking only
            // the key rows would not do: in READ COMMITTED a blocked
            // `SELECT … FOR UPDATE` returns the rows of its own snapshot,
            // without keys committed meanwhile. So the environment row is
            // locked first (`FOR NO KEY UPDATE`, which does not block the
            // foreign-key checks of other inserts into the environment), and
            // the keys are read by a later statement, with a fresh snapshot.
            // Both locks only compile on the inner connection.
            AnyConnection::Postgres(pg) => {
                environments::table
                    .filter(environments::id.eq(&environment))
                    .select(environments::id)
                    .for_no_key_update()
                    .load::<String>(pg)?;
                all_keys!().for_update().load(pg)
            }
            // A SQLite write transaction (`BEGIN IMMEDIATE`) already holds
            // the database's only write lock.
            AnyConnection::Sqlite(_) => all_keys!().load(conn),
        })?;
        rows.into_iter().map(SigningKeyRow::into_domain).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_signing_keys(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let select = signing_keys::table
            .filter(signing_keys::environment_id.eq(environment.to_string()))
            .select(SigningKeyRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, signing_keys::id, page);
        let rows = self.run(|conn| select.load::<SigningKeyRow>(conn))?;
        rows.into_iter().map(SigningKeyRow::into_domain).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_active_signing_keys(
        &mut self,
        environment: EnvironmentId,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let rows = self.run(|conn| {
            signing_keys::table
                .filter(signing_keys::environment_id.eq(environment.to_string()))
                .filter(signing_keys::status.eq(KeyStatus::Active.as_str()))
                .order((signing_keys::created_at.desc(), signing_keys::id.desc()))
                .select(SigningKeyRow::as_select())
                .load(conn)
        })?;
        rows.into_iter().map(SigningKeyRow::into_domain).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(signing_key_id = %id))]
    fn find_signing_key(
        &mut self,
        environment: EnvironmentId,
        id: SigningKeyId,
    ) -> Result<Option<SigningKey>, StoreError> {
        let row = self.run(|conn| {
            signing_keys::table
                .filter(signing_keys::id.eq(id.to_string()))
                .filter(signing_keys::environment_id.eq(environment.to_string()))
                .select(SigningKeyRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(SigningKeyRow::into_domain).transpose()
    }
}
