//! Users: the people who sign in. Value objects parse their input once, so
//! that a `User` can only hold valid data.

use crate::text::{TextError, TextRules};
use crate::{EnvironmentId, Timestamp, UserId};

/// A syntactically valid e-mail address in its one canonical form, so that
/// one person is one address: Unicode NFKC, then lower-cased (Rust's full
/// Unicode lowercase mapping), then NFKC again. Invisible and bidirectional
/// formatting characters are refused rather than dropped. See
/// `docs/decisions.md` ("E-mail addresses: one canonical form").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a text cannot be an [`Email`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Empty after trimming.
    #[error("email is empty")]
    Empty,
    /// Longer than 254 characters (RFC 5321).
    #[error("email is longer than 254 characters")]
    TooLong,
    /// Not `local@domain.tld`.
    #[error("email is not a valid address")]
    Malformed,
    /// Holds an invisible or bidirectional formatting character: General
    /// Category `Cf` (U+200B zero width space, U+00AD soft hyphen, U+202E
    /// right-to-left override, U+2066..U+2069 isolates, U+FEFF ...) or
    /// another default-ignorable code point (U+034F, variation selectors,
    /// Hangul fillers ...). Such an address looks like another one.
    #[error("email contains the invisible or formatting character U+{:04X}", u32::from(*.0))]
    InvisibleCharacter(char),
}

/// Whether `c` is a formatting character (General Category `Cf`) or another
/// default-ignorable code point: both render as nothing, or change how their
/// neighbours render, so an address holding one looks like another address.
fn is_invisible(c: char) -> bool {
    use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
    use icu_properties::{CodePointMapData, CodePointSetData};
    CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// The canonical form of an address: NFKC (compatibility characters such as
/// fullwidth `\u{FF24}` become their plain letters, and composed and
/// decomposed accents become one form), lower-cased, and NFKC again since
/// lower-casing can leave a text that is not normalized.
fn canonical(raw: &str) -> String {
    let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
    nfkc.normalize(&nfkc.normalize(raw).to_lowercase())
        .into_owned()
}

/// The length and `local@domain.tld` rules, on a text already in its final form.
fn check_address(address: &str) -> Result<(), EmailError> {
    if address.is_empty() {
        return Err(EmailError::Empty);
    }
    if address.chars().count() > 254 {
        return Err(EmailError::TooLong);
    }
    let (local, domain) = address.rsplit_once('@').ok_or(EmailError::Malformed)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(EmailError::Malformed)
    }
}

impl Email {
    /// Parses an address of the form `local@domain.tld` into its canonical
    /// form (trimmed, NFKC, lower-cased).
    ///
    /// # Errors
    /// [`EmailError`] for an empty, over-long or malformed address, or one
    /// holding an invisible or formatting character.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(EmailError::Empty);
        }
        // Bounds the normalization work: composing never shrinks a text to a
        // sixteenth, so a text this long cannot end within 254 characters.
        if raw.len() > 16 * 254 {
            return Err(EmailError::TooLong);
        }
        if let Some(c) = raw.chars().find(|c| is_invisible(*c)) {
            return Err(EmailError::InvisibleCharacter(c));
        }
        let address = canonical(raw);
        check_address(&address)?;
        Ok(Self(address))
    }

    /// Rebuilds an address read from the store, exactly as stored (storage
    /// adapters only). It re-checks the length and syntax rules but neither
    /// normalizes nor refuses invisible characters: rows written before the
    /// canonical form existed hold their lower-cased text, and must keep
    /// matching the lookups and the unique key they were stored under.
    ///
    /// # Errors
    /// [`EmailError`] for a stored text that is no address at all.
    pub fn from_stored(stored: &str) -> Result<Self, EmailError> {
        check_address(stored)?;
        Ok(Self(stored.to_owned()))
    }

    /// The address as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as a person typed it, checked against the length policy: 8 to
