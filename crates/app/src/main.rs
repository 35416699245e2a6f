//! `portcullis`: parses the command line and settings, sets up logging, and
//! runs the command. Failures end with one line on stderr and exit status 1.

use std::io::IsTerminal as _;

use clap::Parser as _;
use portcullis_app::cli::{Cli, run};
use portcullis_app::settings::Settings;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Logs go to stdout while serving; the other commands print their results
/// on stdout, so their logs go to stderr. Colour only when that stream is a
/// terminal and `NO_COLOR` is unset or empty (<https://no-color.org>).
fn init_logging(settings: &Settings, serving: bool) {
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| EnvFilter::try_new(value).is_ok())
        .unwrap_or_else(|| settings.log.level.clone());
    let filter = EnvFilter::try_new(with_quiet_dispatcher(&directives))
        .unwrap_or_else(|_| EnvFilter::new(with_quiet_dispatcher("info")));
    let (writer, terminal) = if serving {
        (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        )
    } else {
        (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        )
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colour(terminal, std::env::var_os("NO_COLOR").as_deref()));
    if settings.log.format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

/// Colour is for a person at a terminal: not for a file or a pipe, and not
/// when `NO_COLOR` is set to anything but the empty string.
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

/// The target under which actix-http reports, at ERROR, a connection it
/// closed because of the client: a malformed request head (already answered
/// `400`), a head too large (`431`), a peer that went away. None of these is
/// a fault of the server.
const DISPATCHER: &str = "actix_http::h1::dispatcher";

/// Treats actix-http's connection errors as debug events: unless the filter
/// names actix-http itself or enables `debug` somewhere, they are silenced.
fn with_quiet_dispatcher(directives: &str) -> String {
    let verbose = directives.contains("actix_http")
        || EnvFilter::try_new(directives)
            .ok()
            .and_then(|filter| filter.max_level_hint())
            .is_some_and(|level| level >= LevelFilter::DEBUG);
    if verbose {
        directives.to_owned()
    } else if directives.trim().is_empty() {
        format!("{DISPATCHER}=off")
    } else {
        format!("{directives},{DISPATCHER}=off")
    }
}

fn main() -> std::process::ExitCode {
    portcullis_adapters_crypto::init();
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("portcullis: {}", one_line(&error.to_string()));
            return std::process::ExitCode::FAILURE;
        }
    };
    let serving = matches!(
        cli.command,
        None | Some(portcullis_app::cli::Command::Serve)
    );
    init_logging(&settings, serving);
    let outcome = actix_web::rt::System::new().block_on(run(cli, settings));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portcullis: {}", one_line(&error.to_string()));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Folds a multi-line reason (libpq's, for one) into the single line an operator greps for.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(std::ffi::OsStr::new(""))));
        assert!(!colour(true, Some(std::ffi::OsStr::new("1"))));
        assert!(!colour(false, None));
        assert!(!colour(false, Some(std::ffi::OsStr::new("1"))));
    }

    #[test]
    fn the_dispatcher_is_quiet_below_debug() {
        assert_eq!(
            with_quiet_dispatcher("info"),
            "info,actix_http::h1::dispatcher=off"
        );
        assert_eq!(
            with_quiet_dispatcher("warn,portcullis_app=info"),
            "warn,portcullis_app=info,actix_http::h1::dispatcher=off"
        );
        assert_eq!(with_quiet_dispatcher(""), "actix_http::h1::dispatcher=off");
        assert_eq!(with_quiet_dispatcher("debug"), "debug");
        assert_eq!(
            with_quiet_dispatcher("info,portcullis=debug"),
            "info,portcullis=debug"
        );
        assert_eq!(
            with_quiet_dispatcher("info,actix_http=error"),
            "info,actix_http=error"
        );
    }
}
