//! `sessions` rows.

use diesel::prelude::*;
use portcullis_domain::session::{IpAddress, Session, UserAgent};
use portcullis_domain::{EnvironmentId, SessionId, Timestamp, UserId};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::sessions;

/// A stored session (read and inserted alike).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct SessionRow {
    id: String,
    environment_id: String,
    user_id: String,
    ip_address: Option<String>,
    user_agent: Option<String>,
    last_active_at: PrimitiveDateTime,
    expires_at: PrimitiveDateTime,
    revoked_at: Option<PrimitiveDateTime>,
    created_at: PrimitiveDateTime,
}

/// The columns a touch or a revocation changes.
#[derive(AsChangeset)]
#[diesel(table_name = sessions, treat_none_as_null = true)]
pub(crate) struct SessionChangeset {
    last_active_at: PrimitiveDateTime,
    revoked_at: Option<PrimitiveDateTime>,
}

const TABLE: &str = "sessions";

impl SessionChangeset {
    /// The mutable columns of `session`.
    pub(crate) fn from_domain(session: &Session) -> Self {
        Self {
            last_active_at: session.last_active_at.as_primitive(),
            revoked_at: session.revoked_at.map(Timestamp::as_primitive),
        }
    }
}

impl SessionRow {
    /// The row of `session`.
    pub(crate) fn from_domain(session: &Session) -> Self {
        Self {
            id: session.id.to_string(),
            environment_id: session.environment_id.to_string(),
            user_id: session.user_id.to_string(),
            ip_address: session.ip_address.as_ref().map(|ip| ip.as_str().to_owned()),
            user_agent: session.user_agent.as_ref().map(|ua| ua.as_str().to_owned()),
            last_active_at: session.last_active_at.as_primitive(),
            expires_at: session.expires_at.as_primitive(),
            revoked_at: session.revoked_at.map(Timestamp::as_primitive),
            created_at: session.created_at.as_primitive(),
        }
    }

    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Session, StoreError> {
        Ok(Session {
            id: parse_id(TABLE, "id", &self.id, SessionId::parse)?,
            environment_id: parse_id(
                TABLE,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            user_id: parse_id(TABLE, "user_id", &self.user_id, UserId::parse)?,
            ip_address: self
                .ip_address
                .as_deref()
                .map(IpAddress::parse)
                .transpose()
                .map_err(|err| corrupt(TABLE, "ip_address", err))?,
            user_agent: self
                .user_agent
                .as_deref()
                .map(UserAgent::parse)
                .transpose()
                .map_err(|err| corrupt(TABLE, "user_agent", err))?,
            last_active_at: Timestamp::from_primitive(self.last_active_at),
            expires_at: Timestamp::from_primitive(self.expires_at),
            revoked_at: self.revoked_at.map(Timestamp::from_primitive),
            created_at: Timestamp::from_primitive(self.created_at),
        })
    }
}
