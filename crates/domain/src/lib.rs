//! # portcullis-domain
//!
//! The pure core of Portcullis: entities, value objects and the invariants
//! that hold whatever stores or serves them. Nothing here performs I/O,
//! reads the clock or draws random numbers: callers pass ids and `now` in.
//! The crate is meant to be embedded by other Rust services.
//!
//! ```
//! use portcullis_domain::{EnvironmentId, Timestamp, UserId};
//! use portcullis_domain::user::{Email, NewUser, User};
//!
//! let now = Timestamp::from_unix_micros(1_767_225_600_000_000).unwrap();
//! let email = Email::parse("Jane.Doe@Example.com").unwrap();
//! assert_eq!(email.as_str(), "jane.doe@example.com");
//! let user = User::register(UserId::from_ulid(ulid::Ulid::nil()), EnvironmentId::from_ulid(ulid::Ulid::nil()),
//!     NewUser::with_email(email), now);
//! assert!(!user.blocked());
//! ```
#![deny(missing_docs)]

pub mod access;
pub mod access_token;
pub mod action;
pub mod client;
pub mod connection;
pub mod environment;
pub mod event;
mod ids;
pub mod invitation;
pub mod oauth;
pub mod organization;
pub mod resource_server;
pub mod session;
pub mod signing_key;
pub mod text;
mod time;
pub mod user;
pub mod webhook;

pub use ids::ConnectionId;
pub use ids::SessionId;
pub use ids::{
    AccessTokenId, ClientGrantId, ClientId, EnvironmentId, EventId, IdError, PermissionId,
    ResourceServerId, RoleId, RolePermissionId, ScopeId, SigningKeyId, UserId, UserRoleId,
};
pub use ids::{ActionExecutionId, ActionId};
pub use ids::{DeliveryAttemptId, WebhookId};
pub use ids::{InvitationId, MembershipId, OrganizationId};
pub use time::{Timestamp, TimestampError};
