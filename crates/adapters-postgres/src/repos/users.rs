//! [`UserRepo`] on [`DbTx`], with keyset pagination for listings.

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use portcullis_domain::user::User;
use portcullis_domain::{EnvironmentId, UserId};
use portcullis_ports::store::{StoreError, UserQuery, UserRepo, UserSort};

use super::DbTx;
use crate::conn::AnyConnection;
use crate::rows::user::{NewUserRow, UserChangeset, UserRow};
use crate::schema::users;

diesel::define_sql_function! {
    /// SQL `lower()`: ASCII-only on SQLite, locale-aware on PostgreSQL.
    fn lower(text: Nullable<Text>) -> Nullable<Text>;
}

/// The `LIKE` pattern matching `term` anywhere, with `\` as the escape
/// character: `%`, `_` and `\` in the term match themselves.
fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl UserRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user.id()))]
    fn insert_user(&mut self, user: &User) -> Result<(), StoreError> {
        let row = NewUserRow::from_domain(user);
        self.guarded(|conn| diesel::insert_into(users::table).values(&row).execute(conn))?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user.id()))]
    fn update_user(&mut self, user: &User) -> Result<(), StoreError> {
        let changes = UserChangeset::from_domain(user);
        let id = user.id().to_string();
        let environment = user.environment_id().to_string();
        let updated = self.guarded(|conn| {
            diesel::update(users::table)
                .filter(users::id.eq(&id))
                .filter(users::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
    fn delete_user(&mut self, environment: EnvironmentId, id: UserId) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(users::table)
                .filter(users::id.eq(id.to_string()))
                .filter(users::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
    fn lock_user(
        &mut self,
        environment: EnvironmentId,
        id: UserId,
    ) -> Result<Option<User>, StoreError> {
        let (id, environment) = (id.to_string(), environment.to_string());
        macro_rules! the_user {
            () => {
                users::table
                    .filter(users::id.eq(&id))
                    .filter(users::environment_id.eq(&environment))
                    .select(UserRow::as_select())
            };
        }
        let row = self.run(|conn| match conn {
            // `FOR NO KEY UPDATE` waits for a concurrent update of the user
            // (blocking it) and then reads its committed state, without
            // blocking the foreign-key checks of inserts that refer to it.
            // It only compiles on the inner connection.
            AnyConnection::Postgres(pg) => the_user!().for_no_key_update().first(pg).optional(),
            // SQLite write transactions are serial (`BEGIN IMMEDIATE`).
            AnyConnection::Sqlite(_) => the_user!().first(conn).optional(),
        })?;
        row.map(UserRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
    fn find_user(
        &mut self,
        environment: EnvironmentId,
        id: UserId,
    ) -> Result<Option<User>, StoreError> {
        let row = self.run(|conn| {
            users::table
                .filter(users::id.eq(id.to_string()))
                .filter(users::environment_id.eq(environment.to_string()))
                .select(UserRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(UserRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn find_user_by_email(
        &mut self,
        environment: EnvironmentId,
        email: &portcullis_domain::user::Email,
    ) -> Result<Option<User>, StoreError> {
        // The domain lower-cases e-mails, so the unique key's exact match
        // is a case-insensitive one.
        let row = self.run(|conn| {
            users::table
                .filter(users::environment_id.eq(environment.to_string()))
                .filter(users::email.eq(email.as_str()))
                .select(UserRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(UserRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_users(
        &mut self,
        environment: EnvironmentId,
        query: &UserQuery,
    ) -> Result<Vec<User>, StoreError> {
        let texts = [
            query.email.as_deref(),
            query.search.as_deref(),
            query.page.after.as_deref(),
        ];
        if texts.into_iter().flatten().any(|t| !super::storable(t)) {
            return Ok(Vec::new());
        }
        let mut select = users::table
            .filter(users::environment_id.eq(environment.to_string()))
            .select(UserRow::as_select())
            .into_boxed();
        if let Some(email) = &query.email {
            select = select.filter(users::email.eq(email.clone()));
        }
        if let Some(blocked) = query.blocked {
            select = select.filter(users::blocked.eq(blocked));
        }
        if let Some(term) = query.search.as_deref().filter(|term| !term.is_empty()) {
            // `lower(column) LIKE lower(pattern)` rather than ILIKE, which
            // SQLite lacks; the pattern is bound, never spliced into SQL.
            let pattern = contains_pattern(term);
            select = select.filter(
                lower(users::email.nullable())
                    .like(lower(pattern.clone()))
                    .escape('\\')
                    .or(lower(users::first_name)
                        .like(lower(pattern.clone()))
                        .escape('\\'))
                    .or(lower(users::last_name).like(lower(pattern)).escape('\\')),
            );
        }
        // Keyset pagination: `after` is the sort key of the previous page's
        // last row. Ids are ULIDs, so id order is creation order; e-mail is
        // unique per environment, so it is a full key on its own.
        let after = query.page.after.clone();
        select = match (query.sort, query.page.descending) {
            (UserSort::CreatedAt, false) => {
                if let Some(after) = after {
                    select = select.filter(users::id.gt(after));
                }
                select.order(users::id.asc())
            }
            (UserSort::CreatedAt, true) => {
                if let Some(after) = after {
                    select = select.filter(users::id.lt(after));
                }
                select.order(users::id.desc())
            }
            (UserSort::Email, false) => {
                if let Some(after) = after {
                    select = select.filter(users::email.gt(after));
                }
                select.order(users::email.asc())
            }
            (UserSort::Email, true) => {
                if let Some(after) = after {
                    select = select.filter(users::email.lt(after));
                }
                select.order(users::email.desc())
            }
        };
        let rows = self.run(|conn| {
            select
                .limit(i64::from(query.page.limit))
                .load::<UserRow>(conn)
        })?;
        rows.into_iter().map(UserRow::into_domain).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_and_the_escape_character_match_themselves() {
        assert_eq!(contains_pattern("ann"), "%ann%");
        assert_eq!(contains_pattern("50%_off"), "%50\\%\\_off%");
        assert_eq!(contains_pattern("a\\b"), "%a\\\\b%");
    }
}
