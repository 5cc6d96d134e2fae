//! Wiring: the shared application state, start-up (storage, keys), background tasks, and
//! `serve_with_listener` so tests bind `127.0.0.1:0` and run the real server in-process.

use crate::clock::{SharedClock, UnixTime};
use crate::config::{FeatureFlag, Settings};
use crate::crypto::secrets::MasterKey;
use crate::crypto::{KeyRing, SigningAlg};
use crate::oauth::OAuthError;
use crate::oauth::client_auth::JwksCache;
use crate::plugins::Hooks;
use crate::plugins::cache::CompiledCache;
use crate::plugins::registry::Registry;
use crate::session::throttle::LoginGuard;
use crate::store::Store;
use anyhow::Context as _;
use arc_swap::ArcSwap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Absolute URLs of our endpoints, computed once from the issuer.
#[derive(Debug, Clone)]
pub struct Urls {
    /// Authorization endpoint.
    pub authorization: String,
    /// Token endpoint.
    pub token: String,
    /// Pushed authorization request endpoint (RFC 9126).
    pub par: String,
    /// Client registration endpoint (RFC 7591); `{registration}/{client_id}` is a client's
    /// configuration endpoint (RFC 7592).
    pub registration: String,
    /// Device authorization endpoint (RFC 8628).
    pub device_authorization: String,
    /// The page where a device's user enters the user code (`verification_uri`).
    pub device_verification: String,
    /// UserInfo endpoint.
    pub userinfo: String,
    /// Client info endpoint (Janssen's).
    pub clientinfo: String,
    /// ID generation endpoint (Janssen's), without its `{prefix}/{type}` path.
    pub id_generation: String,
    /// Introspection endpoint.
    pub introspection: String,
    /// Revocation endpoint.
    pub revocation: String,
    /// Global token revocation endpoint (Janssen's).
    pub global_token_revocation: String,
    /// End-session endpoint (RP-Initiated Logout).
    pub end_session: String,
    /// Session status endpoint (Janssen's).
    pub session_status: String,
    /// Active-session endpoint (Janssen's).
    pub active_session: String,
    /// Session revocation endpoint (Janssen's).
    pub revoke_session: String,
    /// JWKS.
    pub jwks: String,
    /// Health check.
    pub health: String,
}

