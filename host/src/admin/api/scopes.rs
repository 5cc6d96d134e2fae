//! `/scopes`: seed 001's Scopes screen as a resource. OAuth, OpenID, dynamic and UMA scopes are
//! created by administrators; spontaneous ones are listed (clients create them).

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{Page, PatchOperation, audit, json, json_body, query, repr, required_if_match, tagged};
use crate::admin::scopes::{self, ScopeInput, ScopeView};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

/// Filters of the scope list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeFilter {
    /// Only scopes of this type (`oauth`, `openid`, `dynamic`, `spontaneous`, `uma`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub scope_type: Option<String>,
    /// Only spontaneous scopes this client created.
    pub creator_id: Option<String>,
    /// Only scopes whose id contains this.
    pub pattern: Option<String>,
    /// Most items to return (1 to 500; default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<u32>,
}

/// Lists scopes by id.
#[utoipa::path(get, path = "/scopes", tag = "scopes", params(ScopeFilter),
    security(("bearer" = ["tessera.admin.scopes.read"])),
    responses(
        (status = 200, description = "A page of scopes", body = Page<ScopeView>),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        Denied,
    ))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Scopes, Access::Read).await?;
    let filter: ScopeFilter = query(&uri)?;
    let all: Vec<ScopeView> = state
        .store()
        .list_scopes()
        .await?
        .iter()
        .filter(|s| {
            filter
                .scope_type
                .as_ref()
                .is_none_or(|t| *t == s.scope_type)
        })
        .filter(|s| filter.creator_id.is_none() || s.creator_id == filter.creator_id)
        .filter(|s| {
            filter
                .pattern
                .as_deref()
                .is_none_or(|p| s.scope_id.contains(p))
        })
        .map(ScopeView::of)
        .collect();
    Ok(json(
        StatusCode::OK,
        &super::page(all, filter.limit, filter.offset)?,
    ))
}

/// Creates a scope.
#[utoipa::path(post, path = "/scopes", tag = "scopes",
    request_body(content = ScopeInput, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.scopes.write"])),
    responses(
        (status = 201, description = "Created", body = ScopeView,
            headers(("ETag" = String, description = "Entity tag"), ("Location" = String, description = "The scope's URL"))),
        (status = 400, description = "A field is refused (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 409, description = "The id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Scopes, Access::Write).await?;
    let input = json_body(&headers, &body, "application/json")?;
    let row = scopes::create(state.store(), input, state.now()).await?;
    let view = ScopeView::of(&row);
    audit(
        &state,
        &caller,
        Resource::Scopes,
        "create",
        &row.scope_id,
        None,
        repr(&view),
    )
    .await;
    Ok(super::located(
        tagged(StatusCode::CREATED, &view.etag(), &view),
        "scopes",
        &row.scope_id,
    ))
}

/// Reads a scope.
#[utoipa::path(get, path = "/scopes/{id}", tag = "scopes",
    params(("id" = String, Path, description = "The scope")),
    security(("bearer" = ["tessera.admin.scopes.read"])),
    responses(
        (status = 200, description = "The scope", body = ScopeView, headers(("ETag" = String, description = "Entity tag"))),
        Denied,
        (status = 404, description = "No such scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Scopes, Access::Read).await?;
    let row = state
        .store()
        .find_scope(&id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no scope {id:?}")))?;
    let view = ScopeView::of(&row);
    Ok(tagged(StatusCode::OK, &view.etag(), &view))
}

/// Changes a scope's description, claims or default flag (absent fields keep their value; id
/// and type are fixed). Needs `If-Match`.
#[utoipa::path(put, path = "/scopes/{id}", tag = "scopes",
    params(("id" = String, Path, description = "The scope"),
        ("If-Match" = String, Header, description = "The entity tag of the representation this changes")),
    request_body(content = ScopeInput, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.scopes.write"])),
    responses(
        (status = 200, description = "Changed", body = ScopeView, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "A field is refused (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such scope", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The scope changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Scopes, Access::Write).await?;
    let if_match = required_if_match(&headers)?;
    let input = json_body(&headers, &body, "application/json")?;
    let before = scope_repr(&state, &id).await?;
    let row = scopes::update(state.store(), &id, input, state.now(), Some(if_match)).await?;
    let view = ScopeView::of(&row);
    audit(
        &state,
        &caller,
        Resource::Scopes,
        "replace",
        &id,
        before,
        repr(&view),
    )
    .await;
    Ok(tagged(StatusCode::OK, &view.etag(), &view))
}

/// Changes a scope with an RFC 6902 JSON Patch of its representation. Needs `If-Match`.
#[utoipa::path(patch, path = "/scopes/{id}", tag = "scopes",
    params(("id" = String, Path, description = "The scope"),
        ("If-Match" = String, Header, description = "The entity tag of the representation this patches")),
    request_body(content = Vec<PatchOperation>, content_type = "application/json-patch+json"),
    security(("bearer" = ["tessera.admin.scopes.write"])),
    responses(
        (status = 200, description = "Patched", body = ScopeView, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "The patch does not apply or a field is refused", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such scope", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The scope changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON Patch", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Scopes, Access::Write).await?;
    let if_match = required_if_match(&headers)?;
    let patch = json_body(&headers, &body, "application/json-patch+json")?;
    let before = scope_repr(&state, &id).await?;
    let row = scopes::patch(state.store(), &id, patch, state.now(), if_match).await?;
    let view = ScopeView::of(&row);
    audit(
        &state,
        &caller,
        Resource::Scopes,
        "patch",
        &id,
        before,
        repr(&view),
    )
    .await;
    Ok(tagged(StatusCode::OK, &view.etag(), &view))
}

/// Deletes a scope (not a standard OpenID Connect one). `If-Match` is optional.
#[utoipa::path(delete, path = "/scopes/{id}", tag = "scopes",
    params(("id" = String, Path, description = "The scope"),
        ("If-Match" = Option<String>, Header, description = "Delete only this representation")),
    security(("bearer" = ["tessera.admin.scopes.write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A standard scope cannot be deleted", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such scope", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The scope changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let caller = auth::require(&state, &headers, Resource::Scopes, Access::Write).await?;
    if let Some(if_match) = headers.get(header::IF_MATCH) {
        let if_match = if_match
            .to_str()
            .map_err(|_| Problem::bad_request("If-Match: not a list of entity tags"))?;
        let row = state
            .store()
            .find_scope(&id)
            .await?
            .ok_or_else(|| Problem::not_found(format!("no scope {id:?}")))?;
        if !crate::admin::if_match(if_match, &ScopeView::of(&row).etag()) {
            return Err(Problem::stale(
                "the scope changed since it was read; read it again",
            ));
        }
    }
    let before = scope_repr(&state, &id).await?;
    scopes::delete(state.store(), &id).await?;
    audit(
        &state,
        &caller,
        Resource::Scopes,
        "delete",
        &id,
        before,
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The scope's representation for the audit log, if it exists.
async fn scope_repr(state: &AppState, id: &str) -> Result<Option<serde_json::Value>, Problem> {
    Ok(state
        .store()
        .find_scope(id)
        .await?
        .and_then(|row| repr(&ScopeView::of(&row))))
}
