//! `access_tokens` rows.

use diesel::prelude::*;
use portcullis_domain::access_token::OpaqueToken;
use portcullis_domain::oauth::SecretDigest;
use portcullis_domain::{AccessTokenId, ClientId, EnvironmentId, ResourceServerId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::{json_array, parse_id, parse_json_array};
use crate::schema::access_tokens;

/// A stored opaque token (read and inserted alike).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = access_tokens)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct AccessTokenRow {
    id: String,
    environment_id: String,
    client: String,
    client_id: String,
    resource_server_id: String,
    audience: String,
    scopes: String,
    digest: String,
    issued_at: PrimitiveDateTime,
    expires_at: PrimitiveDateTime,
    revoked_at: Option<PrimitiveDateTime>,
    custom_claims: Option<String>,
}

const TABLE: &str = "access_tokens";

impl AccessTokenRow {
    /// The row of `token`.
    pub(crate) fn from_domain(token: &OpaqueToken) -> Self {
        Self {
            id: token.id.to_string(),
            environment_id: token.environment_id.to_string(),
            client: token.client.to_string(),
            client_id: token.client_id.clone(),
            resource_server_id: token.resource_server.to_string(),
            audience: token.audience.clone(),
            scopes: json_array(token.scopes.iter().map(String::as_str)),
            digest: token.digest.as_str().to_owned(),
            issued_at: token.issued_at.as_primitive(),
            expires_at: token.expires_at.as_primitive(),
            revoked_at: token.revoked_at.map(Timestamp::as_primitive),
            custom_claims: token.custom_claims.clone(),
        }
    }

    /// The domain record.
    pub(crate) fn into_domain(self) -> Result<OpaqueToken, StoreError> {
        Ok(OpaqueToken {
            id: parse_id(TABLE, "id", &self.id, AccessTokenId::parse)?,
            environment_id: parse_id(
                TABLE,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            client: parse_id(TABLE, "client", &self.client, ClientId::parse)?,
            client_id: self.client_id,
            resource_server: parse_id(
                TABLE,
                "resource_server_id",
                &self.resource_server_id,
                ResourceServerId::parse,
            )?,
            audience: self.audience,
            scopes: parse_json_array(TABLE, "scopes", &self.scopes)?,
            digest: SecretDigest::new(self.digest),
            issued_at: Timestamp::from_primitive(self.issued_at),
            expires_at: Timestamp::from_primitive(self.expires_at),
            revoked_at: self.revoked_at.map(Timestamp::from_primitive),
            custom_claims: self.custom_claims,
        })
    }
}
