//! [`AccessTokenRepo`] on [`DbTx`]: opaque tokens by the digest of their string.

use diesel::prelude::*;
use portcullis_domain::access_token::OpaqueToken;
use portcullis_domain::oauth::SecretDigest;
use portcullis_domain::{AccessTokenId, EnvironmentId, Timestamp};
use portcullis_ports::store::{AccessTokenRepo, StoreError};

use super::DbTx;
use crate::rows::access_token::AccessTokenRow;
use crate::schema::access_tokens;

impl AccessTokenRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(access_token_id = %token.id))]
    fn insert_access_token(&mut self, token: &OpaqueToken) -> Result<(), StoreError> {
        let row = AccessTokenRow::from_domain(token);
        self.run(|conn| {
            diesel::insert_into(access_tokens::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn find_access_token(
        &mut self,
        environment: EnvironmentId,
        digest: &SecretDigest,
    ) -> Result<Option<OpaqueToken>, StoreError> {
        let row = self.run(|conn| {
            access_tokens::table
                .filter(access_tokens::digest.eq(digest.as_str()))
                .filter(access_tokens::environment_id.eq(environment.to_string()))
                .select(AccessTokenRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(AccessTokenRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(access_token_id = %id))]
    fn revoke_access_token(
        &mut self,
        environment: EnvironmentId,
        id: AccessTokenId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let updated = self.run(|conn| {
            diesel::update(access_tokens::table)
                .filter(access_tokens::id.eq(id.to_string()))
                .filter(access_tokens::environment_id.eq(environment.to_string()))
                .filter(access_tokens::revoked_at.is_null())
                .set(access_tokens::revoked_at.eq(Some(at.as_primitive())))
                .execute(conn)
        })?;
        Ok(updated > 0)
    }
}