impl Urls {
    fn new(issuer: &str) -> Self {
        Self {
            authorization: format!("{issuer}/authorize"),
            token: format!("{issuer}/token"),
            par: format!("{issuer}/par"),
            registration: format!("{issuer}/register"),
            device_authorization: format!("{issuer}/device_authorization"),
            device_verification: format!("{issuer}/device"),
            userinfo: format!("{issuer}/userinfo"),
            clientinfo: format!("{issuer}/clientinfo"),
            id_generation: format!("{issuer}/id"),
            introspection: format!("{issuer}/introspect"),
            revocation: format!("{issuer}/revoke"),
            global_token_revocation: format!("{issuer}/global-token-revocation"),
            end_session: format!("{issuer}/end_session"),
            session_status: format!("{issuer}/session_status"),
            active_session: format!("{issuer}/active_session"),
            revoke_session: format!("{issuer}/revoke_session"),
            jwks: format!("{issuer}/jwks"),
            health: format!("{issuer}/health"),
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// The start-up settings (defaults < file < environment).
    base: Settings,
    /// The settings in force: `base` with the stored run-time overrides.
    settings: ArcSwap<Settings>,
    /// The run-time configuration revision `settings` reflects.
    config_revision: std::sync::atomic::AtomicI64,
    store: Store,
    keys: KeyRing,
    master: Arc<MasterKey>,
    clock: SharedClock,
    jwks_cache: JwksCache,
    outbound: crate::outbound::Outbound,
    login_guard: LoginGuard,
    urls: Urls,
    hooks: Hooks,
    logout_stats: crate::oauth::logout::DeliveryStats,
    device_guard: crate::oauth::device::CodeGuard,
    metrics: Arc<crate::metrics::Metrics>,
    stats: crate::stats::Stats,
    metrics_addr: tokio::sync::watch::Sender<Option<std::net::SocketAddr>>,
    /// One plugin sync at a time in this process.
    plugin_sync: tokio::sync::Mutex<()>,
}

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Opens storage (migrating it), loads or creates the master key and signing keys.
    pub async fn new(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let store = Store::open(&settings, settings.database_max_connections).await?;
        Self::with_store(settings, store, clock).await
    }

    /// Like [`new`](Self::new) with an already-connected store.
    pub async fn with_store(
        settings: Settings,
        store: Store,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let master = Arc::new(load_master_key(&settings)?);
        let base = settings;
        let stored = store
            .server_config()
            .await
            .context("reading the run-time configuration")?;
        let settings = base.with_stored_overrides(&stored.overrides);
        // Logging was set up from the file before the database was open.
        crate::logging::reload(&settings.log);
        let algs: Vec<SigningAlg> = settings
            .keys
            .algorithms
            .iter()
            .filter_map(|a| SigningAlg::parse(a))
            .collect();
        let keys = KeyRing::init(&store, master.clone(), &algs, clock.now())
            .await
            .context("loading signing keys")?;
        let outbound = crate::outbound::Outbound::new(&settings.outbound)
            .context("building the outbound HTTP client")?;
        let cache = (!settings.plugins.cache_dir.as_os_str().is_empty()).then(|| {
            CompiledCache::new(
                &settings.plugins.cache_dir,
                master.derive(crate::plugins::cache::MAC_LABEL),
            )
        });
        let registry = Arc::new(
            Registry::new(&settings.plugins_dir, cache)
                .with_status_file(crate::plugins::tool::status_file(&settings.data_dir))
                .with_http(Arc::new(
                    crate::outbound::PluginHttp::new(&settings.outbound)
                        .context("building the plugins' HTTP client")?,
                )),
        );
        // Plugins deployed through the admin API, written into the directory first.
        if let Err(e) = crate::admin::plugins::sync(&store, &registry).await {
            tracing::error!(error = %e, "writing the stored plugins failed");
        }
        // Load what is there before serving; a plugin that fails is refused and logged, the
        // server starts anyway.
        registry.reload().await;
        if let Err(e) = crate::admin::plugins::sync_canaries(&store, &registry).await {
            tracing::error!(error = %e, "loading the stored canaries failed");
        }
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let hooks = Hooks::new(registry, clock.clone()).with_metrics(metrics.clone());
        Ok(Self(Arc::new(Inner {
            hooks,
            login_guard: LoginGuard::new(&settings.login),
            metrics,
            stats: crate::stats::Stats::default(),
            metrics_addr: tokio::sync::watch::Sender::new(None),
            plugin_sync: tokio::sync::Mutex::new(()),
            device_guard: crate::oauth::device::CodeGuard::new(
                settings.device.user_code_failures,
                settings.device.failure_window_seconds,
            ),
            urls: Urls::new(settings.issuer()),
            config_revision: stored.revision.into(),
            settings: ArcSwap::from_pointee(settings),
            base,
            store,
            keys,
            master,
            clock,
            jwks_cache: JwksCache::default(),
            outbound,
            logout_stats: Default::default(),
        })))
    }

    /// The settings in force: the start-up settings with the run-time configuration applied.
    /// A snapshot: hold it for one request, not across requests.
    pub fn settings(&self) -> Arc<Settings> {
        self.0.settings.load_full()
    }

    /// The issuer identifier (a start-up setting).
    pub fn issuer(&self) -> &str {
        self.0.base.issuer()
    }

    /// The start-up settings (defaults < file < environment), before run-time overrides.
    pub fn base_settings(&self) -> &Settings {
        &self.0.base
    }

    /// The run-time configuration revision in force.
    pub fn config_revision(&self) -> i64 {
        self.0
            .config_revision
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Puts `settings` (revision `revision` of the run-time configuration) in force, unless a
    /// later revision already is: login protection and logging follow at once.
    pub fn apply_config(&self, settings: Settings, revision: i64) {
        use std::sync::atomic::Ordering;
        if self.0.config_revision.fetch_max(revision, Ordering::AcqRel) > revision {
            return;
        }
        self.login_guard().update(&settings.login);
        crate::logging::reload(&settings.log);
        self.0.settings.store(Arc::new(settings));
    }

    /// Writes the plugins stored through the admin API into the plugin directory and reloads
    /// when that changed a file. Returns the names of plugins whose new files were refused.
    pub async fn sync_plugins(&self) -> anyhow::Result<Vec<String>> {
        let _one_at_a_time = self.0.plugin_sync.lock().await;
        let registry = self.hooks().registry();
        let refused = if crate::admin::plugins::sync(self.store(), registry).await? {
            registry.reload().await
        } else {
            Vec::new()
        };
        crate::admin::plugins::sync_canaries(self.store(), registry).await?;
        Ok(refused)
    }

    /// Reads the run-time configuration and puts it in force if it is newer than the one in
    /// force (another replica or the offline CLI changed it).
    pub async fn reload_config(&self) -> Result<(), crate::store::StoreError> {
        let stored = self.store().server_config().await?;
        if stored.revision > self.config_revision() {
            tracing::info!(revision = stored.revision, by = %stored.updated_by, "run-time configuration changed");
            self.apply_config(
                self.0.base.with_stored_overrides(&stored.overrides),
                stored.revision,
            );
        }
        Ok(())
    }

    /// Whether feature `flag` is on in the settings in force.
    pub fn is_enabled(&self, flag: FeatureFlag) -> bool {
        self.0.settings.load().features.is_enabled(flag)
    }

    /// Switches a feature on or off in this process only (tests; administrators change flags
    /// through the run-time configuration, which reaches every replica).
    pub fn set_feature(&self, flag: FeatureFlag, on: bool) {
        let mut s = Settings::clone(&self.settings());
        s.features.set(flag, on);
        self.0.settings.store(Arc::new(s));
    }

    /// `Err(feature_disabled)` unless `flag` is on.
    pub fn require(&self, flag: FeatureFlag) -> Result<(), OAuthError> {
        if self.is_enabled(flag) {
            Ok(())
        } else {
            Err(OAuthError::FeatureDisabled(flag.name()))
        }
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyRing {
        &self.0.keys
    }

    /// The at-rest encryption key.
    pub fn master_key(&self) -> &MasterKey {
        &self.0.master
    }

    /// Now, from the injected clock.
    pub fn now(&self) -> UnixTime {
        self.0.clock.now()
    }

    /// Our endpoint URLs.
    pub fn urls(&self) -> &Urls {
        &self.0.urls
    }

    /// Cache of client `jwks_uri` documents.
    pub fn jwks_cache(&self) -> &JwksCache {
        &self.0.jwks_cache
    }

    /// The plugin hooks.
    pub fn hooks(&self) -> &Hooks {
        &self.0.hooks
    }

    /// Every request the server makes to other hosts goes through this.
    pub fn outbound(&self) -> &crate::outbound::Outbound {
        &self.0.outbound
    }

    /// Password login protection.
    pub fn login_guard(&self) -> &LoginGuard {
        &self.0.login_guard
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }

    /// This replica's usage statistics (flushed to the database by a background task).
    pub fn stats(&self) -> &crate::stats::Stats {
        &self.0.stats
    }

    /// Stores what this replica counted since the last flush; on failure it is kept for the
    /// next one.
    pub async fn flush_stats(&self) -> Result<(), crate::store::StoreError> {
        let pending = self.stats().take();
        match self
            .store()
            .flush_stats(&pending, self.stats().replica())
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stats().restore(pending);
                Err(e)
            }
        }
    }

    /// Where the separate metrics listener (`[metrics] listen`) is bound: waits until the
    /// server has bound it. `None` without one.
    pub async fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        if self.settings().metrics.listen.is_empty() {
            return None;
        }
        let mut rx = self.0.metrics_addr.subscribe();
        rx.wait_for(Option::is_some).await.ok().and_then(|a| *a)
    }

