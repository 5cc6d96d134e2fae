//! Janssen's session endpoints, each behind its seed-000 flag:
//!
//! - `GET /session_status` (STATUS_SESSION): whether this browser has an active session, and
//!   its auth time;
//! - `GET /active_session` (ACTIVE_SESSION): the signed-in user's active sessions, for the
//!   browser's session or a bearer access token of the user carrying
//!   `logout.active_session_authorization_scope`;
//! - `POST /revoke_session` (REVOKE_SESSION): a confidential client allowed the
//!   `revoke_session` scope ends every session of a user named by `user_criterion_key` /
//!   `user_criterion_value` (front- and back-channel rules as for any logout).

use crate::config::FeatureFlag;
use crate::model::user::UserKey;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::client_auth;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::no_store;
use crate::oauth::{OAuthError, logout};
use crate::server::AppState;
use crate::session;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

/// The scope a client needs to revoke users' sessions (Janssen's).
pub const REVOKE_SESSION: &str = "revoke_session";

/// `GET /session_status`.
pub async fn session_status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    state.require(FeatureFlag::StatusSession)?;
    let body = match session::current(&state, &headers).await? {
        Some(s) => json!({
            "state": "authenticated",
            "sid": s.session_id,
            "auth_time": s.auth_time,
            "acr": s.acr,
            "expires_at": s.expires_at,
        }),
        None => json!({ "state": "unauthenticated" }),
    };
    Ok(no_store(axum::Json(body)))
}

/// `GET /active_session`.
pub async fn active_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::ActiveSession)?;
    let (user_id, current) = match bearer::from_header(&headers)? {
        Some(token) => {
            let record = bearer::active_access_token(&state, &token).await?;
            let scope = &state.settings().logout.active_session_authorization_scope;
            if !crate::model::scope::contains(&record.scope, scope) {
                return Err(BearerError::InsufficientScope(scope.clone().into()));
            }
            let user = match state.store().find_grant(&record.grant_id).await? {
                Some((grant, _)) => grant.user_id,
                None => None,
            };
            let Some(user) = user else {
                return Err(BearerError::InvalidToken(
                    "the access token was not issued for a user",
                ));
            };
            (user, None)
        }
        None => match session::current(&state, &headers).await? {
            Some(s) => (s.user_id, Some(s.session_id)),
            None => return Err(BearerError::Missing),
        },
    };
    let sessions = logout::sessions_json(&state, Some(&user_id), current.as_deref()).await?;
    Ok(no_store(axum::Json(json!({ "sessions": sessions }))))
}

/// `POST /revoke_session`.
pub async fn revoke_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    state.require(FeatureFlag::RevokeSession)?;
    let client =
        client_auth::authenticate(&state, &headers, &form, &state.urls().revoke_session).await?;
    if client.is_public() {
        return Err(OAuthError::invalid_client(
            "client authentication required",
            false,
        ));
    }
    if !client.allows_scope(REVOKE_SESSION) {
        return Err(OAuthError::UnauthorizedClient(
            "the client is not allowed the revoke_session scope".into(),
        ));
    }
    let key = UserKey::parse(form.require("user_criterion_key")?).ok_or_else(|| {
        OAuthError::invalid_request(
            "user_criterion_key must be uid, mail, inum, username, email or user_id",
        )
    })?;
    let value = form.require("user_criterion_value")?;
    if let Some(user) = state.store().find_user_by(key, value).await? {
        let ended = logout::end_user_sessions(&state, &user.user_id).await?;
        tracing::info!(client_id = %client.client_id, user_id = %user.user_id, ended, "sessions revoked");
    }
    Ok(no_store(StatusCode::OK))
}