/// 72 bytes, since bcrypt reads only 72.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Why a text cannot be a [`Password`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Under 8 bytes.
    #[error("password is shorter than 8 bytes")]
    TooShort,
    /// Over 72 bytes.
    #[error("password is longer than 72 bytes")]
    TooLong,
    /// `password_confirmation` differs from `password`.
    #[error("password_confirmation does not match password")]
    ConfirmationMismatch,
}

impl Password {
    /// Smallest accepted length in bytes.
    pub const MIN_BYTES: usize = 8;
    /// Largest accepted length in bytes (what bcrypt reads).
    pub const MAX_BYTES: usize = 72;

    /// Checks a password and its confirmation.
    ///
    /// # Errors
    /// [`PasswordError`] when the length is out of bounds or the confirmation differs.
    pub fn parse(raw: String, confirmation: Option<&str>) -> Result<Self, PasswordError> {
        if raw.len() < Self::MIN_BYTES {
            return Err(PasswordError::TooShort);
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(PasswordError::TooLong);
        }
        if confirmation.is_some_and(|c| c != raw) {
            return Err(PasswordError::ConfirmationMismatch);
        }
        Ok(Self(raw))
    }

    /// The password itself, for the hasher only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A stored password hash (bcrypt's modular crypt format); opaque to the domain.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    /// Wraps a hash produced by the password hasher or read from the store.
    #[must_use]
    pub fn new(encoded: String) -> Self {
        Self(encoded)
    }

    /// The encoded hash.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A first or last name: at most 100 characters, no control characters;
/// blank means absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// What the type accepts.
    pub const RULES: TextRules = TextRules::name("name", 100).or_empty();
    /// Largest accepted length in characters.
    pub const MAX_CHARS: usize = Self::RULES.max_chars;

    /// Parses a name; `Ok(None)` for a blank one.
    ///
    /// # Errors
    /// [`TextError`] for an over-long name or one with control characters.
    pub fn parse(raw: &str) -> Result<Option<Self>, TextError> {
        let kept = Self::RULES.check(raw)?;
        Ok((!kept.is_empty()).then(|| Self(kept.to_owned())))
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free-form metadata: the text of a JSON object of at most 16 KiB. Whether
/// it is an object is checked where JSON is parsed (the adapters); the domain
/// keeps the size bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata(String);

/// Why a text cannot be [`Metadata`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Over 16 KiB once serialized.
    #[error("metadata is larger than 16 KiB")]
    TooLarge,
}

impl Metadata {
    /// Largest accepted size in bytes of the serialized object.
    pub const MAX_BYTES: usize = 16 * 1024;

    /// Wraps the serialized JSON object.
    ///
    /// # Errors
    /// [`MetadataError::TooLarge`] above [`Metadata::MAX_BYTES`].
    pub fn from_json_text(text: String) -> Result<Self, MetadataError> {
        if text.len() > Self::MAX_BYTES {
            return Err(MetadataError::TooLarge);
        }
        Ok(Self(text))
    }

    /// The empty object.
    #[must_use]
    pub fn empty() -> Self {
        Self("{}".to_owned())
    }

    /// The serialized JSON object.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Metadata {
    fn default() -> Self {
        Self::empty()
    }
}

/// What a new user is registered with.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Sign-in address (unique per environment, ignoring case).
    pub email: Email,
    /// Given name.
    pub first_name: Option<PersonName>,
    /// Family name.
    pub last_name: Option<PersonName>,
    /// Hash of the initial password, if the user has one.
    pub password_hash: Option<PasswordHash>,
    /// Whether the address was verified.
    pub email_verified: bool,
    /// Created blocked.
    pub blocked: bool,
    /// Free-form metadata.
    pub metadata: Metadata,
}

impl NewUser {
    /// A user with only an address: no name, no password, not verified, not blocked.
    #[must_use]
    pub fn with_email(email: Email) -> Self {
        Self {
            email,
            first_name: None,
            last_name: None,
            password_hash: None,
            email_verified: false,
            blocked: false,
            metadata: Metadata::empty(),
        }
    }
}

