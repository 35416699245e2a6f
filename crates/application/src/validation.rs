//! Attribute validation shared by the collections: the violations a use
//! case reports, one per attribute that breaks a rule.

/// One attribute that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The attribute's name.
    pub field: &'static str,
    /// A stable, machine-readable code (`invalid_email`, `password_too_short`, ...).
    pub code: &'static str,
    /// What is wrong, for people.
    pub detail: String,
    /// The offending item when the attribute is a list (`redirect_uris[3]`).
    pub index: Option<usize>,
}

impl FieldViolation {
    pub(crate) fn new(field: &'static str, code: &'static str, detail: impl ToString) -> Self {
        Self {
            field,
            code,
            detail: detail.to_string(),
            index: None,
        }
    }

    /// The same violation, about item `index` of a list attribute.
    #[must_use]
    pub(crate) fn at_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// The JSON pointer of the offending member in a request document:
    /// `/data/attributes/<field>`, followed by `/<index>` for a list item.
    #[must_use]
    pub fn pointer(&self) -> String {
        match self.index {
            Some(index) => format!("/data/attributes/{}/{index}", self.field),
            None => format!("/data/attributes/{}", self.field),
        }
    }
}

/// Parses a `description` attribute, recording a violation when it breaks a rule.
pub(crate) fn parse_description(
    raw: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<portcullis_domain::access::Description> {
    use portcullis_domain::access::Description;
    use portcullis_domain::text::TextProblem;
    Description::parse(raw)
        .map_err(|e| {
            let code = match e.problem {
                TextProblem::TooLong => "description_too_long",
                TextProblem::Empty
                | TextProblem::ControlCharacter
                | TextProblem::InvalidCharacter => "invalid_description",
            };
            violations.push(FieldViolation::new("description", code, e));
        })
        .ok()
}

/// How long a created thing lasts (sessions, invitations), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Lifetime of one created without `expires_at`.
    pub default_ttl_seconds: i64,
    /// Latest `expires_at` a create may ask for, from now.
    pub max_ttl_seconds: i64,
}

impl Lifetimes {
    /// Sessions: 30 days by default, a year at most.
    pub const SESSIONS: Self = Self {
        default_ttl_seconds: 30 * 24 * 3600,
        max_ttl_seconds: 365 * 24 * 3600,
    };
    /// Invitations: 7 days by default, 30 at most.
    pub const INVITATIONS: Self = Self {
        default_ttl_seconds: 7 * 24 * 3600,
        max_ttl_seconds: 30 * 24 * 3600,
    };
}

/// Parses an `expires_at` attribute: an RFC 3339 instant after `now` and
/// at most `max_ttl_seconds` later, recording a violation otherwise.
pub(crate) fn parse_expiry(
    raw: &str,
    now: portcullis_domain::Timestamp,
    max_ttl_seconds: i64,
    violations: &mut Vec<FieldViolation>,
) -> Option<portcullis_domain::Timestamp> {
    let Ok(at) = portcullis_domain::Timestamp::parse_rfc3339(raw) else {
        violations.push(FieldViolation::new(
            "expires_at",
            "invalid_expires_at",
            "expires_at is not an RFC 3339 date-time",
        ));
        return None;
    };
    if at <= now {
        violations.push(FieldViolation::new(
            "expires_at",
            "expires_at_in_past",
            "expires_at must be in the future",
        ));
        return None;
    }
    if at > now.plus_seconds(max_ttl_seconds) {
        violations.push(FieldViolation::new(
            "expires_at",
            "expires_at_too_far",
            format!(
                "expires_at must be at most {} seconds from now",
                max_ttl_seconds
            ),
        ));
        return None;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_name_the_attribute_and_the_list_item() {
        let v = FieldViolation::new("name", "invalid_name", "bad");
        assert_eq!(v.pointer(), "/data/attributes/name");
        assert_eq!(v.at_index(3).pointer(), "/data/attributes/name/3");
    }
}
