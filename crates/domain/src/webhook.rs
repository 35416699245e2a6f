//! Webhooks: HTTP endpoints an environment's events are delivered to, and
//! the record of each delivery attempt. The signing secret is held
//! encrypted; the domain never sees it in clear.
//!
//! The private-address guard lives here ([`address`]) as pure functions so
//! that the API (literal hosts, at create/update time) and the delivery
//! adapter (the resolved address, at send time) apply the same rule.

pub mod address;

use std::net::IpAddr;

use url::{Host, Url};

use crate::text::TextRules;
use crate::{DeliveryAttemptId, EnvironmentId, EventId, Timestamp, WebhookId};

crate::bounded_text! {
    /// A webhook's name: trimmed, 1 to 100 characters, no control characters.
    pub struct WebhookName = TextRules::name("name", 100);
}

/// A webhook's target: an absolute `https` URL with a host, no user info,
/// no fragment, at most 2048 characters. Unless private targets are
/// allowed, `http`, `localhost` and literal addresses that are not globally
/// reachable ([`address::refusal`]) are refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(String);

/// Why a text cannot be a [`WebhookUrl`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// Not an absolute URL with a host.
    #[error("url must be an absolute URL with a host")]
    NotAbsolute,
    /// Another scheme than `https` (or `http` where allowed).
    #[error("url must use https")]
    NotHttps,
    /// User name or password in the URL.
    #[error("url must not contain a user name or password")]
    Credentials,
    /// Holds a fragment.
    #[error("url must not contain a fragment")]
    Fragment,
    /// Over 2048 characters.
    #[error("url is longer than 2048 characters")]
    TooLong,
    /// The host is `localhost` or an address that is not globally
    /// reachable (loopback, private, link-local, reserved, documentation,
    /// an IPv6 form carrying such an IPv4 address, ...).
    #[error(
        "url must not point at a loopback, private, reserved or otherwise not globally reachable address"
    )]
    PrivateTarget,
}

impl WebhookUrl {
    /// Largest accepted length in characters.
    pub const MAX_CHARS: usize = 2048;

    /// Parses a target URL; `allow_private` lifts the `https` and
    /// private-host rules (development and tests).
    ///
    /// # Errors
    /// [`WebhookUrlError`].
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, WebhookUrlError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(WebhookUrlError::TooLong);
        }
        if raw.trim() != raw || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(WebhookUrlError::NotAbsolute);
        }
        let url = Url::parse(raw).map_err(|_| WebhookUrlError::NotAbsolute)?;
        match (url.scheme(), allow_private) {
            ("https", _) | ("http", true) => {}
            _ => return Err(WebhookUrlError::NotHttps),
        }
        let Some(host) = url.host() else {
            return Err(WebhookUrlError::NotAbsolute);
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebhookUrlError::Credentials);
        }
        if url.fragment().is_some() {
            return Err(WebhookUrlError::Fragment);
        }
        if !allow_private && is_private_host(&host) {
            return Err(WebhookUrlError::PrivateTarget);
        }
        Ok(Self(raw.to_owned()))
    }

    /// Rebuilds a stored URL, checking only its shape (the private-target
    /// rule is the configuration's, checked again at delivery time).
    ///
    /// # Errors
    /// [`WebhookUrlError`].
    pub fn from_stored(raw: &str) -> Result<Self, WebhookUrlError> {
        Self::parse(raw, true)
    }

    /// The URL as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_private_host(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => address::refusal(IpAddr::V4(*ip)).is_some(),
        Host::Ipv6(ip) => address::refusal(IpAddr::V6(*ip)).is_some(),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

/// A signing secret encrypted with the master key; `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedSigningSecret(Vec<u8>);

impl std::fmt::Debug for EncryptedSigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptedSigningSecret({} bytes)", self.0.len())
    }
}

impl EncryptedSigningSecret {
    /// Wraps ciphertext produced by the cipher or read from the store.
    #[must_use]
    pub fn new(ciphertext: Vec<u8>) -> Self {
        Self(ciphertext)
    }

    /// The ciphertext.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A stored webhook whose state contradicts itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookStateError {
    /// `updated_at` precedes `created_at`.
    #[error("webhook {0} was updated before it was created")]
    Timestamps(WebhookId),
}

/// An endpoint that receives an environment's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// Identity.
    pub id: WebhookId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Name for people.
    pub name: WebhookName,
    /// Where deliveries go.
    pub url: WebhookUrl,
    /// The event types it subscribes to, without repeats, in the order given
    /// (names from the event catalog; the application checks them).
    pub events: Vec<String>,
    /// Whether new events are queued for it.
    pub active: bool,
    /// The signing secret, encrypted.
    pub signing_secret: EncryptedSigningSecret,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WebhookChanges {
    /// New name.
    pub name: Option<WebhookName>,
    /// New URL.
    pub url: Option<WebhookUrl>,
    /// New subscriptions.
    pub events: Option<Vec<String>>,
    /// New active flag.
    pub active: Option<bool>,
    /// New encrypted signing secret (rotation).
    pub signing_secret: Option<EncryptedSigningSecret>,
}

