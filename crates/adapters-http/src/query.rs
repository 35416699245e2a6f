//! Query strings of collection routes: `page[size]`, `page[after]`, `sort`
//! and `filter[...]`, each checked, and the opaque keyset cursors.

use actix_web::HttpResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_application::{Page, PageParams};
use portcullis_domain::user::Email;
use serde_json::Value;

use crate::error::ApiError;
use crate::jsonapi::{collection_response, with_self_link};

/// The largest `page[size]`.
pub const MAX_PAGE_SIZE: u32 = 500;

/// A parsed query string of a collection route.
#[derive(Debug, Default)]
pub struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl ListQuery {
    /// Parses the query string and refuses parameters outside `filters`,
    /// `sorts`, `page[size]` and `page[after]`, and repeated parameters.
    ///
    /// # Errors
    /// `400 invalid_query_parameter` naming the parameter.
    pub fn parse(raw: &str, filters: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|_| ApiError::bad_request("invalid_query", "the query string is malformed"))?;
        for (index, (name, _)) in pairs.iter().enumerate() {
            let known = matches!(name.as_str(), "page[size]" | "page[after]" | "sort")
                || name
                    .strip_prefix("filter[")
                    .and_then(|f| f.strip_suffix(']'))
                    .is_some_and(|f| filters.contains(&f));
            if !known {
                return Err(ApiError::bad_request(
                    "invalid_query_parameter",
                    format!("unknown query parameter `{name}`"),
                )
                .param(name.clone()));
            }
            if pairs[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::bad_request(
                    "invalid_query_parameter",
                    format!("query parameter `{name}` is repeated"),
                )
                .param(name.clone()));
            }
        }
        // No value of any parameter may hold a control character: none is
        // meaningful in a filter, sort or page, and PostgreSQL cannot even
        // compare text holding NUL (it fails the statement).
        for (name, value) in &pairs {
            if let Some(c) = value.chars().find(|c| c.is_control()) {
                return Err(ApiError::bad_request(
                    "invalid_query_parameter",
                    format!("{name} holds the control character {}", code_point(c)),
                )
                .param(name.clone()));
            }
        }
        Ok(Self { pairs })
    }

    /// A parameter's value.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `filter[name]`.
    #[must_use]
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.get(&format!("filter[{name}]"))
    }

    /// `filter[name]` as a boolean.
    ///
    /// # Errors
    /// `400` unless `true` or `false`.
    pub fn bool_filter(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.filter(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_request(
                "invalid_query_parameter",
                format!("filter[{name}] must be true or false, not `{other}`"),
            )
            .param(format!("filter[{name}]"))),
        }
    }

    /// The sort key and direction among `allowed` (`created_at` first is the default).
    ///
    /// # Errors
    /// `400` for another key.
    pub fn sort(&self, allowed: &[&'static str]) -> Result<(&'static str, bool), ApiError> {
        let Some(raw) = self.get("sort") else {
            return Ok((allowed.first().copied().unwrap_or("created_at"), false));
        };
        let (key, descending) = raw.strip_prefix('-').map_or((raw, false), |k| (k, true));
        allowed
            .iter()
            .find(|a| **a == key)
            .map(|a| (*a, descending))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_sort",
                    format!(
                        "sort must be one of {}, optionally prefixed by `-`",
                        allowed.join(", ")
                    ),
                )
                .param("sort")
            })
    }

    /// The page request for a listing sorted by `sort`.
    ///
    /// # Errors
    /// `400` for a size outside 1..=500 or a cursor of another listing.
    pub fn page(&self, sort: &str, descending: bool) -> Result<PageParams, ApiError> {
        let size = match self.get("page[size]") {
            None => PageParams::default().size,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|s| (1..=MAX_PAGE_SIZE).contains(s))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_page_size",
                        format!("page[size] must be an integer from 1 to {MAX_PAGE_SIZE}"),
                    )
                    .param("page[size]")
                })?,
        };
        let after = match self.get("page[after]") {
            None => None,
            Some(cursor) => Some(decode_cursor(cursor, sort, descending).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_cursor",
                    "page[after] is not a cursor of this listing",
                )
                .param("page[after]")
            })?),
        };
        Ok(PageParams {
            size,
            after,
            descending,
        })
    }

    /// The query string with `page[after]` set to `cursor`, for `links.next`.
    #[must_use]
    pub fn with_cursor(&self, cursor: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|(n, _)| n != "page[after]")
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        pairs.push(("page[after]", cursor));
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// The `200` answer of a collection route: each resource with its
/// `links.self` (`base/ID`), the listing's own `links.self` (the request's
/// query), and `links.next` while there are more rows. `render` gives a row's
/// resource object and id.
pub fn page_response<T>(
    query: &ListQuery,
    base: &str,
    (sort, descending): (&str, bool),
    page: Page<T>,
    render: impl Fn(&T) -> (Value, String),
) -> HttpResponse {
    // Both links percent-encode the query the same way.
    let self_link = if query.pairs.is_empty() {
        base.to_owned()
    } else {
        format!(
            "{base}?{}",
            serde_urlencoded::to_string(&query.pairs).unwrap_or_default()
        )
    };
    let next = page.next_after.map(|key| {
        format!(
            "{base}?{}",
            query.with_cursor(&encode_cursor(sort, descending, &key))
        )
    });
    let resources = page
        .items
        .iter()
        .map(|row| {
            let (resource, id) = render(row);
            with_self_link(resource, &format!("{base}/{id}"))
        })
        .collect();
    collection_response(resources, &self_link, next)
}

