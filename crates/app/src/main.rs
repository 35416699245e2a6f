//! `portcullis`: parses the command line and settings, sets up logging, and
//! runs the command. Failures end with one line on stderr and exit status 1.

use clap::Parser as _;
use portcullis_app::cli::{Cli, run};
use portcullis_app::settings::Settings;
use tracing_subscriber::EnvFilter;

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if settings.log.format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("portcullis: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    init_logging(&settings);
    let outcome = actix_web::rt::System::new().block_on(run(cli, settings));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portcullis: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