/// A user of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    id: UserId,
    environment_id: EnvironmentId,
    email: Email,
    first_name: Option<PersonName>,
    last_name: Option<PersonName>,
    password_hash: Option<PasswordHash>,
    email_verified: bool,
    blocked: bool,
    metadata: Metadata,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// Every field of a [`User`], for stores rebuilding one.
#[derive(Clone, Debug)]
pub struct UserParts {
    /// See [`User::id`].
    pub id: UserId,
    /// See [`User::environment_id`].
    pub environment_id: EnvironmentId,
    /// See [`User::email`].
    pub email: Email,
    /// See [`User::first_name`].
    pub first_name: Option<PersonName>,
    /// See [`User::last_name`].
    pub last_name: Option<PersonName>,
    /// See [`User::password_hash`].
    pub password_hash: Option<PasswordHash>,
    /// See [`User::email_verified`].
    pub email_verified: bool,
    /// See [`User::blocked`].
    pub blocked: bool,
    /// See [`User::metadata`].
    pub metadata: Metadata,
    /// See [`User::created_at`].
    pub created_at: Timestamp,
    /// See [`User::updated_at`].
    pub updated_at: Timestamp,
}

/// A stored user whose timestamps contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("user {0} was updated before it was created")]
pub struct UserStateError(pub UserId);

/// A partial update; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    /// New address.
    pub email: Option<Email>,
    /// New given name, or cleared.
    pub first_name: Option<Option<PersonName>>,
    /// New family name, or cleared.
    pub last_name: Option<Option<PersonName>>,
    /// New password hash.
    pub password_hash: Option<PasswordHash>,
    /// New verification flag.
    pub email_verified: Option<bool>,
    /// New blocked flag.
    pub blocked: Option<bool>,
    /// New metadata (replaces the old object).
    pub metadata: Option<Metadata>,
}

