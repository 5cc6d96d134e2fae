//! `/clients`: seed 001's Clients screen as a resource.

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{Page, PatchOperation, audit, json, json_body, query, repr, required_if_match, tagged};
use crate::admin::clients::{self, ClientView};
use crate::oauth::registration::Registered;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A client with its secret: the answer to a call that made one (creation, a change of auth
/// method that needs one, regeneration). The only time the secret is ever shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecret {
    /// The client.
    #[serde(flatten)]
    pub client: ClientView,
    /// The new secret, when this call made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// A new client: every field of the client form, plus an optional `client_id` and
/// `client_secret` chosen by the administrator (generated otherwise).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NewClient {
    /// The identifier to give the client (1 to 200 of `A-Z a-z 0-9 . _ ~ - :`); a UUID when
    /// absent.
    client_id: Option<String>,
    /// The secret to give the client (16 to 512 printable ASCII characters); generated when
    /// absent and the auth method needs one.
    client_secret: Option<String>,
    /// The client's metadata.
    #[serde(flatten)]
    metadata: crate::model::ClientMetadata,
}

/// Filters of the client list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientFilter {
    /// Only clients whose `client_name` or `client_id` contains this (case-insensitive).
    pub pattern: Option<String>,
    /// Only clients that declare this grant type.
    pub grant_type: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) clients.
    pub active: Option<bool>,
    /// Most items to return (1 to 500; default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<u32>,
}

fn respond(status: StatusCode, reg: Registered) -> Response {
    let view = ClientView::of(&reg.client);
    let etag = view.etag();
    let resp = tagged(
        status,
        &etag,
        &ClientWithSecret {
            client: view,
            client_secret: reg.secret,
        },
    );
    if status == StatusCode::CREATED {
        super::located(resp, "clients", &reg.client.client_id)
    } else {
        resp
    }
}

/// Lists clients, oldest first.
#[utoipa::path(get, path = "/clients", tag = "clients", params(ClientFilter),
    security(("bearer" = ["tessera.admin.clients.read"])),
    responses(
        (status = 200, description = "A page of clients", body = Page<ClientView>),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        Denied,
    ))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Clients, Access::Read).await?;
    let filter: ClientFilter = query(&uri)?;
    let pattern = filter.pattern.as_deref().map(str::to_lowercase);
    let all: Vec<ClientView> = state
        .store()
        .list_clients()
        .await?
        .iter()
        .filter(|c| {
            pattern.as_deref().is_none_or(|p| {
                c.client_id.to_lowercase().contains(p)
                    || c.metadata
                        .client_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(p))
            })
        })
        .filter(|c| {
            filter
                .grant_type
                .as_deref()
                .is_none_or(|g| c.allows_grant(g))
        })
        .filter(|c| filter.active.is_none_or(|a| c.metadata.active == a))
        .map(ClientView::of)
        .collect();
    Ok(json(
        StatusCode::OK,
        &super::page(all, filter.limit, filter.offset)?,
    ))
}

/// Creates a client. Its secret, chosen or generated, is in this answer only.
#[utoipa::path(post, path = "/clients", tag = "clients",
    request_body(content = NewClient, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.clients.write"])),
    responses(
        (status = 201, description = "Created", body = ClientWithSecret,
            headers(("ETag" = String, description = "Entity tag"), ("Location" = String, description = "The client's URL"))),
        (status = 400, description = "A field is refused (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 409, description = "The client_id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Clients, Access::Write).await?;
    let input = json_body(&headers, &body, "application/json")?;
    let reg = clients::create(state.store(), state.master_key(), input, state.now()).await?;
    let after = repr(&ClientView::of(&reg.client));
    audit(
        &state,
        &caller,
        Resource::Clients,
        "create",
        &reg.client.client_id,
        None,
        after,
    )
    .await;
    Ok(respond(StatusCode::CREATED, reg))
}

/// Reads a client (never its secret).
#[utoipa::path(get, path = "/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client")),
    security(("bearer" = ["tessera.admin.clients.read"])),
    responses(
        (status = 200, description = "The client", body = ClientView, headers(("ETag" = String, description = "Entity tag"))),
        Denied,
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Clients, Access::Read).await?;
    let current = clients::current(state.store(), &client_id).await?;
    Ok(tagged(
        StatusCode::OK,
        &current.etag,
        &ClientView::of(&current.client),
    ))
}

