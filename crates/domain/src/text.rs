//! Bounded texts: the one rule behind every name, display name and
//! description the API accepts. Each text type states its [`TextRules`]
//! (declared with [`bounded_text!`](crate::bounded_text)); parsing, the
//! error messages and the limits other layers publish (the OpenAPI
//! schemas) all come from those rules, so they cannot drift apart.
//!
//! Lengths count Unicode scalar values (what JSON Schema's `maxLength`
//! counts) of the text as sent, before trimming.

/// What a bounded text accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextRules {
    /// The member the text is written to, as error messages name it.
    pub field: &'static str,
    /// Largest accepted length in characters, surrounding whitespace included.
    pub max_chars: usize,
    /// Whether an empty (or, when trimmed, blank) text is accepted.
    pub allow_empty: bool,
    /// Whether surrounding whitespace is removed before the text is kept.
    pub trim: bool,
    /// Whether whitespace may appear inside the (trimmed) text.
    pub inner_whitespace: bool,
    /// Whether newline and tab are accepted (every other control character
    /// is always refused).
    pub line_breaks: bool,
}

impl TextRules {
    /// A trimmed, non-empty single-line name of at most `max_chars`
    /// characters that may hold inner spaces (`Report Readers`).
    #[must_use]
    pub const fn name(field: &'static str, max_chars: usize) -> Self {
        Self {
            field,
            max_chars,
            allow_empty: false,
            trim: true,
            inner_whitespace: true,
            line_breaks: false,
        }
    }

    /// A trimmed, non-empty token of at most `max_chars` characters without
    /// any whitespace (`read:reports`).
    #[must_use]
    pub const fn token(field: &'static str, max_chars: usize) -> Self {
        Self {
            inner_whitespace: false,
            ..Self::name(field, max_chars)
        }
    }

    /// The same rules, accepting an empty (blank) text.
    #[must_use]
    pub const fn or_empty(self) -> Self {
        Self {
            allow_empty: true,
            ..self
        }
    }

    /// Checks `raw` and returns the text to keep (trimmed when the rules
    /// trim). Problems are reported in this order: emptiness, length,
    /// characters.
    ///
    /// # Errors
    /// [`TextError`] naming the first problem.
    pub fn check<'a>(&self, raw: &'a str) -> Result<&'a str, TextError> {
        let fail = |problem| TextError {
            field: self.field,
            max_chars: self.max_chars,
            problem,
        };
        let kept = if self.trim { raw.trim() } else { raw };
        if kept.is_empty() && !self.allow_empty {
            return Err(fail(TextProblem::Empty));
        }
        if raw.chars().count() > self.max_chars {
            return Err(fail(TextProblem::TooLong));
        }
        let refused = |c: char| {
            (c.is_control() && !(self.line_breaks && (c == '\n' || c == '\t')))
                || (!self.inner_whitespace && c.is_whitespace())
        };
        if kept.chars().any(refused) {
            let problem = if self.inner_whitespace {
                TextProblem::ControlCharacter
            } else {
                TextProblem::InvalidCharacter
            };
            return Err(fail(problem));
        }
        Ok(kept)
    }
}

/// What is wrong with a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextProblem {
    /// Empty (after trimming, when the rules trim).
    Empty,
    /// Longer than the rules allow.
    TooLong,
    /// Holds a control character.
    ControlCharacter,
    /// Holds whitespace or a control character (texts without whitespace).
    InvalidCharacter,
}

/// Why a text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct TextError {
    /// The member, as the rules name it.
    pub field: &'static str,
    /// The rules' largest length.
    pub max_chars: usize,
    /// What is wrong.
    pub problem: TextProblem,
}

impl TextError {
    fn message(&self) -> String {
        let field = self.field;
        match self.problem {
            TextProblem::Empty => format!("{field} is empty"),
            TextProblem::TooLong => {
                format!("{field} is longer than {} characters", self.max_chars)
            }
            TextProblem::ControlCharacter => format!("{field} contains a control character"),
            TextProblem::InvalidCharacter => {
                format!("{field} contains whitespace or a control character")
            }
        }
    }
}

/// Declares a text type: a newtype over `String` that only [`TextRules`]
/// let in, with `RULES`, `MAX_CHARS`, `parse` and `as_str`.
#[macro_export]
macro_rules! bounded_text {
    ($(#[$meta:meta])* $vis:vis struct $name:ident = $rules:expr;) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        $vis struct $name(String);

        impl $name {
            /// What the type accepts.
            pub const RULES: $crate::text::TextRules = $rules;
            /// Largest accepted length in characters.
            pub const MAX_CHARS: usize = Self::RULES.max_chars;

            /// Parses a text under [`Self::RULES`].
            ///
            /// # Errors
            /// [`TextError`]($crate::text::TextError) naming the problem.
            pub fn parse(raw: &str) -> Result<Self, $crate::text::TextError> {
                Self::RULES.check(raw).map(|kept| Self(kept.to_owned()))
            }

            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text as an owned string.
            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: TextRules = TextRules::name("name", 5);

    fn problem(rules: TextRules, raw: &str) -> Option<TextProblem> {
        rules.check(raw).err().map(|e| e.problem)
    }

    #[test]
    fn a_name_is_trimmed_and_keeps_inner_spaces() {
        assert_eq!(NAME.check(" a b ").unwrap(), "a b");
        assert_eq!(problem(NAME, "   "), Some(TextProblem::Empty));
        assert_eq!(problem(NAME, "a\u{7}"), Some(TextProblem::ControlCharacter));
        assert_eq!(problem(NAME, "a\nb"), Some(TextProblem::ControlCharacter));
    }

    #[test]
    fn the_length_counts_characters_as_sent() {
        assert_eq!(NAME.check("ééééé").unwrap(), "ééééé");
        assert_eq!(problem(NAME, "éééééé"), Some(TextProblem::TooLong));
        // Surrounding spaces count: the limit is what the schema publishes.
        assert_eq!(problem(NAME, " abcd "), Some(TextProblem::TooLong));
    }

    #[test]
    fn a_token_refuses_whitespace() {
        let token = TextRules::token("client_id", 5);
        assert_eq!(token.check(" ab ").unwrap(), "ab");
        assert_eq!(problem(token, "a b"), Some(TextProblem::InvalidCharacter));
        assert_eq!(
            problem(token, "a\u{a0}b"),
            Some(TextProblem::InvalidCharacter)
        );
    }

    #[test]
    fn empty_texts_pass_only_when_allowed() {
        assert_eq!(NAME.or_empty().check("  ").unwrap(), "");
        let text = TextRules {
            trim: false,
            line_breaks: true,
            ..TextRules::name("description", 5).or_empty()
        };
        assert_eq!(text.check(" a\tb\n").unwrap(), " a\tb\n");
        assert_eq!(problem(text, "a\u{0}"), Some(TextProblem::ControlCharacter));
    }

    #[test]
    fn messages_name_the_field_and_the_limit() {
        let error = NAME.check("abcdef").unwrap_err();
        assert_eq!(error.to_string(), "name is longer than 5 characters");
        let error = TextRules::token("client_id", 5).check("a b").unwrap_err();
        assert_eq!(
            error.to_string(),
            "client_id contains whitespace or a control character"
        );
    }
}
