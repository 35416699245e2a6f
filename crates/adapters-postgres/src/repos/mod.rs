//! The repositories of `portcullis_ports::store`, implemented once for both
//! backends on [`DbTx`], a borrowed pooled connection. Whether the calls run
//! inside a transaction is the unit of work's business (see `crate::uow`).

/// Orders a boxed select by `$id` and keeps the rows after `$page.after`
/// (keyset pagination): ids are ULIDs, so id order is creation order, and a
/// page costs the same however deep its cursor.
/// A cursor that no stored key can equal or follow in a meaningful way
/// (it holds NUL, see [`storable`]) gives an empty page, without binding it.
macro_rules! id_keyset {
    ($select:ident, $id:path, $page:expr) => {{
        let page: &portcullis_ports::store::Keyset = $page;
        let $select = match (page.after.clone(), page.descending) {
            (Some(after), _) if !$crate::repos::storable(&after) => {
                $select.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0"))
            }
            (Some(after), false) => $select.filter($id.gt(after)),
            (Some(after), true) => $select.filter($id.lt(after)),
            (None, _) => $select,
        };
        let $select = if page.descending {
            $select.order($id.desc())
        } else {
            $select.order($id.asc())
        };
        $select.limit(i64::from(page.limit))
    }};
}

mod access_tokens;
mod actions;
mod client_grants;
mod clients;
mod connections;
mod environments;
mod event_log;
mod events;
mod invitations;
mod organizations;
mod permissions;
mod resource_servers;
mod retention;
mod role_permissions;
mod roles;
mod sessions;
mod signing_keys;
mod user_roles;
mod users;
mod webhooks;

use diesel::Connection;
use diesel::result::Error;
use portcullis_ports::store::StoreError;

use crate::Backend;
use crate::conn::AnyConnection;
use crate::error::from_diesel;

/// Whether a text can be bound in a statement: PostgreSQL's `text` cannot
/// hold NUL, and a statement binding one fails (`invalid byte sequence`),
/// which would surface as a `500`. The HTTP edge refuses control
/// characters and the domain's values refuse them too; this is the store's
/// own guard (defence in depth) on the lookups and listings that take text
/// from a request: a text holding NUL matches no row (none can hold it on
/// PostgreSQL, and nothing writes one on SQLite), so they answer "none"
/// without asking the database, on both backends alike.
pub(crate) fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// A unit of work's connection, seen through the repository traits.
pub(crate) struct DbTx<'c> {
    conn: &'c mut AnyConnection,
}

impl<'c> DbTx<'c> {
    /// Wraps a connection (inside a transaction or not).
    pub(crate) fn new(conn: &'c mut AnyConnection) -> Self {
        Self { conn }
    }

    /// The backend of the connection.
    fn backend(&self) -> Backend {
        self.conn.backend()
    }

    /// Maps a diesel error of this connection.
    fn fail(&self, err: Error) -> StoreError {
        from_diesel(self.backend(), err)
    }

    /// Runs `query` and maps its error.
    fn run<T>(
        &mut self,
        query: impl FnOnce(&mut AnyConnection) -> Result<T, Error>,
    ) -> Result<T, StoreError> {
        query(self.conn).map_err(|err| self.fail(err))
    }

    /// Runs a write that may fail on purpose (a unique violation the caller
    /// maps to a conflict) in its own savepoint: PostgreSQL aborts the whole
    /// transaction after a failed statement, and rolling back to the
    /// savepoint lets the caller's transaction go on after the conflict.
    /// Outside a transaction this is a short transaction of its own.
    fn guarded<T>(
        &mut self,
        write: impl FnOnce(&mut AnyConnection) -> Result<T, Error>,
    ) -> Result<T, StoreError> {
        self.conn.transaction(write).map_err(|err| self.fail(err))
    }
}
