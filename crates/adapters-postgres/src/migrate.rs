//! The embedded migrations, one set per backend (`migrations/postgres` and
//! `migrations/sqlite` hold the same schema in each dialect).

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::conn::AnyConnection;

/// PostgreSQL migrations.
pub(crate) const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
/// SQLite migrations.
pub(crate) const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Advisory lock key serializing concurrent migration runs on one
/// PostgreSQL database (several replicas starting at once).
const MIGRATION_LOCK: i64 = 0x706f_7274_6d69_6772; // "portmigr"

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the pending migrations of the connection's backend; returns how many ran.
pub(crate) fn run_pending(conn: &mut AnyConnection) -> Result<usize, BoxError> {
    match conn {
        AnyConnection::Postgres(pg) => {
            diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK)
                .execute(pg)?;
            let applied = pg.run_pending_migrations(POSTGRES).map(|done| done.len());
            let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK)
                .execute(pg);
            let applied = applied?;
            unlocked?;
            Ok(applied)
        }
        AnyConnection::Sqlite(sqlite) => Ok(sqlite.run_pending_migrations(SQLITE)?.len()),
    }
}
