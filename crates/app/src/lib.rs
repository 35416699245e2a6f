//! # portcullis-app
//!
//! The `portcullis` binary as a library: settings, wiring and the server, so
//! that integration tests start the very server the binary runs.
#![deny(missing_docs)]

pub mod cli;
pub mod server;
pub mod settings;
mod system;
pub mod telemetry;
pub mod wiring;
