//! `/audit`: the audit log of administrative changes (seed 001 Logging), newest first.

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{Page, json, paging, query};
use crate::clock::UnixTime;
use crate::server::AppState;
use crate::store::{AuditEntry, AuditQuery};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only changes to this kind of resource (`clients`, `scopes`, `keys`, `sessions`, `config`).
    pub resource: Option<String>,
    /// Only changes to this resource.
    pub resource_id: Option<String>,
    /// Only changes by this admin client.
    pub actor_client: Option<String>,
    /// Only changes at or after this time (seconds since the epoch).
    pub since: Option<UnixTime>,
    /// Most items to return (1 to 500; default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<u32>,
}

/// Lists administrative changes, newest first, with their before and after representations
/// (secrets masked).
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditFilter),
    security(("bearer" = ["tessera.admin.audit.read"])),
    responses(
        (status = 200, description = "A page of the audit log", body = Page<AuditEntry>),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        Denied,
    ))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Audit, Access::Read).await?;
    let f: AuditFilter = query(&uri)?;
    let (limit, offset) = paging(f.limit, f.offset)?;
    let q = AuditQuery {
        resource: f.resource,
        resource_id: f.resource_id,
        actor_client: f.actor_client,
        since: f.since,
    };
    let (items, total) = state.store().list_audit(&q, limit, offset).await?;
    Ok(json(
        StatusCode::OK,
        &Page {
            items,
            total,
            limit,
            offset,
        },
    ))
}
