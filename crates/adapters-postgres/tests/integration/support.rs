//! Shared test scaffolding: the macro running one body on both backends,
//! domain fixtures, and raw SQL reads that check what the store wrote
//! without going through it.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::{PgConnection, SqliteConnection};
use portcullis_adapters_postgres::Backend;
use portcullis_adapters_postgres::testing::TestDatabase;
use portcullis_domain::access::{Description, Permission, PermissionName, Role, RoleName};
use portcullis_domain::environment::{Environment, Slug};
use portcullis_domain::signing_key::{EncryptedPrivateKey, KeyStatus, SigningKey};
use portcullis_domain::user::{Email, Metadata, NewUser, PasswordHash, PersonName, User};
use portcullis_domain::{EnvironmentId, PermissionId, RoleId, SigningKeyId, Timestamp, UserId};
use ulid::Ulid;

/// Defines `mod $name` with one `#[tokio::test]` per backend, both running
/// `$body` with a fresh migrated database (`$db: &TestDatabase`) and a
/// store on it (`$store: DieselStore`).
macro_rules! on_both_backends {
    ($(#[doc = $doc:literal])* async fn $name:ident($db:ident, $store:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            use super::*;

            async fn body(
                $db: &portcullis_adapters_postgres::testing::TestDatabase,
                $store: portcullis_adapters_postgres::DieselStore,
            ) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = portcullis_adapters_postgres::testing::TestDatabase::postgres();
                let store = db.store();
                body(&db, store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = portcullis_adapters_postgres::testing::TestDatabase::sqlite();
                let store = db.store();
                body(&db, store).await;
            }
        }
    };
}
pub(crate) use on_both_backends;

/// 2026-01-15T10:30:00Z in microseconds.
pub(crate) const T0: i64 = 1_768_473_000_000_000;

/// A timestamp `offset` microseconds after [`T0`] (so with a fraction).
pub(crate) fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0 + offset).unwrap()
}

/// The `n`-th ULID: ids made from increasing `n` sort in that order.
pub(crate) fn ulid(n: u64) -> Ulid {
    Ulid::from_parts(1_768_473_000_000 + n, u128::from(n) * 7_919)
}

/// An environment with the given slug and a fresh id.
pub(crate) fn environment(slug: &str) -> Environment {
    Environment {
        id: EnvironmentId::from_ulid(Ulid::generate()),
        slug: Slug::parse(slug).unwrap(),
        created_at: at(1),
    }
}

/// Inserts an environment and returns it.
pub(crate) async fn insert_environment(
    store: &portcullis_adapters_postgres::DieselStore,
    slug: &str,
) -> Environment {
    use portcullis_ports::store::UnitOfWork;
    let env = environment(slug);
    let row = env.clone();
    store
        .transaction(move |tx| tx.insert_environment(&row))
        .await
        .unwrap();
    env
}

/// A user `n` of `env` (id from [`ulid`]) with every field set.
pub(crate) fn user(env: &Environment, n: u64, email: &str) -> User {
    let mut new = NewUser::with_email(Email::parse(email).unwrap());
    new.first_name = PersonName::parse(&format!("First{n}")).unwrap();
    new.last_name = PersonName::parse(&format!("Last{n}")).unwrap();
    new.password_hash = Some(PasswordHash::new(format!("$2b$04$hash{n}")));
    new.metadata = Metadata::from_json_text(format!(r#"{{"n":{n},"tag":"x"}}"#)).unwrap();
    User::register(
        UserId::from_ulid(ulid(n)),
        env.id,
        new,
        at(i64::try_from(n).unwrap() * 1_000 + 123_456),
    )
}

/// A permission `n` of `env` (id from [`ulid`]) named `name`.
pub(crate) fn permission(env: &Environment, n: u64, name: &str) -> Permission {
    Permission::define(
        PermissionId::from_ulid(ulid(n)),
        env.id,
        PermissionName::parse(name).unwrap(),
        Description::parse(&format!("Permission {n}\nsecond line")).unwrap(),
        at(i64::try_from(n).unwrap() * 1_000 + 654_321),
    )
}

/// Role `n` of `env`.
pub(crate) fn role(env: &Environment, n: u64, name: &str) -> Role {
    Role::define(
        RoleId::from_ulid(ulid(n)),
        env.id,
        RoleName::parse(name).unwrap(),
        Description::parse(&format!("Role {n}\nsecond line")).unwrap(),
        at(i64::try_from(n).unwrap() * 1_000 + 123_456),
    )
}

/// A signing key `n` of `env`.
pub(crate) fn signing_key(env: &Environment, n: u64, created: i64) -> SigningKey {
    SigningKey {
        id: SigningKeyId::from_ulid(ulid(n)),
        environment_id: env.id,
        kid: format!("kid-{n}"),
        status: KeyStatus::Active,
        primary: false,
        public_jwk: format!(r#"{{"kty":"RSA","kid":"kid-{n}"}}"#),
        private_key: EncryptedPrivateKey::new(vec![0, 1, 2, 255, u8::try_from(n % 256).unwrap()]),
        created_at: at(created),
        deactivated_at: None,
    }
}

/// Runs `f` on a raw connection to `db`, outside the store.
fn with_raw<T>(
    db: &TestDatabase,
    pg: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
    sqlite: impl FnOnce(&mut SqliteConnection) -> QueryResult<T>,
) -> T {
    match db.backend() {
        Backend::Postgres => pg(&mut PgConnection::establish(&db.url).unwrap()).unwrap(),
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            sqlite(&mut SqliteConnection::establish(path).unwrap()).unwrap()
        }
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct TextValue {
    #[diesel(sql_type = Text)]
    v: String,
}

/// `SELECT count(*) FROM <table>` on a raw connection.
pub(crate) fn count(db: &TestDatabase, table: &str) -> i64 {
    let sql = format!("SELECT count(*) AS n FROM {table}");
    with_raw(
        db,
        |c| diesel::sql_query(&sql).get_result::<Count>(c),
        |c| diesel::sql_query(&sql).get_result::<Count>(c),
    )
    .n
}

/// The text values of `sql`, whose one column is named `v`, on a raw connection.
pub(crate) fn texts(db: &TestDatabase, sql: &str) -> Vec<String> {
    let rows = with_raw(
        db,
        |c| diesel::sql_query(sql).load::<TextValue>(c),
        |c| diesel::sql_query(sql).load::<TextValue>(c),
    );
    rows.into_iter().map(|row| row.v).collect()
}

/// Runs a statement on a raw connection.
pub(crate) fn execute(db: &TestDatabase, sql: &str) {
    with_raw(
        db,
        |c| diesel::sql_query(sql).execute(c),
        |c| diesel::sql_query(sql).execute(c),
    );
}
