//! `environments` rows.

use diesel::prelude::*;
use portcullis_domain::environment::{Environment, Slug};
use portcullis_domain::{EnvironmentId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::environments;

/// A stored environment.
#[derive(Queryable, Selectable)]
#[diesel(table_name = environments)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct EnvironmentRow {
    id: String,
    slug: String,
    created_at: PrimitiveDateTime,
}

impl EnvironmentRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Environment, StoreError> {
        Ok(Environment {
            id: parse_id("environments", "id", &self.id, EnvironmentId::parse)?,
            slug: Slug::parse(&self.slug).map_err(|err| corrupt("environments", "slug", err))?,
            created_at: Timestamp::from_primitive(self.created_at),
        })
    }
}

/// An environment to insert.
#[derive(Insertable)]
#[diesel(table_name = environments)]
pub(crate) struct NewEnvironmentRow<'a> {
    id: String,
    slug: &'a str,
    created_at: PrimitiveDateTime,
}

impl<'a> NewEnvironmentRow<'a> {
    /// The row of `environment`.
    pub(crate) fn from_domain(environment: &'a Environment) -> Self {
        Self {
            id: environment.id.to_string(),
            slug: environment.slug.as_str(),
            created_at: environment.created_at.as_primitive(),
        }
    }
}
