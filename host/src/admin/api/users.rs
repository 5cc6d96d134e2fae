//! `/users`: the end-users and administrators (the `admin` role in `tessera_roles`), so that the
//! CLI's `user` commands work through the API too. A user's view is its attributes plus `sub`,
//! `username`, `active`, `tessera_roles` and `created_at`; the password is write-only (its hash
//! never leaves the database). Users are not deleted here: deactivate them (`active: false`).

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{PatchOperation, audit, json, json_body, query, repr, required_if_match, tagged};
use crate::admin::users::{self, UserError};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

impl From<UserError> for Problem {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid(_) => Problem::bad_request(e.to_string()),
            UserError::NotFound(_) => Problem::not_found(e.to_string()),
            UserError::Taken => Problem::new(StatusCode::CONFLICT, e.to_string()),
            UserError::Stale => Problem::stale(e.to_string()),
            UserError::Store(e) => e.into(),
        }
    }
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only users whose username contains this.
    pub pattern: Option<String>,
    /// Only users with this role (`admin`).
    pub role: Option<String>,
    /// Most items to return (1 to 500; default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<u32>,
}

/// Lists users, oldest first.
#[utoipa::path(get, path = "/users", tag = "users", params(UserFilter),
    security(("bearer" = ["tessera.admin.users.read"])),
    responses(
        (status = 200, description = "A page of users", body = Page<Object>),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        Denied,
    ))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Users, Access::Read).await?;
    let filter: UserFilter = query(&uri)?;
    let all: Vec<Value> = state
        .store()
        .list_users()
        .await?
        .iter()
        .filter(|u| {
            filter
                .pattern
                .as_deref()
                .is_none_or(|p| u.username.contains(p))
        })
        .filter(|u| filter.role.as_ref().is_none_or(|r| u.roles.contains(r)))
        .map(users::to_json)
        .collect();
    Ok(json(
        StatusCode::OK,
        &super::page(all, filter.limit, filter.offset)?,
    ))
}

/// Creates a user: `username`, `password` (8 to 1024 characters, stored as an argon2id hash),
/// optional `active`, `tessera_roles` and attributes (OpenID standard claims, type-checked, and
/// custom attributes).
#[utoipa::path(post, path = "/users", tag = "users",
    request_body(content = Object, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.users.write"])),
    responses(
        (status = 201, description = "Created", body = Object,
            headers(("ETag" = String, description = "Entity tag"), ("Location" = String, description = "The user's URL"))),
        (status = 400, description = "A field is refused (named in detail)", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Users, Access::Write).await?;
    let input = json_body(&headers, &body, "application/json")?;
    let user = users::create(state.store(), input, state.now()).await?;
    let view = users::to_json(&user);
    audit(
        &state,
        &caller,
        Resource::Users,
        "create",
        &user.username,
        None,
        repr(&view),
    )
    .await;
    Ok(super::located(
        tagged(StatusCode::CREATED, &users::etag(&user), &view),
        "users",
        &user.username,
    ))
}

/// Reads a user.
#[utoipa::path(get, path = "/users/{username}", tag = "users",
    params(("username" = String, Path, description = "The user's login name")),
    security(("bearer" = ["tessera.admin.users.read"])),
    responses(
        (status = 200, description = "The user", body = Object, headers(("ETag" = String, description = "Entity tag"))),
        Denied,
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn read(
    State(state): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Users, Access::Read).await?;
    let user = users::find(state.store(), &username).await?;
    Ok(tagged(
        StatusCode::OK,
        &users::etag(&user),
        &users::to_json(&user),
    ))
}

/// Changes a user with an RFC 6902 JSON Patch of its view: attributes, `active`,
/// `tessera_roles`, and `password` (add it to set a new one). `sub`, `username` and
/// `created_at` are fixed. Needs `If-Match`.
#[utoipa::path(patch, path = "/users/{username}", tag = "users",
    params(("username" = String, Path, description = "The user's login name"),
        ("If-Match" = String, Header, description = "The entity tag of the representation this patches")),
    request_body(content = Vec<PatchOperation>, content_type = "application/json-patch+json"),
    security(("bearer" = ["tessera.admin.users.write"])),
    responses(
        (status = 200, description = "Patched", body = Object, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "The patch does not apply or a field is refused", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a JSON Patch", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Users, Access::Write).await?;
    let if_match = required_if_match(&headers)?;
    let patch = json_body(&headers, &body, "application/json-patch+json")?;
    let before = users::find(state.store(), &username).await?;
    let user = users::patch(state.store(), &username, patch, if_match, state.now()).await?;
    let view = users::to_json(&user);
    audit(
        &state,
        &caller,
        Resource::Users,
        "patch",
        &username,
        repr(&users::to_json(&before)),
        repr(&view),
    )
    .await;
    Ok(tagged(StatusCode::OK, &users::etag(&user), &view))
}
