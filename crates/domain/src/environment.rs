//! Environments: the tenants. Every other entity belongs to exactly one.

use crate::{EnvironmentId, Timestamp};

/// The slug of the environment created on first start.
pub const DEFAULT_SLUG: &str = "default";

/// An environment's slug: one DNS label, lower case (`staging`, `acme-eu`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slug(String);

/// Why a text cannot be a [`Slug`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    /// Empty, or longer than a DNS label (63 characters).
    #[error("a slug has 1 to 63 characters")]
    Length,
    /// Something other than `a-z`, `0-9` and inner hyphens.
    #[error("`{0}` is not a slug: use a-z, 0-9 and inner hyphens")]
    Malformed(String),
}

impl Slug {
    /// Parses a slug; upper case is refused rather than folded, so that what
    /// an operator types is what the host name carries.
    ///
    /// # Errors
    /// [`SlugError`] when `raw` is not a lower-case DNS label.
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        if raw.is_empty() || raw.len() > 63 {
            return Err(SlugError::Length);
        }
        let allowed = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !allowed || raw.starts_with('-') || raw.ends_with('-') {
            return Err(SlugError::Malformed(raw.to_owned()));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The slug as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant: its own users, clients, keys and tokens; nothing crosses environments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// Identity.
    pub id: EnvironmentId,
    /// Host label that selects it.
    pub slug: Slug,
    /// When it was created.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_dns_labels() {
        assert!(Slug::parse("staging").is_ok());
        assert!(Slug::parse("acme-eu-1").is_ok());
        assert_eq!(Slug::parse(""), Err(SlugError::Length));
        assert_eq!(Slug::parse(&"a".repeat(64)), Err(SlugError::Length));
        for bad in ["Staging", "-a", "a-", "a.b", "a_b", "é"] {
            assert!(
                matches!(Slug::parse(bad), Err(SlugError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