/// Replaces a client's metadata (absent fields take their defaults). Needs `If-Match`.
#[utoipa::path(put, path = "/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client"),
        ("If-Match" = String, Header, description = "The entity tag of the representation this replaces")),
    request_body(content = ClientView, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.clients.write"])),
    responses(
        (status = 200, description = "Replaced", body = ClientWithSecret, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "A field is refused (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The client changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Clients, Access::Write).await?;
    let current = checked_current(&state, &client_id, &headers).await?;
    let before = repr(&ClientView::of(&current.client));
    let input = json_body(&headers, &body, "application/json")?;
    let reg = clients::replace(
        state.store(),
        state.master_key(),
        current,
        input,
        state.now(),
    )
    .await?;
    let after = repr(&ClientView::of(&reg.client));
    audit(
        &state,
        &caller,
        Resource::Clients,
        "replace",
        &client_id,
        before,
        after,
    )
    .await;
    Ok(respond(StatusCode::OK, reg))
}

/// Changes a client with an RFC 6902 JSON Patch of its representation. Needs `If-Match`.
#[utoipa::path(patch, path = "/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client"),
        ("If-Match" = String, Header, description = "The entity tag of the representation this patches")),
    request_body(content = Vec<PatchOperation>, content_type = "application/json-patch+json"),
    security(("bearer" = ["tessera.admin.clients.write"])),
    responses(
        (status = 200, description = "Patched", body = ClientWithSecret, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "The patch does not apply or a field is refused", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The client changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON Patch", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Clients, Access::Write).await?;
    let current = checked_current(&state, &client_id, &headers).await?;
    let before = repr(&ClientView::of(&current.client));
    let patch = json_body(&headers, &body, "application/json-patch+json")?;
    let reg = clients::patch(
        state.store(),
        state.master_key(),
        current,
        patch,
        state.now(),
    )
    .await?;
    let after = repr(&ClientView::of(&reg.client));
    audit(
        &state,
        &caller,
        Resource::Clients,
        "patch",
        &client_id,
        before,
        after,
    )
    .await;
    Ok(respond(StatusCode::OK, reg))
}

/// Deletes a client; every token it holds stops being active at once. `If-Match` is
/// optional.
#[utoipa::path(delete, path = "/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client"),
        ("If-Match" = Option<String>, Header, description = "Delete only this representation")),
    security(("bearer" = ["tessera.admin.clients.write"])),
    responses(
        (status = 204, description = "Deleted"),
        Denied,
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The client changed since it was read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let caller = auth::require(&state, &headers, Resource::Clients, Access::Write).await?;
    let current = if headers.contains_key(header::IF_MATCH) {
        checked_current(&state, &client_id, &headers).await?
    } else {
        clients::current(state.store(), &client_id).await?
    };
    clients::delete(state.store(), &client_id, state.now()).await?;
    let before = repr(&ClientView::of(&current.client));
    audit(
        &state,
        &caller,
        Resource::Clients,
        "delete",
        &client_id,
        before,
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives a client a new generated secret, shown in this answer only; the old one stops working
/// at once.
#[utoipa::path(post, path = "/clients/{client_id}/secret", tag = "clients",
    params(("client_id" = String, Path, description = "The client")),
    security(("bearer" = ["tessera.admin.clients.write"])),
    responses(
        (status = 200, description = "The client with its new secret", body = ClientWithSecret, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "The client's auth method uses no secret", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The client changed meanwhile", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn regenerate_secret(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Clients, Access::Write).await?;
    let current = clients::current(state.store(), &client_id).await?;
    let reg =
        clients::regenerate_secret(state.store(), state.master_key(), current, state.now()).await?;
    audit(
        &state,
        &caller,
        Resource::Clients,
        "regenerate_secret",
        &client_id,
        None,
        None,
    )
    .await;
    Ok(respond(StatusCode::OK, reg))
}

/// The client for an update, if the request's `If-Match` still matches it.
async fn checked_current(
    state: &AppState,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<clients::Current, Problem> {
    let if_match = required_if_match(headers)?;
    let current = clients::current(state.store(), client_id).await?;
    if !crate::admin::if_match(if_match, &current.etag) {
        return Err(Problem::stale(
            "the client changed since it was read; read it again and reapply the change",
        ));
    }
    Ok(current)
}
