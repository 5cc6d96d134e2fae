//! `/plugins`: seed 001's deployment screen for Wasm plugins: upload a component with its
//! manifest and SHA-256 (a mismatch is refused), stored so that every replica serves it within a
//! second; the deployment details and live call counts of each; delete.

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{Page, audit, json, repr};
use crate::admin::plugins::{self, DeployError, Upload};
use crate::plugins::canary::Comparison;
use crate::plugins::registry::PluginStatus;
use crate::server::AppState;
use crate::store::PluginRow;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest upload accepted, in bytes (a CPython component is tens of MB; base64 adds a third).
pub const MAX_UPLOAD_BYTES: usize = 128 * 1024 * 1024;

impl From<DeployError> for Problem {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Invalid(_) => Problem::bad_request(e.to_string()),
            DeployError::NotFound(_) => Problem::not_found(e.to_string()),
            DeployError::Store(e) => e.into(),
        }
    }
}

/// A plugin to deploy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginUpload {
    /// The plugin's name (the manifest's `name`).
    pub name: String,
    /// The manifest's TOML text; its `sha256` must be the component's.
    pub manifest: String,
    /// The component, base64 (standard alphabet, padded).
    pub wasm: String,
    /// Hex SHA-256 of the component as the uploader computed it; a mismatch is refused.
    pub sha256: String,
}

/// A deployed plugin: what was stored, and how this server runs it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginView {
    /// The deployment as stored.
    #[serde(flatten)]
    pub deployment: PluginRow,
    /// Whether the manifest enables it.
    pub enabled: bool,
    /// `loaded`, `disabled` or `refused` on this server (`pending` before its first reload).
    pub state: String,
    /// The version serving here, if any (an older one keeps serving when a new one is refused).
    pub serving_version: Option<String>,
    /// Why the newest version was refused here, if it was.
    pub last_error: Option<String>,
    /// When the serving version finished loading on this server (Unix seconds): the end of the
    /// deployment that began at `uploaded_at`.
    pub loaded_at: Option<i64>,
    /// Calls on this server since it started.
    pub calls: u64,
    /// Failed calls on this server since it started.
    pub errors: u64,
    /// Median duration of the latest calls here, µs.
    pub p50_us: Option<u64>,
    /// 99th-percentile duration of the latest calls here, µs.
    pub p99_us: Option<u64>,
    /// Why the last failed call failed.
    pub last_call_error: Option<String>,
    /// The canary version running in shadow, if one is deployed.
    pub canary: Option<CanaryView>,
}

/// A canary: a new version running in shadow on a sampled share of the live version's calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanaryView {
    /// The canary as stored.
    #[serde(flatten)]
    pub deployment: PluginRow,
    /// Percent of calls it also runs on.
    pub sample_percent: u8,
    /// `running` on this server, or `not running` (it failed to load here, or is loading).
    pub state: String,
    /// How its answers compared with the live version's on this server.
    #[serde(flatten)]
    pub comparison: Comparison,
    /// Median duration of its latest shadow calls here, µs.
    pub p50_us: Option<u64>,
    /// 99th-percentile duration of its latest shadow calls here, µs.
    pub p99_us: Option<u64>,
    /// Why its last failed call failed.
    pub last_call_error: Option<String>,
}

/// The view of `row` with its status among `statuses` (the registry's) and its canary.
fn view(
    state: &AppState,
    statuses: &[PluginStatus],
    canaries: &[(PluginRow, u8)],
    row: PluginRow,
) -> PluginView {
    let enabled = crate::plugins::Manifest::parse(&row.manifest, &row.name)
        .map(|m| m.enabled)
        .unwrap_or(false);
    let canary = canaries
        .iter()
        .find(|(c, _)| c.name == row.name)
        .map(|(c, sample)| {
            let running = state
                .hooks()
                .registry()
                .canary(&c.name)
                .filter(|r| r.plugin.sha256 == c.sha256);
            let (p50_us, p99_us, last_call_error) = running
                .as_ref()
                .map(|r| r.plugin.counters.recent())
                .unwrap_or_default();
            CanaryView {
                deployment: c.clone(),
                sample_percent: *sample,
                p50_us,
                p99_us,
                last_call_error,
                state: if running.is_some() {
                    "running"
                } else {
                    "not running"
                }
                .into(),
                comparison: running.map(|r| r.comparison()).unwrap_or_default(),
            }
        });
    let s = statuses.iter().find(|s| s.name == row.name).cloned();
    PluginView {
        deployment: row,
        enabled,
        state: s.as_ref().map_or("pending".into(), |s| s.state.clone()),
        serving_version: s.as_ref().and_then(|s| s.version.clone()),
        last_error: s.as_ref().and_then(|s| s.last_error.clone()),
        loaded_at: s.as_ref().and_then(|s| s.loaded_at),
        calls: s.as_ref().map_or(0, |s| s.calls),
        errors: s.as_ref().map_or(0, |s| s.errors),
        p50_us: s.as_ref().and_then(|s| s.p50_us),
        p99_us: s.as_ref().and_then(|s| s.p99_us),
        last_call_error: s.as_ref().and_then(|s| s.last_call_error.clone()),
        canary,
    }
}

