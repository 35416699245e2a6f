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
