//! [`SessionRepo`] on [`DbTx`], with filters (the `active` one evaluated
//! against the query's `now`) and keyset pagination in id order.

use diesel::prelude::*;
use portcullis_domain::session::Session;
use portcullis_domain::{EnvironmentId, SessionId, Timestamp, UserId};
use portcullis_ports::store::{SessionQuery, SessionRepo, StoreError};

use super::DbTx;
use crate::rows::session::{SessionChangeset, SessionRow};
use crate::schema::sessions;

impl SessionRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %session.id))]
    fn insert_session(&mut self, session: &Session) -> Result<(), StoreError> {
        let row = SessionRow::from_domain(session);
        self.guarded(|conn| {
            diesel::insert_into(sessions::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %session.id))]
    fn update_session(&mut self, session: &Session) -> Result<(), StoreError> {
        let changes = SessionChangeset::from_domain(session);
        let id = session.id.to_string();
        let environment = session.environment_id.to_string();
        let updated = self.run(|conn| {
            diesel::update(sessions::table)
                .filter(sessions::id.eq(&id))
                .filter(sessions::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %id))]
    fn delete_session(
        &mut self,
        environment: EnvironmentId,
        id: SessionId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(sessions::table)
                .filter(sessions::id.eq(id.to_string()))
                .filter(sessions::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %id))]
    fn find_session(
        &mut self,
        environment: EnvironmentId,
        id: SessionId,
    ) -> Result<Option<Session>, StoreError> {
        let row = self.run(|conn| {
            sessions::table
                .filter(sessions::id.eq(id.to_string()))
                .filter(sessions::environment_id.eq(environment.to_string()))
                .select(SessionRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(SessionRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_sessions(
        &mut self,
        environment: EnvironmentId,
        query: &SessionQuery,
    ) -> Result<Vec<Session>, StoreError> {
        let page = &query.page;
        let now = query.now.as_primitive();
        let mut select = sessions::table
            .filter(sessions::environment_id.eq(environment.to_string()))
            .select(SessionRow::as_select())
            .into_boxed();
        if let Some(user) = query.user {
            select = select.filter(sessions::user_id.eq(user.to_string()));
        }
        match query.active {
            Some(true) => {
                select = select
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::expires_at.gt(now));
            }
            Some(false) => {
                select = select.filter(
                    sessions::revoked_at
                        .is_not_null()
                        .or(sessions::expires_at.le(now)),
                );
            }
            None => {}
        }
        let select = id_keyset!(select, sessions::id, page);
        let rows = self.run(|conn| select.load::<SessionRow>(conn))?;
        rows.into_iter().map(SessionRow::into_domain).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user))]
    fn revoke_sessions_of_user(
        &mut self,
        environment: EnvironmentId,
        user: UserId,
        at: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        let environment = environment.to_string();
        let user = user.to_string();
        let rows = self.run(|conn| {
            sessions::table
                .filter(sessions::environment_id.eq(&environment))
                .filter(sessions::user_id.eq(&user))
                .filter(sessions::revoked_at.is_null())
                .order(sessions::id.asc())
                .select(SessionRow::as_select())
                .load::<SessionRow>(conn)
        })?;
        let mut revoked = rows
            .into_iter()
            .map(SessionRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<String> = revoked.iter().map(|s| s.id.to_string()).collect();
        if ids.is_empty() {
            return Ok(revoked);
        }
        self.run(|conn| {
            diesel::update(sessions::table)
                .filter(sessions::id.eq_any(&ids))
                .filter(sessions::revoked_at.is_null())
                .set(sessions::revoked_at.eq(Some(at.as_primitive())))
                .execute(conn)
        })?;
        for session in &mut revoked {
            session.revoke(at);
        }
        Ok(revoked)
    }
}
