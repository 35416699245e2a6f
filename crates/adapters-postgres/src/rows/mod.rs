//! Table rows: what diesel reads and writes, one file per table, and their
//! conversions to and from domain entities. Reading back re-parses every
//! value with the domain's own parsers, so a row that breaks an invariant
//! becomes `StoreError::Corrupt` instead of an invalid entity.

pub(crate) mod access_token;
pub(crate) mod action;
pub(crate) mod client;
pub(crate) mod client_grant;
pub(crate) mod connection;
pub(crate) mod environment;
pub(crate) mod event;
pub(crate) mod event_log;
pub(crate) mod invitation;
pub(crate) mod organization;
pub(crate) mod permission;
pub(crate) mod resource_server;
pub(crate) mod role;
pub(crate) mod role_permission;
pub(crate) mod scope;
pub(crate) mod session;
pub(crate) mod signing_key;
pub(crate) mod user;
pub(crate) mod user_role;
pub(crate) mod webhook;

use portcullis_domain::IdError;
use portcullis_ports::store::StoreError;

use crate::error::corrupt;

/// Parses a stored ULID with a typed id's parser.
pub(crate) fn parse_id<T>(
    table: &'static str,
    column: &'static str,
    raw: &str,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<T, StoreError> {
    parse(raw).map_err(|err| corrupt(table, column, err))
}

/// Serializes a list of strings as the JSON array text the tables keep.
pub(crate) fn json_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::Value::Array(
        items
            .into_iter()
            .map(|item| serde_json::Value::String(item.to_owned()))
            .collect(),
    )
    .to_string()
}

/// Reads a JSON array of strings.
pub(crate) fn parse_json_array(
    table: &'static str,
    column: &'static str,
    raw: &str,
) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(raw).map_err(|err| corrupt(table, column, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arrays_round_trip_with_escaping() {
        let text = json_array(["a\"b", "https://x/cb?q=1"]);
        assert_eq!(text, r#"["a\"b","https://x/cb?q=1"]"#);
        assert_eq!(
            parse_json_array("t", "c", &text).ok(),
            Some(vec!["a\"b".to_owned(), "https://x/cb?q=1".to_owned()])
        );
        assert!(matches!(
            parse_json_array("t", "c", "{}"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