impl User {
    /// Registers a new user. `id` and `now` come from the id source and the clock.
    #[must_use]
    pub fn register(
        id: UserId,
        environment_id: EnvironmentId,
        new: NewUser,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            email: new.email,
            first_name: new.first_name,
            last_name: new.last_name,
            password_hash: new.password_hash,
            email_verified: new.email_verified,
            blocked: new.blocked,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
        }
    }

    /// Rebuilds a stored user, re-checking its invariants.
    ///
    /// # Errors
    /// [`UserStateError`] when `updated_at` precedes `created_at`.
    pub fn from_parts(parts: UserParts) -> Result<Self, UserStateError> {
        if parts.updated_at < parts.created_at {
            return Err(UserStateError(parts.id));
        }
        Ok(Self {
            id: parts.id,
            environment_id: parts.environment_id,
            email: parts.email,
            first_name: parts.first_name,
            last_name: parts.last_name,
            password_hash: parts.password_hash,
            email_verified: parts.email_verified,
            blocked: parts.blocked,
            metadata: parts.metadata,
            created_at: parts.created_at,
            updated_at: parts.updated_at,
        })
    }

    /// Applies a partial update; returns whether blocking began with it
    /// (the caller then revokes the user's sessions).
    pub fn apply(&mut self, changes: UserChanges, now: Timestamp) -> bool {
        let was_blocked = self.blocked;
        if let Some(email) = changes.email {
            if email != self.email {
                self.email_verified = false;
            }
            self.email = email;
        }
        if let Some(first_name) = changes.first_name {
            self.first_name = first_name;
        }
        if let Some(last_name) = changes.last_name {
            self.last_name = last_name;
        }
        if let Some(hash) = changes.password_hash {
            self.password_hash = Some(hash);
        }
        if let Some(verified) = changes.email_verified {
            self.email_verified = verified;
        }
        if let Some(blocked) = changes.blocked {
            self.blocked = blocked;
        }
        if let Some(metadata) = changes.metadata {
            self.metadata = metadata;
        }
        self.updated_at = now.max(self.created_at);
        !was_blocked && self.blocked
    }

    /// Identity.
    #[must_use]
    pub fn id(&self) -> UserId {
        self.id
    }
    /// The environment it belongs to.
    #[must_use]
    pub fn environment_id(&self) -> EnvironmentId {
        self.environment_id
    }
    /// Sign-in address.
    #[must_use]
    pub fn email(&self) -> &Email {
        &self.email
    }
    /// Given name.
    #[must_use]
    pub fn first_name(&self) -> Option<&PersonName> {
        self.first_name.as_ref()
    }
    /// Family name.
    #[must_use]
    pub fn last_name(&self) -> Option<&PersonName> {
        self.last_name.as_ref()
    }
    /// Password hash, absent for users who sign in only through a connection.
    #[must_use]
    pub fn password_hash(&self) -> Option<&PasswordHash> {
        self.password_hash.as_ref()
    }
    /// Whether the address was verified.
    #[must_use]
    pub fn email_verified(&self) -> bool {
        self.email_verified
    }
    /// Whether the user is blocked (suspended).
    #[must_use]
    pub fn blocked(&self) -> bool {
        self.blocked
    }
    /// Free-form metadata.
    #[must_use]
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
    /// Creation time.
    #[must_use]
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// Last update time.
    #[must_use]
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TextProblem;
    use ulid::Ulid;

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).unwrap()
    }

    fn user() -> User {
        User::register(
            UserId::from_ulid(Ulid::nil()),
            EnvironmentId::from_ulid(Ulid::nil()),
            NewUser::with_email(Email::parse("a@example.com").unwrap()),
            at(1_000),
        )
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Jane@Example.COM ").unwrap().as_str(),
            "jane@example.com"
        );
        assert_eq!(
            Email::parse("first.last+tag@sub.example.co.uk")
                .unwrap()
                .as_str(),
            "first.last+tag@sub.example.co.uk"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        for bad in [
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "a@-x.com",
            "a@x..com",
            "a@@x.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn look_alike_addresses_fold_to_one_canonical_form() {
        // Fullwidth letters (compatibility characters) become plain ones.
        assert_eq!(
            Email::parse("\u{ff24}UP@example.com").unwrap().as_str(),
            "dup@example.com"
        );
        assert_eq!(
            Email::parse("\u{ff24}\u{ff35}\u{ff30}\u{ff20}\u{ff45}xample.com")
                .unwrap()
                .as_str(),
            "dup@example.com"
        );
        // A decomposed accent and the composed letter are one address.
        let composed = Email::parse("jos\u{e9}@example.com").unwrap();
        assert_eq!(Email::parse("jose\u{301}@example.com").unwrap(), composed);
        assert_eq!(Email::parse("JOSE\u{301}@example.com").unwrap(), composed);
        assert_eq!(composed.as_str(), "jos\u{e9}@example.com");
        // Ligatures, and a capital whose lower case is not normalized by itself.
        assert_eq!(
            Email::parse("\u{fb01}n@example.com").unwrap().as_str(),
            "fin@example.com"
        );
        assert_eq!(
            Email::parse("\u{130}@example.com").unwrap().as_str(),
            "i\u{307}@example.com"
        );
        // The canonical form is a fixed point.
        for raw in [
            "jos\u{e9}@example.com",
            "\u{fb01}N@Ex.com",
            "\u{130}@example.com",
        ] {
            let once = Email::parse(raw).unwrap();
            assert_eq!(Email::parse(once.as_str()).unwrap(), once, "{raw}");
        }
    }

    #[test]
    fn invisible_and_bidirectional_characters_are_refused() {
        for (raw, c) in [
            ("d\u{200b}up@example.com", '\u{200b}'),
            ("du\u{ad}p@example.com", '\u{ad}'),
            ("\u{202e}dup@example.com", '\u{202e}'),
            ("dup\u{2066}@example.com", '\u{2066}'),
            ("dup\u{2069}@example.com", '\u{2069}'),
            ("\u{feff}dup@example.com", '\u{feff}'),
            ("dup@exa\u{200d}mple.com", '\u{200d}'),
            ("d\u{34f}up@example.com", '\u{34f}'),
            ("du\u{fe0f}p@example.com", '\u{fe0f}'),
            ("d\u{3164}up@example.com", '\u{3164}'),
        ] {
            assert_eq!(
                Email::parse(raw),
                Err(EmailError::InvisibleCharacter(c)),
                "{raw:?}"
            );
        }
        assert_eq!(
            EmailError::InvisibleCharacter('\u{200b}').to_string(),
            "email contains the invisible or formatting character U+200B"
        );
        assert_eq!(
            Email::parse("a\u{0}@example.com"),
            Err(EmailError::Malformed)
        );
    }

    #[test]
    fn stored_addresses_are_read_back_unchanged() {
        // A row written before the canonical form existed keeps its text,
        // so that lookups and the unique key still find it.
        let legacy = Email::from_stored("d\u{200b}up@example.com").unwrap();
        assert_eq!(legacy.as_str(), "d\u{200b}up@example.com");
        assert_eq!(Email::from_stored("plain"), Err(EmailError::Malformed));
        assert_eq!(Email::from_stored(""), Err(EmailError::Empty));
    }

    #[test]
    fn passwords_hold_between_8_and_72_bytes_and_match_confirmation() {
        assert_eq!(
            Password::parse("short".into(), None),
            Err(PasswordError::TooShort)
        );
        assert_eq!(
            Password::parse("x".repeat(73), None),
            Err(PasswordError::TooLong)
        );
        assert!(Password::parse("x".repeat(72), None).is_ok());
        assert_eq!(
            Password::parse("correct horse".into(), Some("correct horsf")),
            Err(PasswordError::ConfirmationMismatch)
        );
        // 24 three-byte characters are 72 bytes: the bound is in bytes, not characters.
        assert_eq!(
            Password::parse("€".repeat(25), None),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn password_debug_never_shows_the_secret() {
        let password = Password::parse("hunter2hunter2".into(), None).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn names_are_trimmed_and_blank_means_absent() {
        assert_eq!(PersonName::parse("  "), Ok(None));
        assert_eq!(
            PersonName::parse(" Jane ").unwrap().unwrap().as_str(),
            "Jane"
        );
        assert_eq!(
            PersonName::parse(&"a".repeat(101)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert_eq!(
            PersonName::parse("a\u{0}b").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
    }

    #[test]
    fn metadata_is_bounded_to_16_kib() {
        assert!(Metadata::from_json_text(format!("{{\"a\":\"{}\"}}", "x".repeat(16_000))).is_ok());
        assert_eq!(
            Metadata::from_json_text("x".repeat(16 * 1024 + 1)),
            Err(MetadataError::TooLarge)
        );
    }

    #[test]
    fn blocking_reports_the_transition_once() {
        let mut user = user();
        assert!(user.apply(
            UserChanges {
                blocked: Some(true),
                ..UserChanges::default()
            },
            at(2_000)
        ));
        assert!(!user.apply(
            UserChanges {
                blocked: Some(true),
                ..UserChanges::default()
            },
            at(3_000)
        ));
        assert!(user.blocked());
        assert_eq!(user.updated_at(), at(3_000));
    }

    #[test]
    fn changing_the_email_clears_verification() {
        let mut user = user();
        user.apply(
            UserChanges {
                email_verified: Some(true),
                ..UserChanges::default()
            },
            at(2_000),
        );
        assert!(user.email_verified());
        user.apply(
            UserChanges {
                email: Email::parse("b@example.com").ok(),
                ..UserChanges::default()
            },
            at(3_000),
        );
        assert!(!user.email_verified());
    }

    #[test]
    fn stored_users_updated_before_creation_are_refused() {
        let u = user();
        let parts = UserParts {
            id: u.id(),
            environment_id: u.environment_id(),
            email: u.email().clone(),
            first_name: None,
            last_name: None,
            password_hash: None,
            email_verified: false,
            blocked: false,
            metadata: Metadata::empty(),
            created_at: at(5_000),
            updated_at: at(4_000),
        };
        assert!(User::from_parts(parts).is_err());
    }
}
