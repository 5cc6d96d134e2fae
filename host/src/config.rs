//! Settings: defaults, then a TOML file, then `TESSERA_*` environment variables (`__` nests), all
//! validated at start-up so a bad value stops the server with one line naming the key.

mod features;
mod runtime;

pub use features::{FeatureFlag, FeatureFlags};
pub use runtime::{JANSSEN_NAMES, START_UP, from_janssen_pointer, start_up_key};

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The environment variable prefix for settings.
pub const ENV_PREFIX: &str = "TESSERA_";

/// Environment variables with our prefix that are not settings (read by the CLI itself).
const ENV_NOT_SETTINGS: &[&str] = &[
    "TESSERA_CONFIG",
    "TESSERA_ADMIN_CLIENT_SECRET",
    "TESSERA_ADMIN_USERNAME",
    "TESSERA_ADMIN_PASSWORD",
];

/// A configuration problem, always naming the key it is about.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    /// Dotted key (or environment variable) the problem is about.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// What stands in for a secret's value wherever settings or records are shown.
pub const REDACTED: &str = "[redacted]";

/// A string that never appears in `Debug` output or logs.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            write!(f, "{REDACTED:?}")
        }
    }
}

/// SQLite's `synchronous` pragma (`database_sqlite_synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Sync at WAL checkpoints: crash-safe for the process, not for power loss.
    Normal,
    /// Sync on every commit: durable across power loss.
    Full,
}

/// Every setting of the server.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Settings {
    /// Socket address the HTTP server binds.
    pub listen: String,
    /// The issuer identifier: an `http(s)` URL with no query or fragment.
    pub issuer: String,
    /// `sqlite://PATH` (created on first start) or `postgres://...`.
    pub database_url: DatabaseUrl,
    /// Tokio worker threads; 0 = one per core.
    pub worker_threads: usize,
    /// Upper bound on pooled database connections.
    pub database_max_connections: u32,
    /// SQLite's `synchronous` setting: `normal` (default; survives a crash of the server, may
    /// lose the last commits on power loss or an OS crash) or `full` (every commit is on disk
    /// before it is answered; slower writes). Ignored on PostgreSQL.
    pub database_sqlite_synchronous: SqliteSynchronous,
    /// Directory for the embedded database's companions (master key file).
    #[schema(value_type = String)]
    pub data_dir: PathBuf,
    /// Base64url 32-byte key encrypting private keys and recoverable secrets at rest.
    /// Empty: read (or on first start create) `DATA_DIR/master.key`.
    pub master_key: Secret,
    /// Logging.
    pub log: LogSettings,
    /// HTTP limits.
    pub http: HttpSettings,
    /// Token issuance.
    pub tokens: TokenSettings,
    /// Signing keys.
    pub keys: KeySettings,
    /// Client authentication.
    pub client_auth: ClientAuthSettings,
    /// Browser sessions and login/consent interactions.
    pub session: SessionSettings,
    /// Authentication Context Class References.
    pub acr: AcrSettings,
    /// Feature flags (Janssen's `featureFlags`).
    pub features: FeatureFlags,
    /// The authorization endpoint's policy and input bounds.
    pub authorize: AuthorizeSettings,
    /// Password login protection.
    pub login: LoginSettings,
    /// Every request the server makes to other hosts.
    pub outbound: OutboundSettings,
    /// The revocation endpoint (RFC 7009, seed 004).
    pub revocation: RevocationSettings,
    /// The introspection endpoint (RFC 7662).
    pub introspection: IntrospectionSettings,
    /// Scopes and the claims they release.
    pub scopes: ScopeSettings,
    /// Logout: the end-session endpoint and front- and back-channel logout (seed 003).
    pub logout: LogoutSettings,
    /// Dynamic client registration (RFC 7591, RFC 7592).
    pub registration: RegistrationSettings,
    /// DPoP proofs of possession (RFC 9449).
    pub dpop: DpopSettings,
    /// The device authorization grant (RFC 8628).
    pub device: DeviceSettings,
    /// The metrics endpoint (flag METRIC).
    pub metrics: MetricsSettings,
    /// The stat endpoint (flag STAT).
    pub stat: StatSettings,
    /// Software statement assertions (flag SSA).
    pub ssa: SsaSettings,
    /// Directory of plugins: `NAME.wasm` + `NAME.toml` pairs, watched for changes.
    #[schema(value_type = String)]
    pub plugins_dir: PathBuf,
    /// The plugin runtime.
    pub plugins: PluginSettings,
}

/// The plugin runtime (`[plugins]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Where compiled plugins are cached (keyed by the wasm's SHA-256 and the engine
    /// configuration), so a restart does not recompile. Empty: no cache.
    #[schema(value_type = String)]
    pub cache_dir: PathBuf,
    /// Watch `plugins_dir` and hot-reload changed plugins.
    pub watch: bool,
    /// How long the directory must be quiet before a reload, in milliseconds.
    pub debounce_ms: u64,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            cache_dir: PathBuf::from("data/plugin-cache"),
            watch: true,
            debounce_ms: 150,
        }
    }
}

/// A database URL whose password is hidden from `Debug`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("redacted"));
                write!(f, "{:?}", u.as_str())
            }
            _ => write!(f, "{:?}", self.0),
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LogSettings {
    /// A `tracing` filter: `info`, `debug`, `tessera=debug,sqlx=warn`, ...
    pub level: String,
    /// `plain` or `json`.
    pub format: LogFormat,
    /// Log one line per HTTP request (method, path, status, latency; never bodies or headers).
    pub http: bool,
    /// Record OAuth events (tokens issued, refreshed and revoked, logins that succeeded or
    /// failed, consent given) in the audit log, readable through the admin API (Janssen
    /// `enabledOAuthAuditLogging`).
    pub oauth_audit: bool,
}

