//! Sending webhook requests. The adapter signs the request (Standard
//! Webhooks), checks the resolved address against the private-address
//! guard, and bounds the request by a timeout; it never retries: retrying
//! is the worker's business, through the outbox.

use async_trait::async_trait;
use secrecy::SecretString;

/// One signed POST to a webhook's URL.
#[derive(Debug, Clone)]
pub struct OutgoingWebhook {
    /// The target URL.
    pub url: String,
    /// `webhook-id`: the same for every attempt of one event to one webhook.
    pub message_id: String,
    /// `webhook-timestamp`: Unix seconds of this attempt.
    pub timestamp: i64,
    /// The JSON body, sent and signed byte for byte.
    pub body: String,
    /// The signing secret (`whsec_...`), in clear for the signer only.
    pub secret: SecretString,
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// The receiver's status code; `None` when no response arrived.
    pub status_code: Option<u16>,
    /// Milliseconds from sending until the response (or the failure).
    pub duration_ms: u64,
    /// Why it failed, for people (never the secret); `None` on 2xx.
    pub error: Option<String>,
}

impl SendReport {
    /// Whether the receiver accepted the event (answered 2xx).
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends webhook requests.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync + 'static {
    /// Sends one request and reports how it went; never fails otherwise.
    async fn send(&self, request: OutgoingWebhook) -> SendReport;
}
