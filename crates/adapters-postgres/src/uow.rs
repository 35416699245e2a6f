//! The unit of work: one blocking task and one pooled connection per call.
//!
//! Repositories are synchronous (diesel is), so a transaction cannot span an
//! `.await`: the closure runs on tokio's blocking pool and never does network
//! I/O other than its own statements while it holds row locks.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel::result::Error;
use portcullis_ports::store::{StoreError, Tx, UnitOfWork};

use crate::DieselStore;
use crate::breaker::{Admission, Breaker};
use crate::conn::AnyConnection;
use crate::error::from_diesel;
use crate::repos::DbTx;

/// Why a transaction ended without committing: the closure's own error, or
/// a failure of the database around it (begin, commit).
enum Abort<E> {
    /// The closure returned `Err`; the transaction was rolled back.
    Work(E),
    /// `BEGIN` or `COMMIT` failed.
    Diesel(Error),
}

impl<E> From<Error> for Abort<E> {
    fn from(err: Error) -> Self {
        Self::Diesel(err)
    }
}

/// Runs `work` in a transaction on `conn`: commit on `Ok`, roll back on `Err`.
///
/// SQLite write transactions start with `BEGIN IMMEDIATE`: they take the write
/// lock up front, so a concurrent writer waits on `busy_timeout` instead of
/// failing with `SQLITE_BUSY` when a deferred reader tries to upgrade. The
/// transaction state lives in the inner connection, so beginning there and
/// finishing through the enum is one transaction, and nested `transaction`
/// calls inside `work` become savepoints.
fn in_transaction<T, E>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut DbTx<'_>) -> Result<T, E>,
) -> Result<T, Abort<E>> {
    match conn {
        AnyConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        }
        AnyConnection::Postgres(_) => AnyConnection::begin_transaction(conn)?,
    }
    match work(&mut DbTx::new(conn)) {
        Ok(value) => {
            AnyConnection::commit_transaction(conn)?;
            Ok(value)
        }
        Err(work_err) => {
            if let Err(rollback) = AnyConnection::rollback_transaction(conn) {
                // The connection is unusable now (diesel marks the transaction
                // manager broken and the pool drops it); the closure's error
                // is what the caller must see.
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(Abort::Work(work_err))
        }
    }
}

impl DieselStore {
    /// Runs `job` on a pooled connection on tokio's blocking pool. A job that
    /// fails marks its connection suspect, so the pool checks it before reuse.
    ///
    /// While the database is known to be unreachable (the circuit breaker is
    /// open, see `breaker.rs`) the call is refused at once, and so are the
    /// calls waiting for a connection when it opens. A call that cannot get
    /// a connection within the checkout timeout opens it.
    async fn with_conn<T, E>(
        &self,
        job: impl FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let refused =
            |breaker: &Breaker| E::from(StoreError::Unavailable(Box::new(breaker.refusal())));
        let opened = self.breaker.opened.notified();
        tokio::pin!(opened);
        // Registered before the check: an opening after it still wakes us.
        opened.as_mut().enable();
        if self.breaker.refuses(Instant::now()) {
            return Err(refused(&self.breaker));
        }
        let waited = tokio::select! {
            biased;
            () = &mut opened => return Err(refused(&self.breaker)),
            waited = tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned()) => waited,
        };
        let permit = match waited {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(E::from(StoreError::Backend(Box::new(closed)))),
            Err(elapsed) => {
                tracing::warn!("no database connection freed up in time");
                return Err(E::from(StoreError::Unavailable(Box::new(elapsed))));
            }
        };
        let pool = self.pool.clone();
        let breaker = Arc::clone(&self.breaker);
        let checkout = self.checkout;
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // Taken here, where nothing can cancel the call before it reports.
            let admission = breaker.admit(Instant::now());
            if admission == Admission::Refuse {
                return Err(refused(&breaker));
            }
            let mut pooled = match pool.get_timeout(checkout) {
                Ok(pooled) => {
                    if admission == Admission::Probe {
                        breaker.connected();
                    }
                    pooled
                }
                Err(err) => {
                    breaker.failed(Instant::now());
                    tracing::warn!(error = %err, "no database connection");
                    return Err(E::from(StoreError::Unavailable(Box::new(err))));
                }
            };
            let result = job(&mut pooled.conn);
            pooled.suspect = result.is_err();
            result
        });
        match task.await {
            Ok(result) => result,
            Err(join) => {
                tracing::error!(error = %join, "unit of work panicked or was cancelled");
                Err(E::from(StoreError::Backend(Box::new(join))))
            }
        }
    }
}

#[async_trait]
impl UnitOfWork for DieselStore {
    async fn transaction<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let backend = conn.backend();
            in_transaction(conn, |tx| work(tx)).map_err(|abort| match abort {
                Abort::Work(err) => err,
                Abort::Diesel(err) => E::from(from_diesel(backend, err)),
            })
        })
        .await
    }

    async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        self.with_conn(move |conn| work(&mut DbTx::new(conn))).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            conn.ping()
                .map_err(|err| StoreError::Unavailable(Box::new(err)))
        })
        .await
    }
}
