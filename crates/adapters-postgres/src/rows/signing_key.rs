//! `signing_keys` rows.

use diesel::prelude::*;
use portcullis_domain::signing_key::{EncryptedPrivateKey, KeyStatus, SigningKey};
use portcullis_domain::{EnvironmentId, SigningKeyId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::signing_keys;

/// A stored key.
#[derive(Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct SigningKeyRow {
    id: String,
    environment_id: String,
    kid: String,
    status: String,
    is_primary: bool,
    public_jwk: String,
    private_key: Vec<u8>,
    created_at: PrimitiveDateTime,
    deactivated_at: Option<PrimitiveDateTime>,
}

impl SigningKeyRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<SigningKey, StoreError> {
        Ok(SigningKey {
            id: parse_id("signing_keys", "id", &self.id, SigningKeyId::parse)?,
            environment_id: parse_id(
                "signing_keys",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            kid: self.kid,
            status: KeyStatus::parse(&self.status).ok_or_else(|| {
                corrupt(
                    "signing_keys",
                    "status",
                    format!("unknown status `{}`", self.status),
                )
            })?,
            primary: self.is_primary,
            public_jwk: self.public_jwk,
            private_key: EncryptedPrivateKey::new(self.private_key),
            created_at: Timestamp::from_primitive(self.created_at),
            deactivated_at: self.deactivated_at.map(Timestamp::from_primitive),
        })
    }
}

/// A key to insert.
#[derive(Insertable)]
#[diesel(table_name = signing_keys)]
pub(crate) struct NewSigningKeyRow<'a> {
    id: String,
    environment_id: String,
    kid: &'a str,
    #[diesel(embed)]
    state: SigningKeyChangeset<'a>,
    public_jwk: &'a str,
    private_key: &'a [u8],
    created_at: PrimitiveDateTime,
}

impl<'a> NewSigningKeyRow<'a> {
    /// The row of `key`.
    pub(crate) fn from_domain(key: &'a SigningKey) -> Self {
        Self {
            id: key.id.to_string(),
            environment_id: key.environment_id.to_string(),
            kid: &key.kid,
            state: SigningKeyChangeset::from_domain(key),
            public_jwk: &key.public_jwk,
            private_key: key.private_key.as_bytes(),
            created_at: key.created_at.as_primitive(),
        }
    }
}

/// The mutable columns of a key; `None` writes `NULL`.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = signing_keys)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct SigningKeyChangeset<'a> {
    status: &'a str,
    is_primary: bool,
    deactivated_at: Option<PrimitiveDateTime>,
}

impl SigningKeyChangeset<'_> {
    /// The mutable state of `key`.
    pub(crate) fn from_domain(key: &SigningKey) -> Self {
        Self {
            status: key.status.as_str(),
            is_primary: key.primary,
            deactivated_at: key.deactivated_at.map(Timestamp::as_primitive),
        }
    }
}
