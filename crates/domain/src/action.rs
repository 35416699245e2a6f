//! Actions: JavaScript an operator attaches to a trigger of an environment
//! (`pre_token` runs before every token is signed; `post_login` once user
//! login exists), and the record of each run. Whether the code compiles is
//! the action runner's business; the domain bounds its size and keeps one
//! action per trigger per environment (the store enforces it).

use crate::{ActionExecutionId, ActionId, EnvironmentId, Timestamp};

/// When an action runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Before an access token is signed; may add claims or refuse the token.
    PreToken,
    /// After a user logs in (stored and validated; runs once login exists).
    PostLogin,
}

/// The text is not a trigger.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("trigger must be one of pre_token, post_login")]
pub struct TriggerError;

impl Trigger {
    /// Every trigger.
    pub const ALL: [Self; 2] = [Self::PreToken, Self::PostLogin];

    /// Parses the wire name.
    ///
    /// # Errors
    /// [`TriggerError`] for any other text.
    pub fn parse(raw: &str) -> Result<Self, TriggerError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or(TriggerError)
    }

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PreToken => "pre_token",
            Self::PostLogin => "post_login",
        }
    }
}

/// An action's name: the rules of a role name (trimmed, 1 to 100
/// characters, no control characters, case kept), so the type is shared.
pub type ActionName = crate::access::RoleName;

/// An action's JavaScript source: not blank, at most 64 KiB of UTF-8, no
/// NUL; kept exactly as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionCode(String);

/// Why a text cannot be [`ActionCode`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionCodeError {
    /// Only whitespace.
    #[error("code is empty")]
    Empty,
    /// Over 64 KiB.
    #[error("code is larger than 65536 bytes")]
    TooLarge,
    /// Holds a NUL character (the engine reads C strings).
    #[error("code contains a NUL character")]
    Nul,
}

impl ActionCode {
    /// Largest accepted size in bytes (64 KiB).
    pub const MAX_BYTES: usize = 64 * 1024;

    /// Accepts source text.
    ///
    /// # Errors
    /// [`ActionCodeError`].
    pub fn parse(raw: &str) -> Result<Self, ActionCodeError> {
        if raw.trim().is_empty() {
            return Err(ActionCodeError::Empty);
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(ActionCodeError::TooLarge);
        }
        if raw.contains('\0') {
            return Err(ActionCodeError::Nul);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The source.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored action whose state contradicts itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("action {0} was updated before it was created")]
pub struct ActionStateError(pub ActionId);

/// An action of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Identity.
    pub id: ActionId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Name shown to operators.
    pub name: ActionName,
    /// When it runs; one action per trigger per environment.
    pub trigger: Trigger,
    /// The ES module source.
    pub code: ActionCode,
    /// Whether it runs.
    pub enabled: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time (also the version of its code).
    pub updated_at: Timestamp,
}

/// A new action, its values already parsed.
#[derive(Clone, Debug)]
pub struct NewAction {
    /// Name.
    pub name: ActionName,
    /// Trigger.
    pub trigger: Trigger,
    /// Source.
    pub code: ActionCode,
    /// Whether it runs.
    pub enabled: bool,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ActionChanges {
    /// New name.
    pub name: Option<ActionName>,
    /// New trigger.
    pub trigger: Option<Trigger>,
    /// New source.
    pub code: Option<ActionCode>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

impl Action {
    /// Creates an action. `id` and `now` come from the id source and the clock.
    #[must_use]
    pub fn create(
        id: ActionId,
        environment_id: EnvironmentId,
        new: NewAction,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            name: new.name,
            trigger: new.trigger,
            code: new.code,
            enabled: new.enabled,
            created_at: now,
            updated_at: now,
        }
    }

    /// Rebuilds a stored action, re-checking its invariants.
    ///
    /// # Errors
    /// [`ActionStateError`] when `updated_at` precedes `created_at`.
    pub fn from_parts(parts: Self) -> Result<Self, ActionStateError> {
        if parts.updated_at < parts.created_at {
            return Err(ActionStateError(parts.id));
        }
        Ok(parts)
    }

    /// Applies a partial update. `updated_at` never goes back, and moves
    /// forward by at least a microsecond, since it versions the code.
    pub fn apply(&mut self, changes: ActionChanges, now: Timestamp) {
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(trigger) = changes.trigger {
            self.trigger = trigger;
        }
        if let Some(code) = changes.code {
            self.code = code;
        }
        if let Some(enabled) = changes.enabled {
            self.enabled = enabled;
        }
        self.updated_at = now.max(self.updated_at.plus_micros(1));
    }

    /// The key of this version of the code: compiled code may be reused
    /// under it, and any change to the action changes it.
    #[must_use]
    pub fn version_key(&self) -> String {
        format!("{}@{}", self.id, self.updated_at.unix_micros())
    }
}

/// How a run of an action ended, as the execution log shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExecutionOutcome {
    /// It returned an acceptable value.
    Ok,
    /// It threw, crashed or returned something unusable.
    Error,
    /// The wall-time limit ended it (or its promise could never settle).
    Timeout,
    /// The memory limit ended it.
    Memory,
}

/// The text is not an execution outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("outcome must be one of ok, error, timeout, memory")]
pub struct ExecutionOutcomeError;

impl ExecutionOutcome {
    /// Every outcome.
    pub const ALL: [Self; 4] = [Self::Ok, Self::Error, Self::Timeout, Self::Memory];

