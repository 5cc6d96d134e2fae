//! `/config`: seed 001's Server configuration and Logging screens: every setting in force, and
//! changes to the run-time ones (properties, feature flags, logging) as JSON Patch documents.

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{PatchOperation, audit, json_body, repr, required_if_match, tagged};
use crate::admin::config::{self, ConfigView};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// Reads the configuration: every setting in force, what administrators overrode, and which
/// settings only the file sets.
#[utoipa::path(get, path = "/config", tag = "config",
    security(("bearer" = ["tessera.admin.config.read"])),
    responses(
        (status = 200, description = "The configuration", body = ConfigView, headers(("ETag" = String, description = "Entity tag"))),
        Denied,
    ))]
pub async fn read(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Config, Access::Read).await?;
    let (_, view) = config::current(&state).await?;
    Ok(tagged(StatusCode::OK, &view.etag(), &view))
}

/// Changes run-time settings with an RFC 6902 JSON Patch of `settings` (e.g.
/// `[{"op": "replace", "path": "/features/introspection", "value": false}]`). `remove` of a
/// setting resets it to its file (or default) value; a path may start with a Janssen property
/// name (`/accessTokenLifetime`). A start-up
/// setting, an unknown key or a bad value is refused with the key and the reason. The change
/// applies to the next request here and on every replica within a second. Needs `If-Match`.
#[utoipa::path(patch, path = "/config", tag = "config",
    params(("If-Match" = String, Header, description = "The entity tag of the configuration this patches")),
    request_body(content = Vec<PatchOperation>, content_type = "application/json-patch+json"),
    security(("bearer" = ["tessera.admin.config.write"])),
    responses(
        (status = 200, description = "Changed", body = ConfigView, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "The patch does not apply, or a key is refused (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 412, description = "The configuration changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON Patch", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Config, Access::Write).await?;
    let if_match = required_if_match(&headers)?;
    let ops = json_body(&headers, &body, "application/json-patch+json")?;
    let (_, before) = config::current(&state).await?;
    let view = config::patch(&state, ops, if_match, &caller.client_id, state.now()).await?;
    let id = view.revision.to_string();
    audit(
        &state,
        &caller,
        Resource::Config,
        "patch",
        &id,
        repr(&before.overrides),
        repr(&view.overrides),
    )
    .await;
    Ok(tagged(StatusCode::OK, &view.etag(), &view))
}
