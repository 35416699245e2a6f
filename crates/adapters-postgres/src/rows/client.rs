//! `clients` rows.

use diesel::prelude::*;
use portcullis_domain::oauth::{Client, ClientType, GrantType, SecretDigest, TokenFormat};
use portcullis_domain::{ClientId, EnvironmentId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::{json_array, parse_id, parse_json_array};
use crate::error::corrupt;
use crate::schema::clients;

/// A stored client.
#[derive(Queryable, Selectable)]
#[diesel(table_name = clients)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ClientRow {
    id: String,
    environment_id: String,
    client_id: String,
    name: String,
    client_type: String,
    grant_types: String,
    redirect_uris: String,
    token_format: String,
    first_party: bool,
    secret_digest: Option<String>,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl ClientRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Client, StoreError> {
        let grant_types = parse_json_array("clients", "grant_types", &self.grant_types)?
            .iter()
            .map(|raw| {
                GrantType::parse(raw).ok_or_else(|| {
                    corrupt(
                        "clients",
                        "grant_types",
                        format!("unknown grant type `{raw}`"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Client {
            id: parse_id("clients", "id", &self.id, ClientId::parse)?,
            environment_id: parse_id(
                "clients",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            client_id: self.client_id,
            name: self.name,
            client_type: ClientType::parse(&self.client_type).ok_or_else(|| {
                corrupt(
                    "clients",
                    "client_type",
                    format!("unknown client type `{}`", self.client_type),
                )
            })?,
            grant_types,
            redirect_uris: parse_json_array("clients", "redirect_uris", &self.redirect_uris)?,
            token_format: TokenFormat::parse(&self.token_format).ok_or_else(|| {
                corrupt(
                    "clients",
                    "token_format",
                    format!("unknown token format `{}`", self.token_format),
                )
            })?,
            first_party: self.first_party,
            secret_digest: self.secret_digest.map(SecretDigest::new),
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        })
    }
}

/// A client to insert.
#[derive(Insertable)]
#[diesel(table_name = clients)]
pub(crate) struct NewClientRow<'a> {
    id: String,
    environment_id: String,
    client_id: &'a str,
    name: &'a str,
    client_type: &'a str,
    grant_types: String,
    redirect_uris: String,
    token_format: &'a str,
    first_party: bool,
    secret_digest: Option<&'a str>,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl<'a> NewClientRow<'a> {
    /// The row of `client`.
    pub(crate) fn from_domain(client: &'a Client) -> Self {
        Self {
            id: client.id.to_string(),
            environment_id: client.environment_id.to_string(),
            client_id: &client.client_id,
            name: &client.name,
            client_type: client.client_type.as_str(),
            grant_types: json_array(client.grant_types.iter().map(|grant| grant.as_str())),
            redirect_uris: json_array(client.redirect_uris.iter().map(String::as_str)),
            token_format: client.token_format.as_str(),
            first_party: client.first_party,
            secret_digest: client.secret_digest.as_ref().map(SecretDigest::as_str),
            created_at: client.created_at.as_primitive(),
            updated_at: client.updated_at.as_primitive(),
        }
    }
}

/// Every mutable column of a client (its type and `client_id` are fixed).
#[derive(AsChangeset)]
#[diesel(table_name = clients)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct ClientChangeset<'a> {
    name: &'a str,
    grant_types: String,
    redirect_uris: String,
    token_format: &'a str,
    first_party: bool,
    secret_digest: Option<&'a str>,
    updated_at: PrimitiveDateTime,
}

impl<'a> ClientChangeset<'a> {
    /// The mutable state of `client`.
    pub(crate) fn from_domain(client: &'a Client) -> Self {
        Self {
            name: &client.name,
            grant_types: json_array(client.grant_types.iter().map(|grant| grant.as_str())),
            redirect_uris: json_array(client.redirect_uris.iter().map(String::as_str)),
            token_format: client.token_format.as_str(),
            first_party: client.first_party,
            secret_digest: client.secret_digest.as_ref().map(SecretDigest::as_str),
            updated_at: client.updated_at.as_primitive(),
        }
    }
}
