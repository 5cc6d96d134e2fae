//! `/sessions`: seed 001's Sessions screen: the active browser sessions, and ending one or all
//! of a user's (their tokens are revoked and back-channel RPs told, as for the user's own
//! logout).

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{Page, audit, json, query};
use crate::clock::UnixTime;
use crate::server::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// An active browser session.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// Session id (the `sid` claim).
    pub sid: String,
    /// The signed-in user's id.
    pub user_id: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// Authentication context class.
    pub acr: String,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// When the session began.
    pub created_at: UnixTime,
    /// When it was last used.
    pub last_used_at: UnixTime,
    /// When it ends unless used.
    pub expires_at: UnixTime,
    /// Clients the user signed in to through it.
    pub clients: Vec<String>,
}

/// Filters of the session list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionFilter {
    /// Only this user's sessions (login name).
    pub user: Option<String>,
    /// Most items to return (1 to 500; default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<u32>,
}

/// Whose sessions to end.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserParam {
    /// The user (login name).
    pub user: String,
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ended {
    /// The count.
    pub ended: usize,
}

/// Lists active sessions.
#[utoipa::path(get, path = "/sessions", tag = "sessions", params(SessionFilter),
    security(("bearer" = ["tessera.admin.sessions.read"])),
    responses(
        (status = 200, description = "A page of sessions", body = Page<SessionView>),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Sessions, Access::Read).await?;
    let filter: SessionFilter = query(&uri)?;
    let user_id = match &filter.user {
        Some(name) => Some(user_id(&state, name).await?),
        None => None,
    };
    let all = crate::oauth::logout::sessions_json(&state, user_id.as_deref(), None)
        .await
        .map_err(|e| Problem::internal(&e))?
        .into_iter()
        .map(serde_json::from_value::<SessionView>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::internal(&e))?;
    Ok(json(
        StatusCode::OK,
        &super::page(all, filter.limit, filter.offset)?,
    ))
}

/// Ends every session of a user.
#[utoipa::path(delete, path = "/sessions", tag = "sessions", params(UserParam),
    security(("bearer" = ["tessera.admin.sessions.write"])),
    responses(
        (status = 200, description = "How many ended", body = Ended),
        (status = 400, description = "No user named", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Sessions, Access::Write).await?;
    let UserParam { user } = query(&uri)?;
    let id = user_id(&state, &user).await?;
    let ended = crate::oauth::logout::end_user_sessions(&state, &id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let after = Some(serde_json::json!({"user": user, "ended": ended}));
    audit(
        &state,
        &caller,
        Resource::Sessions,
        "end_all",
        &id,
        None,
        after,
    )
    .await;
    Ok(json(StatusCode::OK, &Ended { ended }))
}

/// Ends one session.
#[utoipa::path(delete, path = "/sessions/{sid}", tag = "sessions",
    params(("sid" = String, Path, description = "The session")),
    security(("bearer" = ["tessera.admin.sessions.write"])),
    responses(
        (status = 204, description = "Ended"),
        Denied,
        (status = 404, description = "No such active session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let caller = auth::require(&state, &headers, Resource::Sessions, Access::Write).await?;
    let session = state
        .store()
        .find_session(&sid)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no active session {sid:?}")))?;
    let ended = crate::oauth::logout::end(&state, &session, None)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if ended.is_none() {
        return Err(Problem::not_found(format!("no active session {sid:?}")));
    }
    let before = Some(serde_json::json!({"sid": sid, "user_id": session.user_id}));
    audit(
        &state,
        &caller,
        Resource::Sessions,
        "end",
        &sid,
        before,
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_id(state: &AppState, username: &str) -> Result<String, Problem> {
    Ok(state
        .store()
        .find_user_by_username(username)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no user {username:?}")))?
        .user_id)
}