    /// Wrong user codes per client address (device authorization).
    pub fn device_guard(&self) -> &crate::oauth::device::CodeGuard {
        &self.0.device_guard
    }

    /// Back-channel logout deliveries since start-up.
    pub fn logout_stats(&self) -> &crate::oauth::logout::DeliveryStats {
        &self.0.logout_stats
    }
}

/// Reads the master key from settings, or from (creating) `DATA_DIR/master.key`.
pub fn load_master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    if settings.master_key.0.is_empty() {
        MasterKey::load_or_create(&settings.data_dir.join("master.key"))
    } else {
        MasterKey::from_base64(&settings.master_key.0)
            .map_err(|m| anyhow::anyhow!("master_key: {m}"))
    }
}

/// The running server.
pub struct Server;

impl Server {
    /// Serves `state` on `listener` until `shutdown` resolves, with the background tasks (key
    /// reload, expired-token purge) running beside it; they stop with the server.
    pub async fn serve_with_listener(
        state: AppState,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        state.store().watch_changes();
        // Another replica's (or the offline CLI's) configuration change, once the watcher saw it;
        // reading one row is cheap, so any change triggers a check of the revision.
        let config_changes = state.store().changes();
        let mut metrics_stop = stop_rx.clone();
        let metrics_listener = match state.settings().metrics.listen.as_str() {
            "" => None,
            addr => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding the metrics listener {addr}"))?,
            ),
        };
        let mut tasks = vec![
            tokio::spawn(reload_keys(state.clone(), stop_rx.clone())),
            tokio::spawn(purge_expired(state.clone(), stop_rx.clone())),
            tokio::spawn(flush_stats(state.clone(), stop_rx.clone())),
            tokio::spawn(follow_config(
                state.clone(),
                config_changes,
                stop_rx.clone(),
            )),
        ];
        if state.settings().plugins.watch {
            tasks.push(tokio::spawn(crate::plugins::reload::watch(
                state.hooks().registry().clone(),
                Duration::from_millis(state.settings().plugins.debounce_ms),
                stop_rx,
            )));
        }
        if let Some(listener) = metrics_listener {
            if let Ok(addr) = listener.local_addr() {
                state.0.metrics_addr.send_replace(Some(addr));
            }
            let app = crate::http::metrics_app(state.clone());
            tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = metrics_stop.changed().await;
                };
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            }));
        }
        let app = crate::http::app(state);
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        result.context("HTTP server failed")
    }
}