/// The event names without repeats, first occurrence kept.
#[must_use]
pub fn dedupe_events(events: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::with_capacity(events.len());
    for event in events {
        if !kept.contains(&event) {
            kept.push(event);
        }
    }
    kept
}

impl Webhook {
    /// Creates an active-or-not webhook; `id` and `now` come from the id
    /// source and the clock.
    #[must_use]
    #[expect(clippy::too_many_arguments, reason = "a plain constructor of a record")]
    pub fn create(
        id: WebhookId,
        environment_id: EnvironmentId,
        name: WebhookName,
        url: WebhookUrl,
        events: Vec<String>,
        active: bool,
        signing_secret: EncryptedSigningSecret,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            name,
            url,
            events: dedupe_events(events),
            active,
            signing_secret,
            created_at: now,
            updated_at: now,
        }
    }

    /// Rebuilds a stored webhook, re-checking its invariants.
    ///
    /// # Errors
    /// [`WebhookStateError`].
    pub fn from_parts(parts: Self) -> Result<Self, WebhookStateError> {
        if parts.updated_at < parts.created_at {
            return Err(WebhookStateError::Timestamps(parts.id));
        }
        Ok(parts)
    }

    /// Applies a partial update.
    pub fn apply(&mut self, changes: WebhookChanges, now: Timestamp) {
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(url) = changes.url {
            self.url = url;
        }
        if let Some(events) = changes.events {
            self.events = dedupe_events(events);
        }
        if let Some(active) = changes.active {
            self.active = active;
        }
        if let Some(secret) = changes.signing_secret {
            self.signing_secret = secret;
        }
        self.updated_at = now.max(self.created_at);
    }
}

/// How one delivery attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Succeeded,
    /// The attempt failed and another will follow.
    Retrying,
    /// The attempt failed and the retry horizon is reached: no more attempts.
    Failed,
}

/// The text is not a [`DeliveryOutcome`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("outcome must be one of succeeded, retrying, failed")]
pub struct DeliveryOutcomeError;

impl DeliveryOutcome {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
        }
    }

    /// Parses the wire name.
    ///
    /// # Errors
    /// [`DeliveryOutcomeError`].
    pub fn parse(raw: &str) -> Result<Self, DeliveryOutcomeError> {
        [Self::Succeeded, Self::Retrying, Self::Failed]
            .into_iter()
            .find(|o| o.as_str() == raw)
            .ok_or(DeliveryOutcomeError)
    }
}

/// One attempt to deliver an event to a webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// Identity (ULID order is attempt order).
    pub id: DeliveryAttemptId,
    /// The webhook.
    pub webhook_id: WebhookId,
    /// The event delivered.
    pub event_id: EventId,
    /// 1 for the first attempt of this event to this webhook.
    pub attempt: u32,
    /// The receiver's status code; `None` when there was no response.
    pub status_code: Option<u16>,
    /// Time from sending to the end of the response (or the failure).
    pub duration_ms: u64,
    /// What went wrong, for people; `None` on success.
    pub error: Option<String>,
    /// How the attempt ended.
    pub outcome: DeliveryOutcome,
    /// When the attempt started.
    pub attempted_at: Timestamp,
}

