//! [`HttpWebhookSender`]: one signed POST per call, with a timeout, no
//! redirects, no proxy, and a resolver that drops private addresses.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use portcullis_domain::webhook::is_private_address;
use portcullis_ports::webhooks::{OutgoingWebhook, SendReport, WebhookSender};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use secrecy::ExposeSecret as _;
use url::{Host, Url};

use crate::signature::sign;

/// How requests are made.
#[derive(Debug, Clone, Copy)]
pub struct SenderConfig {
    /// Whole-request time limit (connect, send, response head).
    pub timeout: Duration,
    /// Allow private, loopback and link-local targets (development, tests).
    pub allow_private_targets: bool,
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct SenderError(#[source] reqwest::Error);

/// Resolves names with the system resolver, then keeps only the addresses
/// the private-address guard allows: the check applies to the address
/// actually connected to, so a public name pointing at 127.0.0.1 fails.
#[derive(Debug)]
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| !is_private_address(addr.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves only to private, loopback or link-local addresses"
                )
                .into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The [`WebhookSender`] of the server.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    config: SenderConfig,
}

impl HttpWebhookSender {
    /// A sender with its own connection pool.
    ///
    /// # Errors
    /// [`SenderError`] when the TLS backend cannot be initialised.
    pub fn new(config: SenderConfig) -> Result<Self, SenderError> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Portcullis-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private_targets {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        Ok(Self {
            client: builder.build().map_err(SenderError)?,
            config,
        })
    }

    /// Why `url` may not be sent to before any connection is made, if so.
    fn refuse(&self, url: &str) -> Option<String> {
        let Ok(parsed) = Url::parse(url) else {
            return Some("the webhook URL cannot be parsed".to_owned());
        };
        if self.config.allow_private_targets {
            return None;
        }
        if parsed.scheme() != "https" {
            return Some("the webhook URL is not https".to_owned());
        }
        // Literal addresses never reach the resolver.
        let literal: Option<IpAddr> = match parsed.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        literal
            .filter(|ip| is_private_address(*ip))
            .map(|ip| format!("{ip} is a private, loopback or link-local address"))
    }
}

/// An error and its sources on one line (reqwest's own message is terse).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: OutgoingWebhook) -> SendReport {
        let start = Instant::now();
        if let Some(reason) = self.refuse(&request.url) {
            return SendReport {
                status_code: None,
                duration_ms: 0,
                error: Some(reason),
            };
        }
        let signature = match sign(
            request.secret.expose_secret(),
            &request.message_id,
            request.timestamp,
            request.body.as_bytes(),
        ) {
            Ok(signature) => signature,
            Err(error) => {
                return SendReport {
                    status_code: None,
                    duration_ms: 0,
                    error: Some(error.to_string()),
                };
            }
        };
        let sent = self
            .client
            .post(&request.url)
            .header("content-type", "application/json")
            .header("webhook-id", &request.message_id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", signature)
            .body(request.body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                // The body is not used; reading it (bounded by the timeout)
                // lets the connection go back to the pool.
                let _ = response.bytes().await;
                SendReport {
                    status_code: Some(status.as_u16()),
                    duration_ms: elapsed_ms(start),
                    error: (!status.is_success())
                        .then(|| format!("the receiver answered {status}")),
                }
            }
            Err(error) => {
                let reason = if error.is_timeout() {
                    format!("timed out after {} ms", self.config.timeout.as_millis())
                } else {
                    describe(&error)
                };
                SendReport {
                    status_code: None,
                    duration_ms: elapsed_ms(start),
                    error: Some(reason),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(allow: bool) -> HttpWebhookSender {
        HttpWebhookSender::new(SenderConfig {
            timeout: Duration::from_millis(500),
            allow_private_targets: allow,
        })
        .unwrap()
    }

    fn request(url: &str) -> OutgoingWebhook {
        OutgoingWebhook {
            url: url.to_owned(),
            message_id: "01JD0000000000000000000000".into(),
            timestamp: 1,
            body: "{}".into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        }
    }

    #[tokio::test]
    async fn private_literals_and_names_resolving_to_loopback_are_refused_at_send_time() {
        let strict = sender(false);
        for url in [
            "https://127.0.0.1:1/",
            "https://[::1]:1/",
            "http://10.0.0.1/",
        ] {
            let report = strict.send(request(url)).await;
            assert_eq!(report.status_code, None, "{url}");
            assert!(!report.succeeded());
            assert!(report.error.is_some(), "{url}");
        }
        // `localhost` is a name: the resolver sees 127.0.0.1 / ::1 and drops them.
        let report = strict.send(request("https://localhost:1/")).await;
        let error = report.error.unwrap();
        assert!(error.contains("private"), "{error}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connection_error_without_status() {
        let report = sender(true).send(request("http://127.0.0.1:1/")).await;
        assert_eq!(report.status_code, None);
        assert!(report.error.is_some());
    }
}
