//! Rate limits of `/oauth/token` (per source address and per client) and of
//! `/api` (per client), with `governor`'s keyed GCRA limiters, and the
//! `RateLimit-Policy` / `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers
//! (draft 08) on every answer the limits apply to.
//!
//! A policy of `q` requests per `w` seconds lets a key spend `q` requests at
//! once, then replenishes one every `w / q` seconds (GCRA: a token bucket of
//! `q` filled at `q / w` per second). Keys idle long enough to be back at a
//! full bucket are purged now and then, so memory stays bounded by the keys
//! active within one window.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, HttpRequest};
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;

/// `RateLimit-Policy`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Requests refused by a rate limit: `policy`.
pub const RATE_LIMITED: &str = "portcullis_rate_limited_total";

/// One limit: `requests` per `window_seconds`; `requests == 0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests a key may make per window (and at once, after a quiet window).
    pub requests: u32,
    /// The window, in seconds.
    pub window_seconds: u32,
}

/// The three limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `/oauth/token` per TCP peer address.
    pub token_per_address: Limit,
    /// `/oauth/token` per `client_id` (authenticated or not).
    pub token_per_client: Limit,
    /// `/api` per authenticated client.
    pub api_per_client: Limit,
    /// The public answers to invitations per TCP peer address.
    pub public_per_address: Limit,
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One named, keyed limiter.
struct Policy<K: Hash + Eq + Clone> {
    name: &'static str,
    limit: Limit,
    limiter: Keyed<K>,
    checks: AtomicU64,
}

/// Checks between two purges of idle keys.
const PURGE_EVERY: u64 = 4096;

impl<K: Hash + Eq + Clone> Policy<K> {
    fn new(name: &'static str, limit: Limit) -> Option<Self> {
        let requests = NonZeroU32::new(limit.requests)?;
        let window = Duration::from_secs(u64::from(limit.window_seconds.max(1)));
        let quota = Quota::with_period(window / requests.get())?.allow_burst(requests);
        Some(Self {
            name,
            limit,
            limiter: RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>(),
            checks: AtomicU64::new(0),
        })
    }

    fn check(&self, key: &K) -> Decision {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let per_request = f64::from(self.limit.window_seconds) / f64::from(self.limit.requests);
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = self.limit.requests.saturating_sub(remaining);
                Decision {
                    name: self.name,
                    limit: self.limit,
                    remaining,
                    reset: ceil_seconds(per_request * f64::from(used)),
                    retry_after: None,
                }
            }
            Err(not_until) => {
                metrics::counter!(RATE_LIMITED, "policy" => self.name).increment(1);
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                let retry = ceil_seconds(wait.as_secs_f64()).max(1);
                Decision {
                    name: self.name,
                    limit: self.limit,
                    remaining: 0,
                    reset: retry,
                    retry_after: Some(retry),
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.limiter.len()
    }
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a non-negative number of seconds well below u64::MAX"
)]
fn ceil_seconds(seconds: f64) -> u64 {
    seconds.max(0.0).ceil() as u64
}

/// The outcome of one check, and the header fields that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    name: &'static str,
    limit: Limit,
    remaining: u32,
    reset: u64,
    retry_after: Option<u64>,
}

impl Decision {
    /// Whether the request is refused.
    #[must_use]
    pub fn refused(&self) -> bool {
        self.retry_after.is_some()
    }

    /// The JSON:API `429 rate_limited` error of a refused `/api` request
    /// (the header fields are added by [`rate_limit_headers`]).
    #[must_use]
    pub fn api_error(&self) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            self.description(),
        )
    }

    /// Why a request was refused, for error documents.
    #[must_use]
    pub fn description(&self) -> String {
        let whom = match self.name {
            "token-address" | "public-address" => "this address",
            _ => "this client",
        };
        format!(
            "{whom} may make {} requests per {} seconds here; retry after {} seconds",
            self.limit.requests,
            self.limit.window_seconds,
            self.retry_after.unwrap_or(1)
        )
    }
}

/// The decisions taken on one request, kept in its extensions.
#[derive(Debug, Clone, Default)]
struct Decisions(Vec<Decision>);

/// Remembers `decision` on `request`, for [`rate_limit_headers`].
pub fn note(request: &HttpRequest, decision: &Decision) {
    let mut extensions = request.extensions_mut();
    if let Some(decisions) = extensions.get_mut::<Decisions>() {
        decisions.0.push(decision.clone());
    } else {
        extensions.insert(Decisions(vec![decision.clone()]));
    }
}

