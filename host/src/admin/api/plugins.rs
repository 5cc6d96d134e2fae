//! `/plugins`: seed 001's deployment screen for Wasm plugins: upload a component with its
//! manifest and SHA-256 (a mismatch is refused), stored so that every replica serves it within a
//! second; the deployment details and live call counts of each; delete.

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{Page, audit, json, repr};
use crate::admin::plugins::{self, DeployError, Upload};
use crate::plugins::registry::PluginStatus;
use crate::server::AppState;
use crate::store::PluginRow;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
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
    /// `loaded`, `disabled` or `refused` on this server (`pending` before its first reload).
    pub state: String,
    /// The version serving here, if any (an older one keeps serving when a new one is refused).
    pub serving_version: Option<String>,
    /// Why the newest version was refused here, if it was.
    pub last_error: Option<String>,
    /// Calls on this server since it started.
    pub calls: u64,
    /// Failed calls on this server since it started.
    pub errors: u64,
}

/// The view of `row` with its status among `statuses` (the registry's).
fn view(statuses: &[PluginStatus], row: PluginRow) -> PluginView {
    match statuses.iter().find(|s| s.name == row.name).cloned() {
        Some(s) => PluginView {
            deployment: row,
            state: s.state,
            serving_version: s.version,
            last_error: s.last_error,
            calls: s.calls,
            errors: s.errors,
        },
        None => PluginView {
            deployment: row,
            state: "pending".into(),
            serving_version: None,
            last_error: None,
            calls: 0,
            errors: 0,
        },
    }
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
    let all: Vec<PluginView> = state
        .store()
        .list_plugins()
        .await?
        .into_iter()
        .map(|r| view(&statuses, r))
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
    let bytes = axum::body::to_bytes(body, MAX_UPLOAD_BYTES)
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("an upload is at most {MAX_UPLOAD_BYTES} bytes"),
            )
        })?;
    let upload: PluginUpload =
        serde_path_to_error::deserialize(super::json_body(&headers, &bytes, "application/json")?)
            .map_err(|e| Problem::bad_request(format!("{}: {}", e.path(), e.inner())))?;
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(upload.wasm.as_bytes())
        .map_err(|e| Problem::bad_request(format!("wasm: not base64: {e}")))?;
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
    state
        .sync_plugins()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let name = row.name.clone();
    let v = view(&state.hooks().registry().status(), row);
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
    let mut resp = json(StatusCode::CREATED, &v);
    if let Ok(loc) = format!("{}/plugins/{name}", super::BASE).parse() {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
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
    state
        .sync_plugins()
        .await
        .map_err(|e| Problem::internal(&e))?;
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
