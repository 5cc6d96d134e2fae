//! `/export` and `/import`: the whole configuration as one document (clients without secrets,
//! scopes, run-time configuration, plugin manifests), for configuration as code and for moving
//! between servers. Import is idempotent: importing the same document again changes nothing.

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{audit, json, json_body, repr};
use crate::admin::transfer::{self, Export, ImportError, ImportReport};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// The resources an export reads and an import writes.
const RESOURCES: [Resource; 3] = [Resource::Clients, Resource::Scopes, Resource::Config];

impl From<ImportError> for Problem {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Invalid(_) => Problem::bad_request(e.to_string()),
            ImportError::Stale(_) => Problem::stale(e.to_string()),
            ImportError::Store(e) => e.into(),
        }
    }
}

/// Exports the whole configuration: clients (without secrets), scopes (but spontaneous ones),
/// the run-time configuration's overrides and the plugin manifests.
#[utoipa::path(get, path = "/export", tag = "transfer",
    security(("bearer" = ["tessera.admin.clients.read", "tessera.admin.scopes.read", "tessera.admin.config.read"])),
    responses(
        (status = 200, description = "The configuration", body = Export),
        Denied,
    ))]
pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    for r in RESOURCES {
        auth::require(&state, &headers, r, Access::Read).await?;
    }
    Ok(json(StatusCode::OK, &transfer::export(&state).await?))
}

/// Makes the server match an exported document: creates what is missing, changes what differs,
/// deletes nothing. The secrets of confidential clients it creates are in this answer only.
#[utoipa::path(post, path = "/import", tag = "transfer",
    request_body(content = Export, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.clients.write", "tessera.admin.scopes.write", "tessera.admin.config.write"])),
    responses(
        (status = 200, description = "What the import did", body = ImportReport),
        (status = 400, description = "The document or an item is refused (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 412, description = "Something changed during the import; import again", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let mut caller = None;
    for r in RESOURCES {
        caller = Some(auth::require(&state, &headers, r, Access::Write).await?);
    }
    let Some(caller) = caller else {
        return Err(Problem::internal(&"no resource checked"));
    };
    let doc = json_body(&headers, &body, "application/json")?;
    let report: ImportReport =
        transfer::import(&state, doc, &caller.client_id, state.now()).await?;
    let summary = serde_json::json!({
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "plugins_not_applied": report.plugins_not_applied,
    });
    audit(
        &state,
        &caller,
        Resource::Config,
        "import",
        "import",
        None,
        repr(&summary),
    )
    .await;
    Ok(json(StatusCode::OK, &report))
}