/// The log layout.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// HTTP limits.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct HttpSettings {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

/// Token issuance defaults (a client's own lifetimes win).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TokenSettings {
    /// Access-token lifetime in seconds when the client sets none.
    pub access_token_lifetime: i64,
    /// JWS algorithm of JWT access tokens when the client sets none.
    pub access_token_signing_alg: String,
    /// Refresh-token lifetime in seconds when the client sets none (Janssen `refreshTokenLifetime`).
    pub refresh_token_lifetime: i64,
    /// ID-token lifetime in seconds (Janssen `idTokenLifetime`).
    pub id_token_lifetime: i64,
    /// JWS algorithm of ID tokens when the client sets no `id_token_signed_response_alg`.
    pub id_token_signing_alg: String,
    /// Authorization-code lifetime in seconds, at most 60 (Janssen `authorizationCodeLifetime`).
    pub authorization_code_lifetime: i64,
    /// Issue refresh tokens only when `offline_access` was granted (Janssen
    /// `forceOfflineAccessScopeToEnableRefreshToken`); otherwise every client registered for the
    /// `refresh_token` grant gets one.
    pub require_offline_access_for_refresh: bool,
}

/// Browser sessions and the login/consent interaction.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SessionSettings {
    /// Seconds a browser session lives after login (Janssen `sessionIdLifetime`).
    pub lifetime: i64,
    /// Seconds a session survives without use (Janssen `sessionIdUnusedLifetime`).
    pub unused_lifetime: i64,
    /// Seconds a user has to finish login and consent for one authorization request.
    pub interaction_lifetime: i64,
}

/// Authentication Context Class References (Janssen "Enabled Acrs"). Every enabled ACR is
/// satisfied today by password login; the value is what sessions and ID tokens record.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AcrSettings {
    /// The ACR values the server offers, in order of preference.
    pub enabled: Vec<String>,
    /// The ACR used when neither the request nor the client names a usable one.
    pub default: String,
}

/// Signing keys.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct KeySettings {
    /// Algorithms the server keeps a signing key for.
    pub algorithms: Vec<String>,
    /// Seconds a rotated-out key stays in the JWKS (so tokens it signed keep verifying).
    pub retire_after: i64,
    /// Milliseconds between checks for keys rotated by another process or replica.
    pub reload_interval_ms: u64,
    /// Seconds a rotated-in key is published before it signs: long enough for every replica to
    /// reload the keys (at least twice `reload_interval_ms`), so no replica signs with a key
    /// another does not publish yet. Raise it to cover how long relying parties cache the JWKS.
    pub publish_ahead: i64,
}

/// Client authentication.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ClientAuthSettings {
    /// Longest accepted lifetime (`exp` - now) of a client assertion, in seconds.
    pub assertion_max_lifetime: i64,
    /// Seconds a client's `jwks_uri` document is cached.
    pub jwks_cache_seconds: i64,
    /// Allow `http://` `jwks_uri` values (development only; https is required otherwise).
    pub allow_http_jwks_uri: bool,
}

/// The authorization endpoint (`[authorize]`): PKCE policy and the bounds on what an
/// unauthenticated request may make the server store.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AuthorizeSettings {
    /// Require PKCE from confidential clients too (Janssen `requirePkce`; RFC 9700 §2.1.1).
    /// Public clients always need it; a client can also require it for itself (`require_pkce`).
    pub require_pkce: bool,
    /// Longest value of one authorization request parameter, in bytes (`claims` excepted).
    pub max_param_bytes: usize,
    /// Longest `claims` parameter, in bytes.
    pub max_claims_bytes: usize,
    /// Deepest JSON nesting accepted in a `claims` parameter.
    pub max_json_depth: usize,
    /// Most `resource` values in one request.
    pub max_resources: usize,
    /// Most unfinished sign-ins (waiting for login or consent) per client IP address.
    pub max_pending_per_ip: i64,
    /// Every authorization request must be pushed first (RFC 9126 §5; Janssen `requirePar`).
    /// A client can also require it for itself (`require_pushed_authorization_requests`).
    pub require_pushed_authorization_requests: bool,
    /// How long a pushed request's `request_uri` may be used, in seconds, unless the client sets
    /// its own `par_lifetime` (Janssen `requestUriParLifetime`).
    pub par_lifetime: i64,
    /// Fetch `http://` request URIs too (development only; RFC 9101 request objects by
    /// reference are fetched over https otherwise).
    pub allow_http_request_uri: bool,
}

/// Password login protection (`[login]`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LoginSettings {
    /// Password verifications running at once (each argon2id holds 19 MiB); 0 = one per core.
    pub max_concurrent_verifications: usize,
    /// How long a login waits for a free verification before a "try again" page (503), in ms.
    pub verification_wait_ms: u64,
    /// Failed logins for one username before it is locked out.
    pub account_failures: u32,
    /// Failed logins from one IP address before it is locked out.
    pub ip_failures: u32,
    /// First lock-out, in seconds; each further failure doubles it.
    pub lockout_seconds: i64,
    /// Longest lock-out, in seconds.
    pub max_lockout_seconds: i64,
    /// Failures are forgotten after this many seconds without another one.
    pub failure_window_seconds: i64,
}

