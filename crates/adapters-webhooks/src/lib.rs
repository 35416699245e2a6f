//! # portcullis-adapters-webhooks
//!
//! Webhook delivery over HTTP: [`HttpWebhookSender`] implements the
//! [`WebhookSender`](portcullis_ports::webhooks::WebhookSender) port with reqwest (native-tls). Each request is signed
//! as the Standard Webhooks specification says ([`sign`]), bounded by a
//! timeout, never follows redirects, uses no proxy, and connects only to
//! addresses that pass the private-address guard after DNS resolution
//! (unless private targets are allowed), so a webhook cannot be used to
//! reach the server's own network even through a DNS name.
//!
//! Retrying is not this crate's business: it reports what happened and the
//! worker decides, through the outbox.
#![deny(missing_docs)]

mod sender;
mod signature;

pub use sender::{HttpWebhookSender, SenderConfig, SenderError};
pub use signature::{SignatureError, sign};