    /// Parses the wire name.
    ///
    /// # Errors
    /// [`ExecutionOutcomeError`] for any other text.
    pub fn parse(raw: &str) -> Result<Self, ExecutionOutcomeError> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == raw)
            .ok_or(ExecutionOutcomeError)
    }

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Memory => "memory",
        }
    }
}

/// One recorded run of an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionExecution {
    /// Identity (ULID order is the order of the runs).
    pub id: ActionExecutionId,
    /// The environment of the action.
    pub environment_id: EnvironmentId,
    /// The action that ran.
    pub action_id: ActionId,
    /// How it ended.
    pub outcome: ExecutionOutcome,
    /// Milliseconds spent running.
    pub duration_ms: u32,
    /// What went wrong (or, on `ok`, what was ignored), at most 1000 characters.
    pub error: Option<String>,
    /// When it ran.
    pub executed_at: Timestamp,
}

/// The claims an action may never change in a token: the server sets them.
pub const RESERVED_CLAIMS: [&str; 9] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "scope",
    "client_id",
];

/// Whether `name` is a reserved claim.
#[must_use]
pub fn is_reserved_claim(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TextProblem;

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).unwrap()
    }

    fn action() -> Action {
        Action::create(
            ActionId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            EnvironmentId::from_ulid(ulid::Ulid::from_parts(2, 2)),
            NewAction {
                name: ActionName::parse("Add claims").unwrap(),
                trigger: Trigger::PreToken,
                code: ActionCode::parse("export default function() {}").unwrap(),
                enabled: true,
            },
            at(10),
        )
    }

    #[test]
    fn triggers_and_outcomes_round_trip() {
        for trigger in Trigger::ALL {
            assert_eq!(Trigger::parse(trigger.as_str()), Ok(trigger));
        }
        for bad in ["", "pre-token", "PRE_TOKEN", "post_register"] {
            assert_eq!(Trigger::parse(bad), Err(TriggerError), "{bad:?}");
        }
        for outcome in ExecutionOutcome::ALL {
            assert_eq!(ExecutionOutcome::parse(outcome.as_str()), Ok(outcome));
        }
        assert!(ExecutionOutcome::parse("crash").is_err());
    }

    #[test]
    fn code_is_bounded_at_64_kib_and_kept_as_given() {
        let exact = format!("//{}", "x".repeat(ActionCode::MAX_BYTES - 2));
        assert!(ActionCode::parse(&exact).is_ok());
        assert_eq!(
            ActionCode::parse(&format!("{exact}x")),
            Err(ActionCodeError::TooLarge)
        );
        assert_eq!(ActionCode::parse(" \n "), Err(ActionCodeError::Empty));
        assert_eq!(ActionCode::parse("a\0b"), Err(ActionCodeError::Nul));
        assert_eq!(ActionCode::parse("  x  ").unwrap().as_str(), "  x  ");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ActionName::parse("  Claims ").unwrap().as_str(), "Claims");
        assert_eq!(
            ActionName::parse(" ").map_err(|e| e.problem),
            Err(TextProblem::Empty)
        );
        assert_eq!(
            ActionName::parse(&"x".repeat(101)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert_eq!(
            ActionName::parse("a\nb").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
    }

    #[test]
    fn every_update_moves_the_version_forward() {
        let mut action = action();
        let first = action.version_key();
        action.apply(ActionChanges::default(), at(10));
        assert_eq!(action.updated_at, at(11), "moved even at the same instant");
        assert_ne!(action.version_key(), first);
        action.apply(
            ActionChanges {
                enabled: Some(false),
                ..ActionChanges::default()
            },
            at(5),
        );
        assert_eq!(action.updated_at, at(12), "never back in time");
        assert!(!action.enabled);
        assert!(Action::from_parts(action.clone()).is_ok());
        action.updated_at = at(1);
        assert!(Action::from_parts(action).is_err());
    }

    #[test]
    fn the_reserved_claims_are_the_ones_the_server_sets() {
        for name in [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "jti",
            "scope",
            "client_id",
        ] {
            assert!(is_reserved_claim(name), "{name}");
        }
        assert!(!is_reserved_claim("roles"));
        assert!(!is_reserved_claim("https://example.com/tier"));
    }
}
