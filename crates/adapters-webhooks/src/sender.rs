//! [`HttpWebhookSender`]: one signed POST per call, with a timeout, no
//! redirects, no proxy, and a resolver that drops private addresses.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use portcullis_domain::webhook::address::refusal;
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
/// the domain's guard ([`refusal`]) allows: the check applies to the address
/// actually connected to, so a public name pointing at 127.0.0.1 (or at
/// `64:ff9b::7f00:1`, `2002:7f00:1::1`, 198.18.0.1, ...) fails.
#[derive(Debug)]
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_refusal = None;
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match refusal(addr.ip()) {
                    None => true,
                    Some(refused) => {
                        first_refusal.get_or_insert(refused);
                        false
                    }
                })
                .collect();
            if public.is_empty() {
                let why = first_refusal.map_or_else(|| "no address".to_owned(), |r| r.to_string());
                return Err(format!(
                    "{host} resolves only to private, loopback, reserved or otherwise not globally reachable addresses ({why})"
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
        literal.and_then(refusal).map(|refused| refused.to_string())
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
        // Issue 14: refused before any connection, naming the block.
        for (url, block) in [
            ("https://[::127.0.0.1]/", "::/96"),
            ("https://[64:ff9b::7f00:1]/", "64:ff9b::/96"),
            ("https://[2002:7f00:1::1]/", "2002::/16"),
            ("https://198.18.0.1/", "198.18.0.0/15"),
            ("https://240.0.0.1/", "240.0.0.0/4"),
        ] {
            let report = strict.send(request(url)).await;
            assert_eq!(report.status_code, None, "{url}");
            assert_eq!(report.duration_ms, 0, "{url}: no connection tried");
            let error = report.error.unwrap();
            assert!(
                error.contains("not a globally reachable address") && error.contains(block),
                "{url}: {error}"
            );
        }
        // `localhost` is a name: the resolver sees 127.0.0.1 / ::1 and drops them.
        let report = strict.send(request("https://localhost:1/")).await;
        let error = report.error.unwrap();
        assert!(error.contains("private"), "{error}");
    }

    async fn resolve(host: &str) -> Result<Vec<SocketAddr>, String> {
        let name: Name = host.parse().unwrap();
        GuardedResolver
            .resolve(name)
            .await
            .map(Iterator::collect)
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn the_resolver_drops_every_address_that_is_not_globally_reachable() {
        // The system resolver answers an address literal with itself, so
        // these stand for names whose DNS records hold such addresses.
        for (host, block) in [
            ("::127.0.0.1", "::/96"),
            ("64:ff9b::7f00:1", "64:ff9b::/96"),
            ("64:ff9b:1::808:808", "64:ff9b:1::/48"),
            ("2002:7f00:1::1", "2002::/16"),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "2001::/32"),
            ("::ffff:127.0.0.1", "::ffff:0.0.0.0/96"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("192.0.2.1", "192.0.2.0/24"),
            ("localhost", "Loopback"),
        ] {
            let error = resolve(host).await.unwrap_err();
            assert!(
                error.contains("not globally reachable") && error.contains(block),
                "{host}: {error}"
            );
        }
        for host in [
            "8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700::1111",
        ] {
            let addrs = resolve(host).await.unwrap();
            assert_eq!(addrs.len(), 1, "{host}");
            assert_eq!(addrs[0].ip(), host.parse::<IpAddr>().unwrap());
        }
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connection_error_without_status() {
        let report = sender(true).send(request("http://127.0.0.1:1/")).await;
        assert_eq!(report.status_code, None);
        assert!(report.error.is_some());
    }
}