/// The view of stored plugin `name`.
async fn view_of(state: &AppState, name: &str) -> Result<PluginView, Problem> {
    let row = plugins::stored(state.store(), name).await?;
    let canaries = state.store().list_canaries().await?;
    Ok(view(
        state,
        &state.hooks().registry().status(),
        &canaries,
        row,
    ))
}

/// Lists the plugins deployed through this API with their state here.
#[utoipa::path(get, path = "/plugins", tag = "plugins",
    security(("bearer" = ["tessera.admin.plugins.read"])),
    responses(
        (status = 200, description = "The deployed plugins", body = Page<PluginView>),
        Denied,
    ))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Plugins, Access::Read).await?;
    let statuses = state.hooks().registry().status();
    let canaries = state.store().list_canaries().await?;
    let all: Vec<PluginView> = state
        .store()
        .list_plugins()
        .await?
        .into_iter()
        .map(|r| view(&state, &statuses, &canaries, r))
        .collect();
    Ok(json(StatusCode::OK, &super::page(all, Some(500), None)?))
}

/// Deploys a plugin (or a new version of one): the checksum must match, the manifest must be
/// valid and the component must compile and export the manifest's hook. Stored, served here at
/// once and by every replica within a second.
#[utoipa::path(post, path = "/plugins", tag = "plugins",
    request_body(content = PluginUpload, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.plugins.write"])),
    responses(
        (status = 201, description = "Deployed", body = PluginView),
        (status = 400, description = "Refused (checksum, manifest or component; named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 413, description = "Too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deploy(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Plugins, Access::Write).await?;
    let upload: PluginUpload = upload_body(&headers, body).await?;
    let wasm = decode_wasm(&upload.wasm)?;
    let row = plugins::deploy(
        state.store(),
        state.hooks().registry(),
        Upload {
            name: upload.name,
            manifest: upload.manifest,
            wasm,
            sha256: upload.sha256,
        },
        &caller.client_id,
        state.now(),
    )
    .await?;
    sync(&state).await?;
    let name = row.name.clone();
    let v = view_of(&state, &name).await?;
    audit(
        &state,
        &caller,
        Resource::Plugins,
        "deploy",
        &name,
        None,
        repr(&v.deployment),
    )
    .await;
    Ok(super::located(
        json(StatusCode::CREATED, &v),
        "plugins",
        &name,
    ))
}

/// Removes a deployed plugin: it stops serving here at once and on every replica within a
/// second.
#[utoipa::path(delete, path = "/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin")),
    security(("bearer" = ["tessera.admin.plugins.write"])),
    responses(
        (status = 204, description = "Removed"),
        Denied,
        (status = 404, description = "No such deployed plugin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let caller = auth::require(&state, &headers, Resource::Plugins, Access::Write).await?;
    plugins::remove(state.store(), &name).await?;
    sync(&state).await?;
    audit(
        &state,
        &caller,
        Resource::Plugins,
        "remove",
        &name,
        None,
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Writes the stored plugins and canaries here and reloads (the other replicas follow through
/// the change notification).
async fn sync(state: &AppState) -> Result<(), Problem> {
    state
        .sync_plugins()
        .await
        .map(|_| ())
        .map_err(|e| Problem::internal(&e))
}

/// Reads an upload body of at most [`MAX_UPLOAD_BYTES`] as JSON of type `T`.
async fn upload_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, Problem> {
    let bytes = axum::body::to_bytes(body, MAX_UPLOAD_BYTES)
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("an upload is at most {MAX_UPLOAD_BYTES} bytes"),
            )
        })?;
    serde_path_to_error::deserialize(super::json_body(headers, &bytes, "application/json")?)
        .map_err(|e| Problem::bad_request(format!("{}: {}", e.path(), e.inner())))
}

fn decode_wasm(b64: &str) -> Result<Vec<u8>, Problem> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| Problem::bad_request(format!("wasm: not base64: {e}")))
}

/// Reads one deployed plugin: the deployment, its state and figures here, and its canary.
#[utoipa::path(get, path = "/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin")),
    security(("bearer" = ["tessera.admin.plugins.read"])),
    responses(
        (status = 200, description = "The plugin", body = PluginView),
        Denied,
        (status = 404, description = "No such deployed plugin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Plugins, Access::Read).await?;
    Ok(json(StatusCode::OK, &view_of(&state, &name).await?))
}

/// A change to a deployed plugin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginChange {
    /// Enable (`true`) or disable (`false`) it on every server.
    pub enabled: bool,
}

/// Enables or disables a deployed plugin on every server within a second.
#[utoipa::path(patch, path = "/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "The plugin")),
    request_body(content = PluginChange, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.plugins.write"])),
    responses(
        (status = 200, description = "Changed", body = PluginView),
        (status = 400, description = "A bad change (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such deployed plugin", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Plugins, Access::Write).await?;
    let change: PluginChange = upload_body(&headers, body).await?;
    let before = plugins::stored(state.store(), &name).await?;
    let after = plugins::set_enabled(state.store(), &name, change.enabled).await?;
    sync(&state).await?;
    let action = if change.enabled { "enable" } else { "disable" };
    audit(
        &state,
        &caller,
        Resource::Plugins,
        action,
        &name,
        repr(&before),
        repr(&after),
    )
    .await;
    Ok(json(StatusCode::OK, &view_of(&state, &name).await?))
}

/// A canary version to run in shadow beside the live one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryUpload {
    /// The canary's manifest TOML text; its `name` is the live plugin's, its `sha256` the
    /// component's.
    pub manifest: String,
    /// The component, base64 (standard alphabet, padded).
    pub wasm: String,
    /// Hex SHA-256 of the component as the uploader computed it; a mismatch is refused.
    pub sha256: String,
    /// Percent of the live version's calls the canary also runs on (1 to 100).
    pub sample_percent: u8,
}

/// Deploys a canary: the new version runs on a sampled share of real calls beside the live
/// one on every server; its answers are compared with the live version's and never used. It
/// replaces an earlier canary. Checked as a deployment is, and it must serve the same hook.
#[utoipa::path(put, path = "/plugins/{name}/canary", tag = "plugins",
    params(("name" = String, Path, description = "The live plugin")),
    request_body(content = CanaryUpload, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.plugins.write"])),
    responses(
        (status = 201, description = "Running in shadow", body = PluginView),
        (status = 400, description = "Refused (checksum, manifest, component or hook; named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such deployed plugin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deploy_canary(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Plugins, Access::Write).await?;
    let upload: CanaryUpload = upload_body(&headers, body).await?;
    let wasm = decode_wasm(&upload.wasm)?;
    let row = plugins::deploy_canary(
        state.store(),
        state.hooks().registry(),
        Upload {
            name: name.clone(),
            manifest: upload.manifest,
            wasm,
            sha256: upload.sha256,
        },
        upload.sample_percent,
        &caller.client_id,
        state.now(),
    )
    .await?;
    sync(&state).await?;
    audit(
        &state,
        &caller,
        Resource::Plugins,
        "deploy_canary",
        &name,
        None,
        repr(&row),
    )
    .await;
    Ok(json(StatusCode::CREATED, &view_of(&state, &name).await?))
}

/// Discards the canary: it stops running on every server.
#[utoipa::path(delete, path = "/plugins/{name}/canary", tag = "plugins",
    params(("name" = String, Path, description = "The live plugin")),
    security(("bearer" = ["tessera.admin.plugins.write"])),
    responses(
        (status = 204, description = "Discarded"),
        Denied,
        (status = 404, description = "No canary", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn discard_canary(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let caller = auth::require(&state, &headers, Resource::Plugins, Access::Write).await?;
    plugins::discard_canary(state.store(), &name).await?;
    sync(&state).await?;
    audit(
        &state,
        &caller,
        Resource::Plugins,
        "discard_canary",
        &name,
        None,
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Which canary to promote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    /// The canary's SHA-256 as the administrator reviewed it: a canary replaced meanwhile is
    /// not promoted.
    pub sha256: String,
}

/// Promotes the canary: in one step it becomes the live version (and stops being a canary)
/// on every server.
#[utoipa::path(post, path = "/plugins/{name}/canary/promote", tag = "plugins",
    params(("name" = String, Path, description = "The live plugin")),
    request_body(content = Promotion, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.plugins.write"])),
    responses(
        (status = 200, description = "Promoted", body = PluginView),
        (status = 400, description = "A bad request (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such canary", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn promote_canary(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Plugins, Access::Write).await?;
    let p: Promotion = upload_body(&headers, body).await?;
    let before = plugins::stored(state.store(), &name).await?;
    let after = plugins::promote_canary(
        state.store(),
        &name,
        &p.sha256,
        &caller.client_id,
        state.now(),
    )
    .await?;
    sync(&state).await?;
    audit(
        &state,
        &caller,
        Resource::Plugins,
        "promote_canary",
        &name,
        repr(&before),
        repr(&after),
    )
    .await;
    Ok(json(StatusCode::OK, &view_of(&state, &name).await?))
}
