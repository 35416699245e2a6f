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
}

impl FieldViolation {
    pub(crate) fn new(field: &'static str, code: &'static str, detail: impl ToString) -> Self {
        Self {
            field,
            code,
            detail: detail.to_string(),
        }
    }
}

/// Parses a `description` attribute, recording a violation when it breaks a rule.
pub(crate) fn parse_description(
    raw: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<portcullis_domain::access::Description> {
    use portcullis_domain::access::{Description, DescriptionError};
    Description::parse(raw)
        .map_err(|e| {
            let code = match e {
                DescriptionError::TooLong => "description_too_long",
                DescriptionError::ControlCharacter => "invalid_description",
            };
            violations.push(FieldViolation::new("description", code, e));
        })
        .ok()
}
