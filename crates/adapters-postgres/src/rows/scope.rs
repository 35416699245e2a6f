//! `scopes` rows (insert only: the ports read no scope yet).

use diesel::prelude::*;
use portcullis_domain::oauth::Scope;
use time::PrimitiveDateTime;

use crate::schema::scopes;

/// A scope to insert.
#[derive(Insertable)]
#[diesel(table_name = scopes)]
pub(crate) struct NewScopeRow<'a> {
    id: String,
    environment_id: String,
    resource_server_id: String,
    name: &'a str,
    description: &'a str,
    created_at: PrimitiveDateTime,
}

impl<'a> NewScopeRow<'a> {
    /// The row of `scope`.
    pub(crate) fn from_domain(scope: &'a Scope) -> Self {
        Self {
            id: scope.id.to_string(),
            environment_id: scope.environment_id.to_string(),
            resource_server_id: scope.resource_server_id.to_string(),
            name: &scope.name,
            description: &scope.description,
            created_at: scope.created_at.as_primitive(),
        }
    }
}