/// `RateLimit-Policy` and `RateLimit` (one list member per policy applied)
/// and, when a policy refused the request, `Retry-After`.
#[must_use]
pub fn header_fields(decisions: &[Decision]) -> Vec<(HeaderName, String)> {
    if decisions.is_empty() {
        return Vec::new();
    }
    let policy = decisions
        .iter()
        .map(|d| {
            format!(
                "\"{}\";q={};w={}",
                d.name, d.limit.requests, d.limit.window_seconds
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let state = decisions
        .iter()
        .map(|d| format!("\"{}\";r={};t={}", d.name, d.remaining, d.reset))
        .collect::<Vec<_>>()
        .join(", ");
    let mut fields = vec![(RATELIMIT_POLICY, policy), (RATELIMIT, state)];
    if let Some(seconds) = decisions.iter().filter_map(|d| d.retry_after).max() {
        fields.push((header::RETRY_AFTER, seconds.to_string()));
    }
    fields
}

/// Adds the rate-limit header fields of the policies a request went through
/// to its response, whatever the response.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn rate_limit_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut response = next.call(request).await?;
    let decisions = response.request().extensions().get::<Decisions>().cloned();
    if let Some(Decisions(decisions)) = decisions {
        for (name, value) in header_fields(&decisions) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    Ok(response)
}

/// The limiters of one server process.
pub struct RateLimits {
    token_per_address: Option<Policy<IpAddr>>,
    token_per_client: Option<Policy<String>>,
    api_per_client: Option<Policy<String>>,
    public_per_address: Option<Policy<IpAddr>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field(
                "token_per_address",
                &self.token_per_address.as_ref().map(|p| p.limit),
            )
            .field(
                "token_per_client",
                &self.token_per_client.as_ref().map(|p| p.limit),
            )
            .field(
                "api_per_client",
                &self.api_per_client.as_ref().map(|p| p.limit),
            )
            .field(
                "public_per_address",
                &self.public_per_address.as_ref().map(|p| p.limit),
            )
            .finish()
    }
}

impl RateLimits {
    /// Limiters for `config`; a limit of 0 requests is off.
    #[must_use]
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            token_per_address: Policy::new("token-address", config.token_per_address),
            token_per_client: Policy::new("token-client", config.token_per_client),
            api_per_client: Policy::new("api-client", config.api_per_client),
            public_per_address: Policy::new("public-address", config.public_per_address),
        }
    }

    /// No limits at all.
    #[must_use]
    pub fn off() -> Self {
        let off = Limit {
            requests: 0,
            window_seconds: 1,
        };
        Self::new(RateLimitConfig {
            token_per_address: off,
            token_per_client: off,
            api_per_client: off,
            public_per_address: off,
        })
    }

    /// A token request from the request's TCP peer (no proxy header is trusted).
    #[must_use]
    pub fn token_address(&self, request: &HttpRequest) -> Option<Decision> {
        let policy = self.token_per_address.as_ref()?;
        let address = request.peer_addr()?.ip();
        Some(policy.check(&address))
    }

    /// A token request to `environment` naming `client_id`.
    #[must_use]
    pub fn token_client(&self, environment: &str, client_id: &str) -> Option<Decision> {
        let policy = self.token_per_client.as_ref()?;
        Some(policy.check(&format!("{environment}/{client_id}")))
    }

    /// An `/api` request to `environment` authenticated as `client_id`.
    #[must_use]
    pub fn api_client(&self, environment: &str, client_id: &str) -> Option<Decision> {
        let policy = self.api_per_client.as_ref()?;
        Some(policy.check(&format!("{environment}/{client_id}")))
    }

    /// A request to a public endpoint that does work for anyone (the
    /// invitation answers) from the request's TCP peer.
    #[must_use]
    pub fn public_address(&self, request: &HttpRequest) -> Option<Decision> {
        let policy = self.public_per_address.as_ref()?;
        let address = request.peer_addr()?.ip();
        Some(policy.check(&address))
    }

    /// Keys currently remembered, over all limiters.
    #[must_use]
    pub fn tracked_keys(&self) -> usize {
        self.token_per_address.as_ref().map_or(0, Policy::len)
            + self.token_per_client.as_ref().map_or(0, Policy::len)
            + self.api_per_client.as_ref().map_or(0, Policy::len)
            + self.public_per_address.as_ref().map_or(0, Policy::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(requests: u32) -> RateLimits {
        let limit = Limit {
            requests,
            window_seconds: 60,
        };
        RateLimits::new(RateLimitConfig {
            token_per_address: limit,
            token_per_client: limit,
            api_per_client: limit,
            public_per_address: limit,
        })
    }

    #[test]
    fn a_key_may_spend_its_quota_then_is_refused_with_a_retry_delay() {
        let limits = limits(3);
        for remaining in [2, 1, 0] {
            let decision = limits.api_client("e", "a").expect("limit on");
            assert!(!decision.refused());
            assert_eq!(decision.remaining, remaining);
        }
        let refused = limits.api_client("e", "a").expect("limit on");
        assert!(refused.refused());
        // One request comes back every 20 s.
        assert_eq!(refused.retry_after, Some(20));
        let headers = header_fields(&[refused]);
        assert_eq!(headers[0].1, "\"api-client\";q=3;w=60");
        assert_eq!(headers[1].1, "\"api-client\";r=0;t=20");
        assert_eq!(headers[2], (header::RETRY_AFTER, "20".to_owned()));
        let both = header_fields(&[
            limits.token_client("e", "c").expect("limit on"),
            limits.api_client("e", "d").expect("limit on"),
        ]);
        assert_eq!(
            both[0].1,
            "\"token-client\";q=3;w=60, \"api-client\";q=3;w=60"
        );
        assert_eq!(
            both[1].1,
            "\"token-client\";r=2;t=20, \"api-client\";r=2;t=20"
        );
        assert_eq!(both.len(), 2, "no Retry-After when nothing was refused");
        // Other keys and other limiters are untouched.
        assert!(!limits.api_client("e", "b").expect("limit on").refused());
        assert!(!limits.token_client("e", "a").expect("limit on").refused());
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = limits(0);
        assert!(limits.api_client("e", "a").is_none());
        assert!(limits.token_client("e", "a").is_none());
        assert_eq!(limits.tracked_keys(), 0);
        assert!(RateLimits::off().api_client("e", "a").is_none());
    }
}