/// Requests the server makes to other hosts (`[outbound]`): client `jwks_uri` documents, and
/// later sector identifiers, request URIs and logout deliveries.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct OutboundSettings {
    /// Largest response body read, in bytes; the read stops there.
    pub max_body_bytes: usize,
    /// Connect timeout, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Timeout of the whole request (connect, headers and body), in milliseconds.
    pub timeout_ms: u64,
    /// Seconds a failed URL is not tried again; doubles with each further failure (up to an hour).
    pub failure_backoff_seconds: i64,
    /// Hosts (names or IP addresses) that may be reached even though they resolve to a loopback,
    /// private, link-local or otherwise internal address. Empty: none.
    pub allow_internal_hosts: Vec<String>,
}

/// Revocation policy (seed 004's properties).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RevocationSettings {
    /// `token=all` or `token_type_hint=all` revokes every token of the authenticated client
    /// (Janssen `allowAllValueForRevokeEndpoint`). Off: `all` is an ordinary token value.
    pub allow_all_value: bool,
    /// A client holding the `revoke_any_token` scope may revoke other clients' tokens (Janssen
    /// `allowRevokeForOtherClients`). Off: such a request is `invalid_request`.
    pub allow_revoke_for_other_clients: bool,
}

/// Scopes and claim release (seeds 001, 002).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ScopeSettings {
    /// The userinfo endpoint answers access tokens without the `openid` scope (Janssen
    /// `openidScopeBackwardCompatibility`). Off: such a token gets `insufficient_scope`.
    pub openid_scope_backward_compatibility: bool,
}

/// Logout (`[logout]`): the five end-session properties of seed 003 with their Janssen
/// meaning, what logout does to tokens, and the back-channel deliveries.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LogoutSettings {
    /// A request without `id_token_hint` is `invalid_request` (Janssen `forceIdTokenHintPrecense`).
    pub force_id_token_hint_presence: bool,
    /// An expired `id_token_hint` is refused (Janssen `rejectEndSessionIfIdTokenExpired`). Off:
    /// an expired ID token we signed still identifies the RP and the session.
    pub reject_if_id_token_expired: bool,
    /// A hint whose `sid` is not the browser's session still ends the browser's session
    /// (Janssen `allowEndSessionWithUnmatchedSid`). Off: such a request is refused.
    pub allow_unmatched_sid: bool,
    /// An access token may stand in for the ID token in `id_token_hint` (Janssen
    /// `endSessionWithAccessToken`).
    pub with_access_token: bool,
    /// A `post_logout_redirect_uri` the client did not register is accepted when it matches
    /// `post_logout_redirect_allow_list` (Janssen `allowPostLogoutRedirectWithoutValidation`,
    /// checked against its `clientWhiteList`).
    pub allow_post_logout_redirect_without_validation: bool,
    /// Patterns (regular expressions matched against the whole URI) of post-logout redirects
    /// allowed without registration when the property above is on.
    pub post_logout_redirect_allow_list: Vec<String>,
    /// Logout revokes the refresh tokens issued in the session too (Janssen
    /// `removeRefreshTokensForClientOnLogout`). Off: only the session's access tokens end.
    pub remove_refresh_tokens_for_client_on_logout: bool,
    /// How long a logout waits for the back-channel deliveries, in milliseconds; deliveries still
    /// running then finish in the background (bounded by `outbound.timeout_ms`).
    pub backchannel_wait_ms: u64,
    /// Lifetime of a back-channel logout token, in seconds.
    pub logout_token_lifetime: i64,
    /// The scope a bearer token needs to list its user's active sessions (Janssen
    /// `activeSessionAuthorizationScope`).
    pub active_session_authorization_scope: String,
}

impl Default for LogoutSettings {
    fn default() -> Self {
        Self {
            force_id_token_hint_presence: false,
            reject_if_id_token_expired: false,
            allow_unmatched_sid: false,
            with_access_token: false,
            allow_post_logout_redirect_without_validation: false,
            post_logout_redirect_allow_list: Vec::new(),
            remove_refresh_tokens_for_client_on_logout: true,
            backchannel_wait_ms: 2000,
            logout_token_lifetime: 120,
            active_session_authorization_scope: "active_session".into(),
        }
    }
}

/// Dynamic client registration (`[registration]`, flag REGISTRATION): who may register, and
/// what a client registering itself may ask for. What only an administrator may set (trusted,
/// plugins, token lifetimes, ...) is refused by name; see `oauth::registration::policy`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RegistrationSettings {
    /// Anyone may register (RFC 7591 §3 open registration). Off: a registration request needs an
    /// initial access token, an access token of this server carrying
    /// `initial_access_token_scope` (Janssen `dcrAuthorizationWithClientCredentials`).
    pub open: bool,
    /// The scope an initial access token must carry.
    pub initial_access_token_scope: String,
    /// Grant types a dynamically registered client may declare (Janssen
    /// `dynamicGrantTypeDefault`); a subset of the implemented ones.
    pub allowed_grant_types: Vec<String>,
    /// Seconds a dynamically registered client lives before it stops working; 0 = no end
    /// (Janssen `dynamicRegistrationExpirationTime`).
    pub client_lifetime: i64,
    /// Accept `http://` `sector_identifier_uri` values (development only; https otherwise).
    pub allow_http_sector_identifier_uri: bool,
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        Self {
            open: false,
            initial_access_token_scope: "dynamic_registration".into(),
            allowed_grant_types: vec![
                "authorization_code".into(),
                "refresh_token".into(),
                "client_credentials".into(),
            ],
            client_lifetime: 0,
            allow_http_sector_identifier_uri: false,
        }
    }
}

