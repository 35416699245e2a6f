//! The command line: `serve` (the default), `migrate`, `environments create|list`.

use std::net::TcpListener;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use portcullis_application::environments::CreatedEnvironment;
use secrecy::ExposeSecret;

use crate::settings::Settings;
use crate::wiring::{
    StartError, bootstrap_credentials, error_chain, master_key, migrate, open_store, wire,
};

/// Portcullis: a self-hostable identity platform's management plane.
#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Portcullis: a self-hostable identity platform's management plane (users, keys, OAuth tokens, environments).",
    long_about = None
)]
pub struct Cli {
    /// A TOML configuration file (default: ./portcullis.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the store if needed, create the default environment on first
    /// start, and serve HTTP until SIGINT/SIGTERM.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage environments (tenants).
    Environments {
        /// What to do with environments.
        #[command(subcommand)]
        command: EnvironmentCommand,
    },
}

/// `environments` subcommands.
#[derive(Debug, Subcommand)]
pub enum EnvironmentCommand {
    /// Create an environment with its signing key, Management API and
    /// bootstrap client; prints the client's credentials once.
    Create {
        /// Lower-case DNS label, e.g. `staging`.
        slug: String,
    },
    /// List environments.
    List,
}

fn print_credentials(created: &CreatedEnvironment) {
    let env = &created.environment;
    println!(
        "Created environment `{}` ({})",
        env.environment.slug.as_str(),
        env.issuer
    );
    println!("Bootstrap client (machine-to-machine, every Management API scope):");
    println!("  client_id:     {}", created.client_id);
    match &created.generated_secret {
        Some(secret) => println!(
            "  client_secret: {}   <- shown once; store it now",
            secret.expose_secret()
        ),
        None => println!("  client_secret: (as configured in PORTCULLIS_BOOTSTRAP__CLIENT_SECRET)"),
    }
    println!("  token URL:     {}/oauth/token", env.issuer);
    println!("  audience:      {}", env.management_audience);
}

/// Runs the command.
///
/// # Errors
/// [`StartError`] with a one-line reason.
pub async fn run(cli: Cli, settings: Settings) -> Result<(), StartError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let store = open_store(&settings)?;
            let applied = tokio::task::spawn_blocking(move || migrate(&store))
                .await
                .map_err(|e| StartError(format!("migrations failed: {e}")))??;
            println!("Applied {applied} migration(s).");
            Ok(())
        }
        Command::Environments { command } => {
            let master_key = master_key(&settings)?;
            let store = open_store(&settings)?;
            let store = tokio::task::spawn_blocking(move || migrate(&store).map(|_| store))
                .await
                .map_err(|e| StartError(format!("migrations failed: {e}")))??;
            let wired = wire(&settings, store, &master_key)?;
            match command {
                EnvironmentCommand::Create { slug } => {
                    let created =
                        wired
                            .state
                            .environments
                            .create(&slug, None)
                            .await
                            .map_err(|e| {
                                StartError(format!(
                                    "cannot create environment: {}",
                                    error_chain(&e)
                                ))
                            })?;
                    print_credentials(&created);
                }
                EnvironmentCommand::List => {
                    let all = wired.state.environments.list().await.map_err(|e| {
                        StartError(format!("cannot list environments: {}", error_chain(&e)))
                    })?;
                    println!("{:<24} {:<40} CREATED", "SLUG", "ISSUER");
                    for env in all {
                        println!(
                            "{:<24} {:<40} {}",
                            env.environment.slug.as_str(),
                            env.issuer,
                            env.environment.created_at
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> Result<(), StartError> {
    let bootstrap = bootstrap_credentials(&settings)?;
    let master_key = master_key(&settings)?;
    let bind = settings
        .bind_address()
        .ok_or_else(|| StartError("PORTCULLIS_SERVER__BIND is not an address".into()))?;
    let listener =
        TcpListener::bind(bind).map_err(|e| StartError(format!("cannot listen on {bind}: {e}")))?;
    let store = open_store(&settings)?;
    let run_migrations = settings.database.run_migrations;
    let store = tokio::task::spawn_blocking(move || {
        if run_migrations {
            migrate(&store)?;
        }
        Ok::<_, StartError>(store)
    })
    .await
    .map_err(|e| StartError(format!("migrations failed: {e}")))??;
    let backend = store.backend();
    let wired = wire(&settings, store, &master_key)?;
    if let Some(created) = wired
        .state
        .environments
        .ensure_default(bootstrap)
        .await
        .map_err(|e| {
            StartError(format!(
                "cannot create the default environment: {}",
                error_chain(&e)
            ))
        })?
    {
        print_credentials(&created);
    }
    let address = listener
        .local_addr()
        .map_err(|e| StartError(format!("cannot listen on {bind}: {e}")))?;
    let server = crate::server::start(
        wired.state,
        listener,
        settings.server.workers,
        settings.server.shutdown_timeout_seconds,
        settings.head_limits(),
        wired.metrics,
    )?;
    crate::server::stop_on_signals(&server)?;
    let (stop_deliveries, deliveries) = crate::server::start_deliveries(wired.deliveries);
    let changes = wired.changes;
    let (stop_janitor, janitor) = crate::server::start_janitor(wired.janitor);
    tracing::info!(store = backend.as_str(), "listening on http://{address}");
    let served = server.await;
    // Requests are drained; finish (or hand back, by lease) the deliveries.
    let _ = stop_deliveries.send(true);
    if let Err(error) = deliveries.await {
        tracing::warn!(error = %error, "webhook delivery worker ended abnormally");
    }
    let _ = stop_janitor.send(true);
    let _ = janitor.await;
    drop(changes);
    served.map_err(|e| StartError(format!("server failed: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}
