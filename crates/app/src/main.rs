//! `portcullis`: parses the command line and settings, sets up logging, and
//! runs the command. Failures end with one line on stderr and exit status 1.

use clap::Parser as _;
use portcullis_app::cli::{Cli, run};
use portcullis_app::settings::Settings;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Logs go to stdout while serving; the other commands print their results
/// on stdout, so their logs go to stderr.
fn init_logging(settings: &Settings, serving: bool) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = if serving {
        BoxMakeWriter::new(std::io::stdout)
    } else {
        BoxMakeWriter::new(std::io::stderr)
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if settings.log.format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
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