/// Software statement assertions (`[ssa]`, flag SSA; Janssen's SSA endpoint).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SsaSettings {
    /// The scope a bearer token needs to issue, list and revoke SSAs (Janssen's).
    pub admin_scope: String,
    /// The JWS algorithm SSAs are signed with (one of `keys.algorithms`).
    pub signing_alg: String,
    /// Seconds an SSA lives when its request names no `expiration`.
    pub lifetime: i64,
    /// Other issuers whose software statements registration accepts, each with the JWKS its
    /// statements are verified with (fetched through the outbound module).
    pub trusted_issuers: Vec<TrustedIssuer>,
}

/// An issuer of software statements the operator trusts.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrustedIssuer {
    /// The `iss` of its statements.
    pub issuer: String,
    /// Where its public keys are.
    pub jwks_uri: String,
}

impl Default for SsaSettings {
    fn default() -> Self {
        Self {
            admin_scope: "https://jans.io/auth/ssa.admin".into(),
            signing_alg: "RS256".into(),
            lifetime: 30 * 86_400,
            trusted_issuers: Vec::new(),
        }
    }
}

/// The stat endpoint (`[stat]`, flag STAT; Janssen's stat service).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct StatSettings {
    /// The scope a bearer token needs (Janssen `statAuthorizationScope`).
    pub scope: String,
    /// How often each replica stores what it counted, in seconds.
    pub flush_interval_seconds: u64,
}

impl Default for StatSettings {
    fn default() -> Self {
        Self {
            scope: "jans_stat".into(),
            flush_interval_seconds: 10,
        }
    }
}

/// The metrics endpoint (`[metrics]`, flag METRIC), the operator's choice of protection.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct MetricsSettings {
    /// Empty: `/metrics` is served with the API and needs a bearer access token carrying
    /// `scope`. An address (`127.0.0.1:9464`): served there only, without a token (keep that
    /// listener on a private network).
    pub listen: String,
    /// The scope a token needs to read `/metrics` on the main listener.
    pub scope: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: String::new(),
            scope: "tessera.admin.metrics.read".into(),
        }
    }
}

/// The device authorization grant (`[device]`, RFC 8628, flag DEVICE_AUTHZ).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DeviceSettings {
    /// Seconds a device code and its user code live (Janssen `deviceAuthzRequestExpiresIn`).
    pub lifetime: i64,
    /// Seconds a device must wait between polls (Janssen `deviceAuthzTokenPollInterval`).
    pub interval: i64,
    /// Wrong user codes one client address may enter within `failure_window_seconds` before
    /// the verification page refuses it (429) for the rest of the window.
    pub user_code_failures: u32,
    /// The window of `user_code_failures`, in seconds.
    pub failure_window_seconds: i64,
}

impl Default for DeviceSettings {
    fn default() -> Self {
        Self {
            lifetime: 600,
            interval: 5,
            user_code_failures: 10,
            failure_window_seconds: 600,
        }
    }
}

/// DPoP (`[dpop]`, RFC 9449; Janssen's `dpop*` properties): sender-constrained tokens.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DpopSettings {
    /// JWS algorithms accepted on proofs (Janssen `dpopSigningAlgValuesSupported`); empty: DPoP
    /// is off (proofs are ignored, tokens are Bearer).
    pub signing_alg_values_supported: Vec<String>,
    /// How far a proof's `iat` may be from now, in seconds (Janssen `dpopTimeframe`).
    pub timeframe: i64,
    /// Proofs must carry a nonce this server issued (`use_dpop_nonce`, RFC 9449 §8; Janssen
    /// `dpopUseNonce`).
    pub use_nonce: bool,
    /// How long an issued nonce is accepted, in seconds (Janssen `dpopNonceCacheTime`).
    pub nonce_lifetime: i64,
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            signing_alg_values_supported: ["ES256", "ES384", "RS256", "PS256", "EdDSA"]
                .map(String::from)
                .to_vec(),
            timeframe: 60,
            use_nonce: false,
            nonce_lifetime: 300,
        }
    }
}

/// Who may introspect, and the response's shape (Janssen's introspection properties).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct IntrospectionSettings {
    /// A caller presenting a bearer access token needs the `introspection` scope in it
    /// (Janssen `introspectionAccessTokenMustHaveIntrospectionScope`).
    pub access_token_must_have_introspection_scope: bool,
    /// ... and the `uma_protection` scope (Janssen
    /// `introspectionAccessTokenMustHaveUmaProtectionScope`).
    pub access_token_must_have_uma_protection_scope: bool,
    /// No caller checks at all: public clients and bearer tokens without those scopes may
    /// introspect (Janssen `introspectionSkipAuthorization`; for test set-ups only).
    pub skip_authorization: bool,
    /// `scope` as a JSON array instead of RFC 7662's space-separated string (Janssen
    /// `introspectionResponseScopesBackwardCompatibility`).
    pub response_scopes_backward_compatibility: bool,
    /// Every introspection plugin runs, not only those bound to the introspected token's client
    /// (Janssen `introspectionScriptBackwardCompatibility`).
    pub script_backward_compatibility: bool,
}

