//! `users` rows.

use diesel::prelude::*;
use portcullis_domain::user::{Email, Metadata, PasswordHash, PersonName, User, UserParts};
use portcullis_domain::{EnvironmentId, Timestamp, UserId};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::users;

/// A stored user.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct UserRow {
    id: String,
    environment_id: String,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    password_hash: Option<String>,
    email_verified: bool,
    blocked: bool,
    metadata: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

/// Parses a stored name; `None` stays absent.
fn name(column: &'static str, raw: Option<&str>) -> Result<Option<PersonName>, StoreError> {
    raw.map_or(Ok(None), |raw| {
        PersonName::parse(raw).map_err(|err| corrupt("users", column, err))
    })
}

impl UserRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<User, StoreError> {
        let email =
            Email::from_stored(&self.email).map_err(|err| corrupt("users", "email", err))?;
        // Uniqueness ignores case only because every stored address is
        // already in its parsed (lower-cased, trimmed) form.
        if email.as_str() != self.email {
            return Err(corrupt(
                "users",
                "email",
                "not in canonical lower-case form",
            ));
        }
        let parts = UserParts {
            id: parse_id("users", "id", &self.id, UserId::parse)?,
            environment_id: parse_id(
                "users",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            email,
            first_name: name("first_name", self.first_name.as_deref())?,
            last_name: name("last_name", self.last_name.as_deref())?,
            password_hash: self.password_hash.map(PasswordHash::new),
            email_verified: self.email_verified,
            blocked: self.blocked,
            metadata: Metadata::from_json_text(self.metadata)
                .map_err(|err| corrupt("users", "metadata", err))?,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        User::from_parts(parts).map_err(|err| corrupt("users", "updated_at", err))
    }
}

/// A user to insert.
#[derive(Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow<'a> {
    id: String,
    environment_id: String,
    #[diesel(embed)]
    fields: UserChangeset<'a>,
    created_at: PrimitiveDateTime,
}

impl<'a> NewUserRow<'a> {
    /// The row of `user`.
    pub(crate) fn from_domain(user: &'a User) -> Self {
        Self {
            id: user.id().to_string(),
            environment_id: user.environment_id().to_string(),
            fields: UserChangeset::from_domain(user),
            created_at: user.created_at().as_primitive(),
        }
    }
}

/// Every mutable column of a user; `None` writes `NULL`.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct UserChangeset<'a> {
    email: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    password_hash: Option<&'a str>,
    email_verified: bool,
    blocked: bool,
    metadata: &'a str,
    updated_at: PrimitiveDateTime,
}

impl<'a> UserChangeset<'a> {
    /// The mutable state of `user`.
    pub(crate) fn from_domain(user: &'a User) -> Self {
        Self {
            email: user.email().as_str(),
            first_name: user.first_name().map(PersonName::as_str),
            last_name: user.last_name().map(PersonName::as_str),
            password_hash: user.password_hash().map(PasswordHash::as_str),
            email_verified: user.email_verified(),
            blocked: user.blocked(),
            metadata: user.metadata().as_str(),
            updated_at: user.updated_at().as_primitive(),
        }
    }
}
