//! The composition root: the only place that names concrete adapters.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use portcullis_adapters_crypto::{
    AesGcmCipher, BcryptHasher, JoseJwtKeys, RandomSecrets, generate_master_key, parse_master_key,
};
use portcullis_adapters_http::AppState;
use portcullis_adapters_http::limits::{Limit, RateLimitConfig, RateLimits};
use portcullis_adapters_js::{JsLimits, QuickJsRunner};
use portcullis_adapters_postgres::{ChangeListener, DieselStore, ListenerConfig, StoreConfig};
use portcullis_adapters_webhooks::{HttpWebhookSender, SenderConfig};
use portcullis_application::Ports;
use portcullis_application::action_runs::{ActionEngine, ExecutionRecorder};
use portcullis_application::actions::{ActionMemo, ActionService};
use portcullis_application::client_grants::ClientGrantService;
use portcullis_application::client_memo::ClientMemo;
use portcullis_application::clients::ClientService;
use portcullis_application::connections::ConnectionService;
use portcullis_application::environments::{BootstrapCredentials, EnvironmentService};
use portcullis_application::invitations::{InvitationLimits, InvitationService};
use portcullis_application::keys::KeyCache;
use portcullis_application::node_caches::NodeCaches;
use portcullis_application::permissions::PermissionService;
use portcullis_application::resource_servers::ResourceServerService;
use portcullis_application::retention::Janitor;
use portcullis_application::role_permissions::RolePermissionService;
use portcullis_application::roles::RoleService;
use portcullis_application::scopes::ScopeService;
use portcullis_application::sessions::{SessionLimits, SessionService};
use portcullis_application::signing_keys::SigningKeyService;
use portcullis_application::tokens::TokenService;
use portcullis_application::user_roles::UserRoleService;
use portcullis_application::users::UserService;
use portcullis_application::webhook_delivery::{DeliveryPolicy, DeliveryWorker};
use portcullis_application::webhooks::WebhookService;
use secrecy::{ExposeSecret, SecretString};

use crate::settings::Settings;
use crate::system::{MonotonicUlids, SystemClock};

/// A start-up failure, with a one-line reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// Everything built from the settings.
pub struct Wired {
    /// The store.
    pub store: Arc<DieselStore>,
    /// The HTTP state (services).
    pub state: AppState<DieselStore>,
    /// The webhook delivery worker (started by `serve`).
    pub deliveries: Arc<DeliveryWorker<DieselStore>>,
    /// The listener for other nodes' changes (PostgreSQL); stops when dropped.
    pub changes: Option<ChangeListener>,
    /// The retention janitor (started by `serve`).
    pub janitor: Arc<Janitor<DieselStore>>,
    /// What `GET /metrics` renders, when metrics are enabled.
    pub metrics: Option<crate::telemetry::Scraper>,
}

impl std::fmt::Debug for Wired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wired")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Opens the store named by the settings (creating the data dir for the embedded one).
///
/// # Errors
/// [`StartError`] with the store's reason.
pub fn open_store(settings: &Settings) -> Result<DieselStore, StartError> {
    if !settings.uses_postgres() {
        fs::create_dir_all(&settings.data_dir).map_err(|e| {
            StartError(format!(
                "cannot create data dir {}: {e}",
                settings.data_dir.display()
            ))
        })?;
    }
    let config = StoreConfig {
        url: settings.database_url(),
        pool_size: settings.database.pool_size,
        connect_timeout: Duration::from_secs(settings.database.connect_timeout_seconds),
        checkout_timeout: Duration::from_millis(settings.database.checkout_timeout_ms),
        circuit_open: Duration::from_millis(settings.database.circuit_open_ms),
    };
    DieselStore::connect(&config)
        .map_err(|e| StartError(format!("cannot open the store: {}", error_chain(&e))))
}

/// The error and its sources on one line.
#[must_use]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
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

/// Applies pending migrations.
///
/// # Errors
/// [`StartError`] with the reason.
pub fn migrate(store: &DieselStore) -> Result<usize, StartError> {
    store
        .run_migrations()
        .map_err(|e| StartError(format!("migrations failed: {}", error_chain(&e))))
}

/// The master key: configured, or for the embedded store read from (or
/// generated into, mode 0600) `<data_dir>/master.key`.
///
/// # Errors
/// [`StartError`] when it is missing with PostgreSQL or unusable.
pub fn master_key(settings: &Settings) -> Result<[u8; 32], StartError> {
    let configured = settings.secrets.master_key.expose_secret();
    if !configured.is_empty() {
        return parse_master_key(configured)
            .map_err(|e| StartError(format!("PORTCULLIS_SECRETS__MASTER_KEY: {e}")));
    }
    if settings.uses_postgres() {
        return Err(StartError(
            "PORTCULLIS_SECRETS__MASTER_KEY is required with PostgreSQL (base64 of 32 bytes, e.g. `openssl rand -base64 32`)".into(),
        ));
    }
    fs::create_dir_all(&settings.data_dir).map_err(|e| {
        StartError(format!(
            "cannot create data dir {}: {e}",
            settings.data_dir.display()
        ))
    })?;
    let path = settings.data_dir.join("master.key");
    let text = if path.exists() {
        fs::read_to_string(&path)
            .map_err(|e| StartError(format!("cannot read {}: {e}", path.display())))?
    } else {
        write_private_file(&path, &generate_master_key())?
    };
    parse_master_key(text.trim()).map_err(|e| StartError(format!("{}: {e}", path.display())))
}