impl Default for IntrospectionSettings {
    fn default() -> Self {
        Self {
            access_token_must_have_introspection_scope: true,
            access_token_must_have_uma_protection_scope: false,
            skip_authorization: false,
            response_scopes_backward_compatibility: false,
            script_backward_compatibility: false,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            issuer: "http://localhost:8080".into(),
            database_url: DatabaseUrl("sqlite://data/tessera.db".into()),
            worker_threads: 0,
            database_max_connections: 8,
            database_sqlite_synchronous: SqliteSynchronous::Normal,
            data_dir: PathBuf::from("data"),
            master_key: Secret::default(),
            log: LogSettings::default(),
            http: HttpSettings::default(),
            tokens: TokenSettings::default(),
            keys: KeySettings::default(),
            client_auth: ClientAuthSettings::default(),
            session: SessionSettings::default(),
            acr: AcrSettings::default(),
            features: FeatureFlags::default(),
            authorize: AuthorizeSettings::default(),
            login: LoginSettings::default(),
            outbound: OutboundSettings::default(),
            revocation: RevocationSettings::default(),
            introspection: IntrospectionSettings::default(),
            scopes: ScopeSettings::default(),
            logout: LogoutSettings::default(),
            registration: RegistrationSettings::default(),
            dpop: DpopSettings::default(),
            device: DeviceSettings::default(),
            metrics: MetricsSettings::default(),
            stat: StatSettings::default(),
            ssa: SsaSettings::default(),
            plugins_dir: PathBuf::from("data/plugins"),
            plugins: PluginSettings::default(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Plain,
            http: false,
            oauth_audit: false,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        // Token, introspection and revocation bodies are a few hundred bytes; 64 KiB leaves room
        // for large client assertions while bounding what an attacker can make us buffer.
        Self {
            max_body_bytes: 64 * 1024,
        }
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_token_lifetime: 3600,
            access_token_signing_alg: "ES256".into(),
            refresh_token_lifetime: 14_400,
            id_token_lifetime: 3_600,
            id_token_signing_alg: "RS256".into(),
            authorization_code_lifetime: 60,
            require_offline_access_for_refresh: true,
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            lifetime: 86_400,
            unused_lifetime: 86_400,
            interaction_lifetime: 600,
        }
    }
}

impl Default for AcrSettings {
    fn default() -> Self {
        Self {
            enabled: vec!["simple_password_auth".into()],
            default: "simple_password_auth".into(),
        }
    }
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            algorithms: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            // A day outlives any default token lifetime, so no token outlives its key.
            retire_after: 86_400,
            reload_interval_ms: 1_000,
            publish_ahead: 10,
        }
    }
}

impl Default for ClientAuthSettings {
    fn default() -> Self {
        Self {
            assertion_max_lifetime: 600,
            jwks_cache_seconds: 300,
            allow_http_jwks_uri: false,
        }
    }
}

impl Default for AuthorizeSettings {
    fn default() -> Self {
        // A legitimate request is well under a kilobyte per parameter; these bounds keep one
        // pending sign-in below ~40 KB and one address below ~4 MB of stored requests.
        Self {
            require_pkce: false,
            max_param_bytes: 2048,
            max_claims_bytes: 4096,
            max_json_depth: 8,
            max_resources: 10,
            max_pending_per_ip: 100,
            require_pushed_authorization_requests: false,
            par_lifetime: 60,
            allow_http_request_uri: false,
        }
    }
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_concurrent_verifications: 0,
            verification_wait_ms: 2_000,
            account_failures: 5,
            ip_failures: 20,
            lockout_seconds: 30,
            max_lockout_seconds: 900,
            failure_window_seconds: 900,
        }
    }
}

impl Default for OutboundSettings {
    fn default() -> Self {
        // A JWK Set is a few KB; 256 KiB is generous and bounds memory per fetch.
        Self {
            max_body_bytes: 256 * 1024,
            connect_timeout_ms: 2_000,
            timeout_ms: 5_000,
            failure_backoff_seconds: 30,
            allow_internal_hosts: Vec::new(),
        }
    }
}

/// Settings plus the warnings (unknown keys) found while loading them.
#[derive(Debug)]
pub struct Loaded {
    /// The validated settings.
    pub settings: Settings,
    /// Human-readable warnings to log once logging is up.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Loads defaults, then `file` (if any), then the `TESSERA_*` variables of `env`, and
    /// validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let defaults = toml::Value::try_from(Settings::default())
            .map_err(|e| ConfigError::new("(defaults)", e.to_string()))?;
        let mut merged = defaults.clone();
        let mut warnings = Vec::new();