/// The wait before retry number `attempt + 1` after `attempt` failures:
/// `initial_ms * 2^(attempt-1)`, capped at `max_ms`, scaled by `jitter`
/// (a number in `[0, 1)` drawn by the caller) into `[half, full]` of it, so
/// that receivers coming back are not hit by every sender at once.
#[must_use]
pub fn retry_delay_ms(attempt: u32, initial_ms: u64, max_ms: u64, jitter: f64) -> u64 {
    let exponent = attempt.saturating_sub(1).min(40);
    let base = initial_ms.saturating_mul(1_u64 << exponent).min(max_ms);
    let jitter = jitter.clamp(0.0, 1.0);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "base fits in f64's integer range for any sane delay; result is non-negative"
    )]
    let scaled = (base as f64 * (0.5 + jitter / 2.0)) as u64;
    scaled.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TextProblem;

    #[test]
    fn urls_must_be_https_public_and_clean() {
        assert!(WebhookUrl::parse("https://hooks.example.com/in?x=1", false).is_ok());
        for (raw, error) in [
            ("http://hooks.example.com/", WebhookUrlError::NotHttps),
            ("ftp://hooks.example.com/", WebhookUrlError::NotHttps),
            ("hooks.example.com", WebhookUrlError::NotAbsolute),
            (" https://a.example", WebhookUrlError::NotAbsolute),
            ("https://u:p@a.example/", WebhookUrlError::Credentials),
            ("https://a.example/#f", WebhookUrlError::Fragment),
            ("https://127.0.0.1/", WebhookUrlError::PrivateTarget),
            ("https://10.1.2.3/", WebhookUrlError::PrivateTarget),
            ("https://172.16.0.1/", WebhookUrlError::PrivateTarget),
            ("https://192.168.1.1/", WebhookUrlError::PrivateTarget),
            ("https://169.254.169.254/", WebhookUrlError::PrivateTarget),
            ("https://[::1]/", WebhookUrlError::PrivateTarget),
            ("https://[fe80::1]/", WebhookUrlError::PrivateTarget),
            ("https://[fd00::1]/", WebhookUrlError::PrivateTarget),
            (
                "https://[::ffff:127.0.0.1]/",
                WebhookUrlError::PrivateTarget,
            ),
            ("https://localhost:8443/", WebhookUrlError::PrivateTarget),
            ("https://app.localhost/", WebhookUrlError::PrivateTarget),
            ("https://0.0.0.0/", WebhookUrlError::PrivateTarget),
            ("https://100.64.0.1/", WebhookUrlError::PrivateTarget),
            // Issue 14: special-purpose blocks and IPv6 forms carrying a refused IPv4 address.
            ("https://[::127.0.0.1]/", WebhookUrlError::PrivateTarget),
            ("https://[64:ff9b::7f00:1]/", WebhookUrlError::PrivateTarget),
            (
                "https://[64:ff9b:1::808:808]/",
                WebhookUrlError::PrivateTarget,
            ),
            ("https://[2002:7f00:1::1]/", WebhookUrlError::PrivateTarget),
            (
                "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
                WebhookUrlError::PrivateTarget,
            ),
            ("https://198.18.0.1/", WebhookUrlError::PrivateTarget),
            ("https://240.0.0.1/", WebhookUrlError::PrivateTarget),
            ("https://192.0.2.1/", WebhookUrlError::PrivateTarget),
            ("https://[2001:db8::1]/", WebhookUrlError::PrivateTarget),
        ] {
            assert_eq!(WebhookUrl::parse(raw, false), Err(error), "{raw:?}");
        }
        let long = format!("https://a.example/{}", "a".repeat(2048));
        assert_eq!(
            WebhookUrl::parse(&long, false),
            Err(WebhookUrlError::TooLong)
        );
    }

    #[test]
    fn allowing_private_targets_lifts_only_the_scheme_and_host_rules() {
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(WebhookUrl::parse("https://[::1]/", true).is_ok());
        assert_eq!(
            WebhookUrl::parse("ftp://127.0.0.1/", true),
            Err(WebhookUrlError::NotHttps)
        );
        assert_eq!(
            WebhookUrl::parse("http://127.0.0.1/#x", true),
            Err(WebhookUrlError::Fragment)
        );
    }

    #[test]
    fn public_addresses_are_accepted() {
        for url in [
            "https://93.184.216.34/",
            "https://8.8.8.8/",
            "https://[2606:4700::1111]/",
            "https://172.32.0.1/",
            "https://[64:ff9b::808:808]/",
            "https://[2002:808:808::1]/",
            "https://[::ffff:8.8.8.8]/",
        ] {
            assert!(WebhookUrl::parse(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(
            WebhookName::parse("  Billing ").unwrap().as_str(),
            "Billing"
        );
        assert_eq!(
            WebhookName::parse(" ").map_err(|e| e.problem),
            Err(TextProblem::Empty)
        );
        assert_eq!(
            WebhookName::parse(&"x".repeat(101)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert_eq!(
            WebhookName::parse("a\u{1}").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
    }

    #[test]
    fn events_are_deduplicated_in_order() {
        assert_eq!(
            dedupe_events(vec!["b".into(), "a".into(), "b".into()]),
            vec!["b".to_owned(), "a".to_owned()]
        );
    }

    #[test]
    fn retry_delay_doubles_is_capped_and_jittered_into_half_to_full() {
        assert_eq!(retry_delay_ms(1, 1000, 60_000, 0.999_999), 999);
        assert_eq!(retry_delay_ms(1, 1000, 60_000, 0.0), 500);
        assert_eq!(retry_delay_ms(3, 1000, 60_000, 0.0), 2000);
        assert_eq!(retry_delay_ms(30, 1000, 60_000, 0.0), 30_000);
        assert_eq!(retry_delay_ms(u32::MAX, 1000, 60_000, 1.0), 60_000);
        assert_eq!(retry_delay_ms(1, 0, 0, 0.5), 1);
    }

    #[test]
    fn outcomes_round_trip_and_debug_hides_ciphertext() {
        for outcome in [
            DeliveryOutcome::Succeeded,
            DeliveryOutcome::Retrying,
            DeliveryOutcome::Failed,
        ] {
            assert_eq!(DeliveryOutcome::parse(outcome.as_str()), Ok(outcome));
        }
        assert!(DeliveryOutcome::parse("ok").is_err());
        assert_eq!(
            format!("{:?}", EncryptedSigningSecret::new(vec![1, 2])),
            "EncryptedSigningSecret(2 bytes)"
        );
    }
}