/// `U+0000` for a character, as error details name characters.
pub(crate) fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// An opaque cursor: the sort key value, bound to the listing's order.
#[must_use]
pub fn encode_cursor(sort: &str, descending: bool, key: &str) -> String {
    let direction = if descending { "d" } else { "a" };
    URL_SAFE_NO_PAD.encode(format!("{sort}|{direction}|{key}"))
}

fn decode_cursor(cursor: &str, sort: &str, descending: bool) -> Option<String> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut parts = text.splitn(3, '|');
    let (got_sort, direction, key) = (parts.next()?, parts.next()?, parts.next()?);
    let expected_direction = if descending { "d" } else { "a" };
    // No sort key holds a control character (ids, timestamps, addresses and
    // names refuse them), so a cursor holding one was not made here.
    (got_sort == sort
        && direction == expected_direction
        && !key.is_empty()
        && !key.chars().any(char::is_control))
    .then(|| key.to_owned())
}

/// `filter[email]`, parsed into its canonical form like any address the API
/// takes; an address that is not one is `400 invalid_filter` on its
/// parameter, naming the rule it breaks.
pub(crate) fn email_filter(query: &ListQuery) -> Result<Option<Email>, ApiError> {
    query
        .filter("email")
        .map(|raw| {
            Email::parse(raw).map_err(|e| {
                ApiError::bad_request(
                    "invalid_filter",
                    format!("filter[email] is not a valid address: {e}"),
                )
                .param("filter[email]")
            })
        })
        .transpose()
}

/// A filter naming an id; a malformed id is `400` on its parameter.
pub(crate) fn id_filter<T, E>(
    query: &ListQuery,
    name: &str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<Option<T>, ApiError> {
    query
        .filter(name)
        .map(|raw| {
            parse(raw).map_err(|_| {
                ApiError::bad_request(
                    "invalid_query_parameter",
                    format!("filter[{name}] must be an id, not `{raw}`"),
                )
                .param(format!("filter[{name}]"))
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_only_for_the_same_order() {
        let cursor = encode_cursor("email", false, "a@b.io");
        let query = ListQuery::parse(&format!("page[after]={cursor}"), &[]).unwrap();
        assert_eq!(
            query.page("email", false).unwrap().after.as_deref(),
            Some("a@b.io")
        );
        assert!(query.page("email", true).is_err());
        assert!(query.page("created_at", false).is_err());
        assert!(
            ListQuery::parse("page[after]=garbage!", &[])
                .unwrap()
                .page("email", false)
                .is_err()
        );
    }

    #[test]
    fn unknown_or_repeated_parameters_and_bad_sizes_are_refused() {
        assert!(ListQuery::parse("filter[nope]=1", &["email"]).is_err());
        assert!(ListQuery::parse("foo=1", &[]).is_err());
        assert!(ListQuery::parse("sort=email&sort=email", &[]).is_err());
        for size in ["0", "501", "-1", "ten"] {
            assert!(
                ListQuery::parse(&format!("page[size]={size}"), &[])
                    .unwrap()
                    .page("created_at", false)
                    .is_err()
            );
        }
        assert_eq!(
            ListQuery::parse("page[size]=500", &[])
                .unwrap()
                .page("created_at", false)
                .unwrap()
                .size,
            500
        );
    }

    #[test]
    fn control_characters_are_refused_in_every_value_and_in_cursors() {
        for raw in [
            "filter[search]=%00",
            "filter[search]=a%01b",
            "sort=%7F",
            "page[size]=1%0A",
        ] {
            let error = ListQuery::parse(raw, &["search"]).unwrap_err().to_string();
            assert!(
                error.starts_with("400 invalid_query_parameter: "),
                "{raw}: {error}"
            );
            assert!(error.contains("control character U+00"), "{raw}: {error}");
        }
        let nul = encode_cursor("created_at", false, "01J\0");
        let query = ListQuery::parse(&format!("page[after]={nul}"), &[]).unwrap();
        let error = query.page("created_at", false).unwrap_err().to_string();
        assert!(error.starts_with("400 invalid_cursor: "), "{error}");
        let tab = encode_cursor("email", false, "a\t@b.io");
        let query = ListQuery::parse(&format!("page[after]={tab}"), &[]).unwrap();
        assert!(query.page("email", false).is_err());
    }

    #[test]
    fn next_links_keep_filters_and_replace_the_cursor() {
        let query = ListQuery::parse("filter[email]=a%40b.io&page[after]=old", &["email"]).unwrap();
        assert_eq!(
            query.with_cursor("new"),
            "filter%5Bemail%5D=a%40b.io&page%5Bafter%5D=new"
        );
    }
}