        if let Some(path) = file {
            let key = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|e| ConfigError::new(&key, e.to_string()))?;
            let mut doc: toml::Value = toml::from_str(&text)
                .map_err(|e| ConfigError::new(&key, e.message().to_string()))?;
            normalize_feature_keys(&mut doc);
            merge(&mut merged, doc, &defaults, "", &mut warnings);
        }

        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !ENV_NOT_SETTINGS.contains(&k.as_str()))
            .collect();
        env.sort();
        for (name, value) in env {
            let path: Vec<String> = name[ENV_PREFIX.len()..]
                .split("__")
                .map(|s| s.to_ascii_lowercase())
                .collect();
            let Some(default) = lookup(&defaults, &path) else {
                warnings.push(format!("unknown environment variable {name} ignored"));
                continue;
            };
            let typed = env_value(default, &value).map_err(|m| ConfigError::new(&name, m))?;
            set(&mut merged, &path, typed);
        }

        let settings: Settings = serde_path_to_error::deserialize(merged).map_err(|e| {
            // toml appends "in `key`" on further lines; the path already names the key.
            let msg = e.inner().to_string();
            ConfigError::new(
                e.path().to_string(),
                msg.lines().next().unwrap_or_default().to_string(),
            )
        })?;
        settings.validate()?;
        Ok(Loaded { settings, warnings })
    }

    /// Checks every value that deserialized but may still be unusable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        let issuer = url::Url::parse(&self.issuer)
            .map_err(|e| ConfigError::new("issuer", format!("not a URL: {e}")))?;
        if !matches!(issuer.scheme(), "http" | "https") || issuer.host().is_none() {
            return Err(ConfigError::new(
                "issuer",
                "must be an http(s) URL with a host",
            ));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(ConfigError::new(
                "issuer",
                "must not have a query or fragment (OpenID Discovery §3)",
            ));
        }
        let db = &self.database_url.0;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError::new(
                "database_max_connections",
                "must be at least 1",
            ));
        }
        if !self.master_key.0.is_empty() {
            crate::crypto::secrets::MasterKey::from_base64(&self.master_key.0)
                .map_err(|m| ConfigError::new("master_key", m))?;
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::new("log.level", e.to_string()))?;
        if self.http.max_body_bytes < 1024 {
            return Err(ConfigError::new(
                "http.max_body_bytes",
                "must be at least 1024",
            ));
        }
        if self.tokens.access_token_lifetime <= 0 {
            return Err(ConfigError::new(
                "tokens.access_token_lifetime",
                "must be positive",
            ));
        }
        let alg = crate::crypto::SigningAlg::parse(&self.tokens.access_token_signing_alg)
            .ok_or_else(|| {
                ConfigError::new("tokens.access_token_signing_alg", "unsupported algorithm")
            })?;
        if self.keys.algorithms.is_empty() {
            return Err(ConfigError::new(
                "keys.algorithms",
                "must name at least one algorithm",
            ));
        }
        for a in &self.keys.algorithms {
            if crate::crypto::SigningAlg::parse(a).is_none() {
                return Err(ConfigError::new(
                    "keys.algorithms",
                    format!("unsupported algorithm {a:?} (RS256, ES256, EdDSA)"),
                ));
            }
        }
        if !self.keys.algorithms.iter().any(|a| a == alg.name()) {
            return Err(ConfigError::new(
                "tokens.access_token_signing_alg",
                "must be one of keys.algorithms",
            ));
        }
        if self.keys.retire_after < 0 {
            return Err(ConfigError::new(
                "keys.retire_after",
                "must not be negative",
            ));
        }
        if self.keys.reload_interval_ms == 0 {
            return Err(ConfigError::new(
                "keys.reload_interval_ms",
                "must be positive",
            ));
        }
        if self.keys.publish_ahead.saturating_mul(1000)
            < 2 * i64::try_from(self.keys.reload_interval_ms).unwrap_or(i64::MAX / 2)
        {
            return Err(ConfigError::new(
                "keys.publish_ahead",
                "must be at least twice keys.reload_interval_ms, so every replica publishes a new key before it signs",
            ));
        }
        if self.client_auth.assertion_max_lifetime <= 0 {
            return Err(ConfigError::new(
                "client_auth.assertion_max_lifetime",
                "must be positive",
            ));
        }
        self.validate_browser_flows()?;
        self.validate_bounds()?;
        self.validate_logout()?;
        self.validate_registration()?;
        self.validate_dpop()?;
        self.validate_metrics()?;
        self.validate_plugins()
    }

    fn validate_metrics(&self) -> Result<(), ConfigError> {
        let m = &self.metrics;
        if !m.listen.is_empty() {
            m.listen.parse::<SocketAddr>().map_err(|e| {
                ConfigError::new("metrics.listen", format!("not a socket address: {e}"))
            })?;
        }
        if !crate::model::scope::is_valid_scope_token(&m.scope) {
            return Err(ConfigError::new("metrics.scope", "must be one scope value"));
        }
        if !crate::model::scope::is_valid_scope_token(&self.stat.scope) {
            return Err(ConfigError::new("stat.scope", "must be one scope value"));
        }
        if !crate::model::scope::is_valid_scope_token(&self.ssa.admin_scope) {
            return Err(ConfigError::new(
                "ssa.admin_scope",
                "must be one scope value",
            ));
        }
        if !self.keys.algorithms.contains(&self.ssa.signing_alg) {
            return Err(ConfigError::new(
                "ssa.signing_alg",
                "must be one of keys.algorithms",
            ));
        }
        if self.ssa.lifetime <= 0 {
            return Err(ConfigError::new("ssa.lifetime", "must be positive"));
        }
        for t in &self.ssa.trusted_issuers {
            if t.issuer.is_empty() || t.issuer == self.issuer {
                return Err(ConfigError::new(
                    "ssa.trusted_issuers",
                    "an issuer must be named, and not this server",
                ));
            }
            url::Url::parse(&t.jwks_uri)
                .map_err(|e| ConfigError::new("ssa.trusted_issuers", format!("jwks_uri: {e}")))?;
        }
        if self.stat.flush_interval_seconds == 0 {
            return Err(ConfigError::new(
                "stat.flush_interval_seconds",
                "must be positive",
            ));
        }
        Ok(())
    }

    fn validate_dpop(&self) -> Result<(), ConfigError> {
        let d = &self.dpop;
        for a in &d.signing_alg_values_supported {
            if !crate::crypto::jwt::ASYMMETRIC_ALGS.contains(&a.as_str()) {
                return Err(ConfigError::new(
                    "dpop.signing_alg_values_supported",
                    format!("{a:?} is not an asymmetric JWS algorithm this server verifies"),
                ));
            }
        }
        for (key, v) in [
            ("dpop.timeframe", d.timeframe),
            ("dpop.nonce_lifetime", d.nonce_lifetime),
            ("device.lifetime", self.device.lifetime),
            ("device.interval", self.device.interval),
            (
                "device.user_code_failures",
                i64::from(self.device.user_code_failures),
            ),
            (
                "device.failure_window_seconds",
                self.device.failure_window_seconds,
            ),
        ] {
            if v <= 0 {
                return Err(ConfigError::new(key, "must be positive"));
            }
        }
        Ok(())
    }

    fn validate_registration(&self) -> Result<(), ConfigError> {
        let r = &self.registration;
        if !crate::model::scope::is_valid_scope_token(&r.initial_access_token_scope) {
            return Err(ConfigError::new(
                "registration.initial_access_token_scope",
                "must be one scope value",
            ));
        }
        for g in &r.allowed_grant_types {
            if !crate::model::client::IMPLEMENTED_GRANT_TYPES.contains(&g.as_str()) {
                return Err(ConfigError::new(
                    "registration.allowed_grant_types",
                    format!("{g:?} is not a grant type this server implements"),
                ));
            }
        }
        if r.client_lifetime < 0 {
            return Err(ConfigError::new(
                "registration.client_lifetime",
                "must not be negative",
            ));
        }
        Ok(())
    }

    fn validate_bounds(&self) -> Result<(), ConfigError> {
        let a = &self.authorize;
        for (key, v, min) in [
            ("authorize.max_param_bytes", a.max_param_bytes, 256),
            ("authorize.max_claims_bytes", a.max_claims_bytes, 256),
            ("authorize.max_json_depth", a.max_json_depth, 4),
            ("authorize.max_resources", a.max_resources, 1),
            (
                "outbound.max_body_bytes",
                self.outbound.max_body_bytes,
                1024,
            ),
        ] {
            if v < min {
                return Err(ConfigError::new(key, format!("must be at least {min}")));
            }
        }
        // serde_json refuses to read back nesting deeper than 128; stored requests wrap the
        // `claims` value in a few levels of their own.
        if a.max_json_depth > 64 {
            return Err(ConfigError::new(
                "authorize.max_json_depth",
                "must be at most 64",
            ));
        }
        let l = &self.login;
        for (key, v) in [
            ("authorize.max_pending_per_ip", a.max_pending_per_ip),
            ("authorize.par_lifetime", a.par_lifetime),
            ("login.lockout_seconds", l.lockout_seconds),
            ("login.max_lockout_seconds", l.max_lockout_seconds),
            ("login.failure_window_seconds", l.failure_window_seconds),
            (
                "outbound.failure_backoff_seconds",
                self.outbound.failure_backoff_seconds,
            ),
            ("login.account_failures", i64::from(l.account_failures)),
            ("login.ip_failures", i64::from(l.ip_failures)),
            ("login.verification_wait_ms", l.verification_wait_ms as i64),
            (
                "outbound.connect_timeout_ms",
                self.outbound.connect_timeout_ms as i64,
            ),
            ("outbound.timeout_ms", self.outbound.timeout_ms as i64),
            (
                "logout.backchannel_wait_ms",
                self.logout.backchannel_wait_ms as i64,
            ),
            (
                "logout.logout_token_lifetime",
                self.logout.logout_token_lifetime,
            ),
        ] {
            if v <= 0 {
                return Err(ConfigError::new(key, "must be positive"));
            }
        }
        Ok(())
    }

    fn validate_logout(&self) -> Result<(), ConfigError> {
        for p in &self.logout.post_logout_redirect_allow_list {
            crate::model::pattern::compile(p).map_err(|e| {
                ConfigError::new(
                    "logout.post_logout_redirect_allow_list",
                    format!("{p:?}: {e}"),
                )
            })?;
        }
        if !crate::model::scope::is_valid_scope_token(
            &self.logout.active_session_authorization_scope,
        ) {
            return Err(ConfigError::new(
                "logout.active_session_authorization_scope",
                "must be one scope value",
            ));
        }
        Ok(())
    }

    fn validate_plugins(&self) -> Result<(), ConfigError> {
        if self.plugins_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("plugins_dir", "must not be empty"));
        }
        if !(10..=10_000).contains(&self.plugins.debounce_ms) {
            return Err(ConfigError::new(
                "plugins.debounce_ms",
                "must be between 10 and 10000",
            ));
        }
        Ok(())
    }

    fn validate_browser_flows(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            (
                "tokens.refresh_token_lifetime",
                self.tokens.refresh_token_lifetime,
            ),
            ("tokens.id_token_lifetime", self.tokens.id_token_lifetime),
            ("session.lifetime", self.session.lifetime),
            ("session.unused_lifetime", self.session.unused_lifetime),
            (
                "session.interaction_lifetime",
                self.session.interaction_lifetime,
            ),
        ] {
            if v <= 0 {
                return Err(ConfigError::new(key, "must be positive"));
            }
        }
        // RFC 6749 §4.1.2 recommends at most ten minutes; the issue (and OAuth 2.1 practice)
        // asks for at most a minute.
        if !(1..=60).contains(&self.tokens.authorization_code_lifetime) {
            return Err(ConfigError::new(
                "tokens.authorization_code_lifetime",
                "must be between 1 and 60 seconds",
            ));
        }
        let id_alg = crate::crypto::SigningAlg::parse(&self.tokens.id_token_signing_alg)
            .ok_or_else(|| {
                ConfigError::new("tokens.id_token_signing_alg", "unsupported algorithm")
            })?;
        if !self.keys.algorithms.iter().any(|a| a == id_alg.name()) {
            return Err(ConfigError::new(
                "tokens.id_token_signing_alg",
                "must be one of keys.algorithms",
            ));
        }
        if self.acr.enabled.is_empty() {
            return Err(ConfigError::new(
                "acr.enabled",
                "must name at least one ACR",
            ));
        }
        if let Some(bad) = self
            .acr
            .enabled
            .iter()
            .find(|a| a.is_empty() || a.contains(char::is_whitespace))
        {
            return Err(ConfigError::new(
                "acr.enabled",
                format!("{bad:?} is not a valid ACR value"),
            ));
        }
        if !self.acr.enabled.contains(&self.acr.default) {
            return Err(ConfigError::new(
                "acr.default",
                "must be one of acr.enabled",
            ));
        }
        Ok(())
    }

    /// The listen address, parsed.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("{:?} is not a socket address (host:port)", self.listen),
            )
        })
    }

    /// The issuer without a trailing slash, the base of every endpoint URL.
    pub fn issuer(&self) -> &str {
        self.issuer.trim_end_matches('/')
    }

    /// Whether cookies must carry `Secure` (the issuer is https).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https:")
    }

    /// Whether the database is the embedded SQLite one.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.0.starts_with("sqlite:")
    }
}