fn write_private_file(path: &Path, contents: &str) -> Result<String, StartError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| StartError(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| StartError(format!("cannot write {}: {e}", path.display())))?;
    tracing::info!(path = %path.display(), "generated a master key for the embedded store");
    Ok(contents.to_owned())
}

/// Builds the services on an opened store.
///
/// # Errors
/// [`StartError`] for an unusable public URL.
pub fn wire(
    settings: &Settings,
    store: DieselStore,
    master_key: &[u8; 32],
) -> Result<Wired, StartError> {
    let store = Arc::new(store);
    let ports = Ports {
        store: Arc::clone(&store),
        hasher: Arc::new(BcryptHasher::new(settings.security.bcrypt_cost)),
        secrets: Arc::new(RandomSecrets::new()),
        cipher: Arc::new(AesGcmCipher::new(master_key)),
        jwt: Arc::new(JoseJwtKeys::new()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(MonotonicUlids::default()),
    };
    let issuers = settings
        .issuer_template()
        .ok_or_else(|| StartError("PORTCULLIS_SERVER__PUBLIC_URL is not usable".into()))?;
    let keys = Arc::new(KeyCache::new(
        ports.clone(),
        settings.security.key_cache_ttl_seconds,
    ));
    let clients = Arc::new(ClientMemo::new(settings.security.client_cache_ttl_seconds));
    let runner: Arc<dyn portcullis_ports::actions::ActionRunner> = Arc::new(
        QuickJsRunner::start(JsLimits {
            timeout: Duration::from_millis(settings.actions.timeout_ms),
            memory_limit_bytes: settings.actions.memory_limit_bytes,
            workers: settings.action_workers(),
            workers_per_environment: settings.action_workers_per_environment(),
            abandoned: settings.action_abandoned_threads(),
            ..JsLimits::default()
        })
        .map_err(|e| StartError(e.to_string()))?,
    );
    let action_memo = Arc::new(ActionMemo::new(settings.actions.cache_ttl_seconds));
    let recorder = Arc::new(start_recorder(
        Arc::clone(&store),
        settings.actions.execution_queue,
        settings.actions.executions_kept,
    )?);
    let engine = Arc::new(ActionEngine::new(
        ports.clone(),
        Arc::clone(&runner),
        Arc::clone(&action_memo),
        recorder,
    ));
    let deliveries = Arc::new(delivery_worker(settings, ports.clone())?);
    let janitor = Arc::new(Janitor::new(ports.clone(), settings.retention_policy()));
    let changes = listen_for_changes(
        settings,
        &store,
        NodeCaches::new(
            Arc::clone(&keys),
            Arc::clone(&clients),
            Arc::clone(&action_memo),
        ),
    )?;
    let limits = Arc::new(rate_limits(settings));
    let state = AppState {
        environments: Arc::new(EnvironmentService::new(ports.clone(), issuers)),
        tokens: Arc::new(
            TokenService::new(
                ports.clone(),
                Arc::clone(&keys),
                settings.security.token_leeway_seconds,
                Arc::clone(&clients),
            )
            .with_actions(engine),
        ),
        keys: Arc::clone(&keys),
        users: Arc::new(UserService::new(ports.clone())),
        permissions: Arc::new(PermissionService::new(ports.clone())),
        connections: Arc::new(ConnectionService::new(ports.clone())),
        actions: Arc::new(ActionService::new(ports.clone(), runner, action_memo)),
        roles: Arc::new(RoleService::new(ports.clone())),
        role_permissions: Arc::new(RolePermissionService::new(ports.clone())),
        user_roles: Arc::new(UserRoleService::new(ports.clone())),
        clients: Arc::new(ClientService::new(ports.clone(), Arc::clone(&clients))),
        client_grants: Arc::new(ClientGrantService::new(ports.clone(), Arc::clone(&clients))),
        resource_servers: Arc::new(ResourceServerService::new(
            ports.clone(),
            Arc::clone(&clients),
        )),
        scopes: Arc::new(ScopeService::new(ports.clone(), Arc::clone(&clients))),
        sessions: Arc::new(SessionService::new(
            ports.clone(),
            SessionLimits {
                default_ttl_seconds: settings.sessions.default_ttl_seconds,
                max_ttl_seconds: settings.sessions.max_ttl_seconds,
            },
        )),
        organizations: Arc::new(
            portcullis_application::organizations::OrganizationService::new(ports.clone()),
        ),
        memberships: Arc::new(portcullis_application::memberships::MembershipService::new(
            ports.clone(),
        )),
        events: Arc::new(portcullis_application::events::EventService::new(
            ports.clone(),
        )),
        invitations: Arc::new(InvitationService::new(
            ports.clone(),
            InvitationLimits {
                default_ttl_seconds: settings.invitations.default_ttl_seconds,
                max_ttl_seconds: settings.invitations.max_ttl_seconds,
            },
        )),
        webhooks: Arc::new(WebhookService::new(
            ports.clone(),
            settings.webhooks.allow_private_targets,
        )),
        signing_keys: Arc::new(SigningKeyService::new(ports, keys)),
        store: Arc::clone(&store),
        base_domain: settings.server.base_domain.clone(),
        body_limit: settings.server.body_limit,
        limits: Arc::clone(&limits),
    };
    let metrics = if settings.metrics.enabled {
        Some(crate::telemetry::Scraper::new(Arc::clone(&store), limits)?)
    } else {
        None
    };
    Ok(Wired {
        store,
        state,
        deliveries,
        changes,
        janitor,
        metrics,
    })
}

/// The rate limiters the settings ask for.
fn rate_limits(settings: &Settings) -> RateLimits {
    let rates = &settings.rate_limits;
    let limit = |requests| Limit {
        requests,
        window_seconds: rates.window_seconds,
    };
    RateLimits::new(RateLimitConfig {
        token_per_address: limit(rates.token_per_address),
        token_per_client: limit(rates.token_per_client),
        api_per_client: limit(rates.api_per_client),
        public_per_address: limit(rates.public_per_address),
    })
}

/// Starts hearing the changes other nodes make (PostgreSQL), unless the
/// poll interval is 0.
fn listen_for_changes(
    settings: &Settings,
    store: &DieselStore,
    caches: NodeCaches<DieselStore>,
) -> Result<Option<ChangeListener>, StartError> {
    let poll = settings.database.change_poll_interval_ms;
    if poll == 0 {
        return Ok(None);
    }
    let config = ListenerConfig {
        poll_interval: Duration::from_millis(poll),
        ..ListenerConfig::default()
    };
    store
        .listen_for_changes(Arc::new(caches), config)
        .map_err(|e| {
            StartError(format!(
                "cannot listen for other nodes' changes: {}",
                error_chain(&e)
            ))
        })
}

/// The webhook delivery worker and its HTTP sender.
fn delivery_worker(
    settings: &Settings,
    ports: Ports<DieselStore>,
) -> Result<DeliveryWorker<DieselStore>, StartError> {
    let hooks = &settings.webhooks;
    let timeout = Duration::from_millis(hooks.request_timeout_ms);
    let sender = HttpWebhookSender::new(SenderConfig {
        timeout,
        allow_private_targets: hooks.allow_private_targets,
    })
    .map_err(|e| StartError(error_chain(&e)))?;
    let policy = DeliveryPolicy {
        concurrency: hooks.concurrency,
        per_webhook: hooks.concurrency_per_webhook,
        per_environment: hooks.concurrency_per_environment,
        poll_interval: Duration::from_millis(hooks.poll_interval_ms),
        // Longer than any request, so that only a dead worker's lease runs out.
        lease: timeout * 2 + Duration::from_secs(1),
        initial_backoff_ms: hooks.initial_backoff_ms,
        max_backoff_ms: hooks.max_backoff_seconds.saturating_mul(1000),
        retry_horizon: Duration::from_secs(hooks.retry_horizon_seconds),
    };
    Ok(DeliveryWorker::new(
        ports,
        Arc::new(sender),
        policy,
        Arc::new(rand::random::<f64>),
    ))
}

/// The recorder of action runs, with its writer on a thread of its own (a
/// small single-threaded runtime), so that it needs no ambient runtime and
/// ends when the recorder is dropped.
fn start_recorder(
    store: Arc<DieselStore>,
    queue: usize,
    keep: u32,
) -> Result<ExecutionRecorder, StartError> {
    let (recorder, writer) = ExecutionRecorder::new(store, queue, keep);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StartError(format!("cannot start the action execution writer: {e}")))?;
    std::thread::Builder::new()
        .name("action-executions".into())
        .spawn(move || runtime.block_on(writer))
        .map_err(|e| StartError(format!("cannot start the action execution writer: {e}")))?;
    Ok(recorder)
}

/// Bootstrap credentials from the settings, when both are given.
///
/// # Errors
/// [`StartError`] when only one of the two is set.
pub fn bootstrap_credentials(
    settings: &Settings,
) -> Result<Option<BootstrapCredentials>, StartError> {
    let id = settings.bootstrap.client_id.trim();
    let secret = settings.bootstrap.client_secret.expose_secret();
    match (id.is_empty(), secret.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some(BootstrapCredentials {
            client_id: id.to_owned(),
            client_secret: SecretString::from(secret.to_owned()),
        })),
        _ => Err(StartError(
            "set both PORTCULLIS_BOOTSTRAP__CLIENT_ID and PORTCULLIS_BOOTSTRAP__CLIENT_SECRET, or neither".into(),
        )),
    }
}