async fn follow_config(
    state: AppState,
    mut changes: tokio::sync::watch::Receiver<u64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // A change made between start-up's read and the watcher's first look.
    if let Err(e) = state.reload_config().await {
        tracing::warn!(error = %e, "reading the run-time configuration failed");
    }
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        if let Err(e) = state.reload_config().await {
            tracing::warn!(error = %e, "reading the run-time configuration failed");
        }
        if let Err(e) = state.sync_plugins().await {
            tracing::warn!(error = %e, "writing the stored plugins failed");
        }
    }
}

async fn reload_keys(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let every = Duration::from_millis(state.settings().keys.reload_interval_ms);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match state.keys().refresh(state.store(), state.now()).await {
            Ok(true) => tracing::info!("signing keys reloaded"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "signing key reload failed; keeping the current keys")
            }
        }
    }
}

/// Stores the usage statistics every `stat.flush_interval_seconds`, and once more on stopping.
async fn flush_stats(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let every = Duration::from_secs(state.settings().stat.flush_interval_seconds);
    loop {
        let stopping = tokio::select! {
            _ = stop.changed() => true,
            _ = tokio::time::sleep(every) => false,
        };
        if let Err(e) = state.flush_stats().await {
            tracing::warn!(error = %e, "storing usage statistics failed; kept for the next try");
        }
        if stopping {
            return;
        }
    }
}

/// How often expired rows are purged: often enough that abandoned sign-ins (stored for
/// unauthenticated requests) do not pile up.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// Expired tokens are kept this long so introspection of a just-expired token still finds it
/// (it answers inactive either way).
const PURGE_GRACE_SECS: i64 = 3600;

async fn purge_expired(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(PURGE_EVERY) => {}
        }
        match state
            .store()
            .purge_expired(state.now() - PURGE_GRACE_SECS, state.now())
            .await
        {
            Ok(n) if n > 0 => tracing::info!(tokens = n, "purged expired tokens"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging expired tokens failed"),
        }
    }
}