/// Accepts the seed's upper-case flag names (`REVOKE_TOKEN = false`) in files.
fn normalize_feature_keys(doc: &mut toml::Value) {
    if let Some(toml::Value::Table(features)) = doc.get_mut("features") {
        let entries: Vec<_> = std::mem::take(features).into_iter().collect();
        for (k, v) in entries {
            features.insert(k.to_ascii_lowercase(), v);
        }
    }
}

fn merge(
    into: &mut toml::Value,
    from: toml::Value,
    defaults: &toml::Value,
    prefix: &str,
    warnings: &mut Vec<String>,
) {
    let (toml::Value::Table(into), toml::Value::Table(from)) = (into, from) else {
        return;
    };
    for (k, v) in from {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let Some(default) = defaults.get(&k) else {
            warnings.push(format!("unknown configuration key {key} ignored"));
            continue;
        };
        match (into.get_mut(&k), default.is_table() && v.is_table()) {
            (Some(slot), true) => merge(slot, v, default, &key, warnings),
            _ => {
                into.insert(k, v);
            }
        }
    }
}

fn lookup<'a>(v: &'a toml::Value, path: &[String]) -> Option<&'a toml::Value> {
    path.iter().try_fold(v, |v, k| v.get(k.as_str()))
}

fn set(v: &mut toml::Value, path: &[String], value: toml::Value) {
    let mut cur = v;
    for k in &path[..path.len() - 1] {
        match cur.get_mut(k.as_str()) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let (Some(last), toml::Value::Table(t)) = (path.last(), cur) {
        t.insert(last.clone(), value);
    }
}

/// Parses an environment value as the type of the default it replaces.
fn env_value(default: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    Ok(match default {
        toml::Value::Boolean(_) => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(format!("expected true or false, got {raw:?}")),
        },
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| format!("expected an integer, got {raw:?}"))?,
        ),
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.into()))
                .collect(),
        ),
        toml::Value::Table(_) => return Err("is a section; set its keys with __".into()),
        _ => toml::Value::String(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        let loaded = Settings::load(None, env(&[])).expect("defaults load");
        assert_eq!(loaded.settings.listen, "127.0.0.1:8080");
        assert_eq!(loaded.settings.issuer, "http://localhost:8080");
        assert_eq!(loaded.settings.database_url.0, "sqlite://data/tessera.db");
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn file_then_env_layering_and_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("tessera-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let file = dir.join("t.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nbogus = 1\n[tokens]\naccess_token_lifetime = 60\n[features]\nREVOKE_TOKEN = false\n",
        )
        .expect("write");
        let loaded = Settings::load(
            Some(&file),
            env(&[
                ("TESSERA_LISTEN", "127.0.0.1:9001"),
                ("TESSERA_FEATURES__INTROSPECTION", "false"),
                ("TESSERA_NOPE", "x"),
                ("OTHER", "y"),
            ]),
        )
        .expect("load");
        let s = loaded.settings;
        assert_eq!(s.listen, "127.0.0.1:9001", "env wins over file");
        assert_eq!(
            s.tokens.access_token_lifetime, 60,
            "file wins over defaults"
        );
        assert!(!s.features.is_enabled(FeatureFlag::RevokeToken));
        assert!(!s.features.is_enabled(FeatureFlag::Introspection));
        assert!(s.features.is_enabled(FeatureFlag::Userinfo));
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("TESSERA_LISTEN", "nonsense", "listen"),
            ("TESSERA_ISSUER", "ftp://x", "issuer"),
            ("TESSERA_ISSUER", "https://x/?a=b", "issuer"),
            ("TESSERA_DATABASE_URL", "mysql://x", "database_url"),
            (
                "TESSERA_TOKENS__ACCESS_TOKEN_LIFETIME",
                "abc",
                "TESSERA_TOKENS__ACCESS_TOKEN_LIFETIME",
            ),
            (
                "TESSERA_TOKENS__ACCESS_TOKEN_LIFETIME",
                "0",
                "tokens.access_token_lifetime",
            ),
            ("TESSERA_LOG__FORMAT", "xml", "log.format"),
            ("TESSERA_KEYS__ALGORITHMS", "HS256", "keys.algorithms"),
            (
                "TESSERA_FEATURES__USERINFO",
                "maybe",
                "TESSERA_FEATURES__USERINFO",
            ),
            ("TESSERA_MASTER_KEY", "short", "master_key"),
        ];
        for (k, v, key) in cases {
            let err = Settings::load(None, env(&[(k, v)])).expect_err(k);
            assert_eq!(&err.key, key, "{k}={v}: {err}");
            assert!(
                err.to_string().starts_with("invalid configuration: "),
                "{err}"
            );
        }
    }

    #[test]
    fn secrets_hidden_from_debug() {
        let s = Settings {
            master_key: Secret("c2VjcmV0LXZhbHVlLXRoYXQtaXMtbG9uZy1lbm91Z2gx".into()),
            database_url: DatabaseUrl("postgres://u:hunter2@h/db".into()),
            ..Settings::default()
        };
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("c2VjcmV0"),
            "{dbg}"
        );
    }
}
