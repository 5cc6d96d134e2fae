//! `/acrs`: seed 001's Enabled ACRs screen: the ACR values the server offers and the default.
//! A view of the run-time configuration's `acr` section (scope `tessera.admin.config`), changed
//! the same way: stored, audited, and in force on every replica within a second.

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{audit, json_body, repr, required_if_match, tagged};
use crate::admin::config;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The enabled ACRs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acrs {
    /// The ACR values offered (`acr_values_supported`), in order of preference.
    pub enabled: Vec<String>,
    /// The ACR of a request that names none; one of `enabled`.
    pub default: String,
}

impl Acrs {
    /// The ACRs of a configuration view.
    fn of(view: &config::ConfigView) -> Result<Self, Problem> {
        serde_json::from_value(view.settings["acr"].clone()).map_err(|e| Problem::internal(&e))
    }

    fn etag(&self) -> String {
        crate::admin::etag(self)
    }
}

/// Reads the enabled ACRs and the default.
#[utoipa::path(get, path = "/acrs", tag = "config",
    security(("bearer" = ["tessera.admin.config.read"])),
    responses(
        (status = 200, description = "The enabled ACRs", body = Acrs, headers(("ETag" = String, description = "Entity tag"))),
        Denied,
    ))]
pub async fn read(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Config, Access::Read).await?;
    let (_, view) = config::current(&state).await?;
    let acrs = Acrs::of(&view)?;
    Ok(tagged(StatusCode::OK, &acrs.etag(), &acrs))
}

/// Replaces the enabled ACRs and the default. Needs `If-Match`.
#[utoipa::path(put, path = "/acrs", tag = "config",
    params(("If-Match" = String, Header, description = "The entity tag of the ACRs this replaces")),
    request_body(content = Acrs, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.config.write"])),
    responses(
        (status = 200, description = "Replaced", body = Acrs, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "A bad value (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 412, description = "The configuration changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Config, Access::Write).await?;
    let if_match = required_if_match(&headers)?;
    let wanted: Acrs =
        serde_path_to_error::deserialize(json_body(&headers, &body, "application/json")?)
            .map_err(|e| Problem::bad_request(format!("{}: {}", e.path(), e.inner())))?;
    // The tag is checked against the configuration read here, and the change is made against
    // that same read: a configuration change in between is a 412, not a lost update.
    let (_, view) = config::current(&state).await?;
    let before = Acrs::of(&view)?;
    if !crate::admin::if_match(if_match, &before.etag()) {
        return Err(Problem::stale(
            "the ACRs changed since they were read; read them again",
        ));
    }
    let ops = serde_json::json!([
        {"op": "replace", "path": "/acr/enabled", "value": wanted.enabled},
        {"op": "replace", "path": "/acr/default", "value": wanted.default},
    ]);
    let view = config::patch(&state, ops, &view.etag(), &caller.client_id, state.now()).await?;
    let after = Acrs::of(&view)?;
    audit(
        &state,
        &caller,
        Resource::Config,
        "acrs",
        "acr",
        repr(&before),
        repr(&after),
    )
    .await;
    Ok(tagged(StatusCode::OK, &after.etag(), &after))
}
