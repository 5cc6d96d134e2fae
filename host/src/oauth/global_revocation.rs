//! Global token revocation (Janssen's `/global-token-revocation`, after
//! draft-parecki-oauth-global-token-revocation): a client holding the `global_token_revocation`
//! scope names a user, and every grant of that user is revoked and every browser session of
//! theirs ended. Gated by the REVOKE_TOKEN flag (seed 000 has no flag of its own for it).
//!
//! The body is JSON, `{"sub_id": {...}}`, with an RFC 9493 subject identifier (`email`,
//! `opaque` = the user id, `iss_sub` with this server's issuer and a public `sub`) or Janssen's
//! `{"format": "<attribute>", "id": "<value>"}` for the attributes `uid` (username), `mail` and
//! `inum` (user id). An unknown user is answered like a known one (204), as Janssen does, so the
//! endpoint does not tell which users exist.

use crate::config::FeatureFlag;
use crate::model::{Client, User};
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::client_auth;
use crate::oauth::form::OAuthForm;
use crate::oauth::{OAuthError, token::no_store};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

/// The scope a client needs (Janssen's name).
pub const GLOBAL_TOKEN_REVOCATION: &str = "global_token_revocation";

#[derive(Deserialize)]
struct RevocationRequest {
    sub_id: SubjectId,
}

#[derive(Deserialize)]
struct SubjectId {
    format: String,
    id: Option<String>,
    email: Option<String>,
    iss: Option<String>,
    sub: Option<String>,
}

/// `POST /global-token-revocation`.
pub async fn global_token_revocation(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::RevokeToken)?;
    let client = caller(&state, &headers).await?;
    if !crate::oauth::form::is_json(&headers) {
        return Err(OAuthError::invalid_request("the body must be application/json").into());
    }
    let request: RevocationRequest = serde_json::from_slice(&body).map_err(|_| {
        OAuthError::invalid_request("the body must be {\"sub_id\": {\"format\": ...}}")
    })?;
    if let Some(user) = find_user(&state, &request.sub_id).await? {
        // Sessions end as in a logout (their RPs are told through the back channel); then every
        // remaining grant of the user, and any session started meanwhile, goes too.
        let ended = crate::oauth::logout::end_user_sessions(&state, &user.user_id).await?;
        let (grants, sessions) = state
            .store()
            .revoke_user(&user.user_id, state.now())
            .await?;
        tracing::info!(
            client_id = %client.client_id,
            user_id = %user.user_id,
            grants,
            sessions = ended + sessions as usize,
            "global token revocation"
        );
    }
    Ok(no_store(StatusCode::NO_CONTENT))
}

/// The calling client: from a bearer access token carrying the scope, or from client
/// authentication (HTTP Basic; the body is JSON, so no form credentials) by a confidential
/// client allowed the scope.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<std::sync::Arc<Client>, BearerError> {
    if let Some(token) = bearer::from_header(headers)? {
        let (_, client) = bearer::scoped_caller(state, &token, GLOBAL_TOKEN_REVOCATION).await?;
        return Ok(client);
    }
    let client = client_auth::authenticate(
        state,
        headers,
        &OAuthForm::default(),
        &state.urls().global_token_revocation,
    )
    .await?;
    if client.is_public() {
        return Err(OAuthError::invalid_client("client authentication required", false).into());
    }
    if !client.allows_scope(GLOBAL_TOKEN_REVOCATION) {
        return Err(BearerError::InsufficientScope(
            GLOBAL_TOKEN_REVOCATION.into(),
        ));
    }
    Ok(client)
}

/// A member the subject identifier's format requires.
fn value(v: &Option<String>) -> Result<&str, BearerError> {
    v.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
        OAuthError::invalid_request("the subject identifier lacks a member its format requires")
            .into()
    })
}

/// The user a subject identifier names, if any.
async fn find_user(state: &AppState, id: &SubjectId) -> Result<Option<User>, BearerError> {
    let store = state.store();
    let user = match id.format.as_str() {
        "email" => store.find_user_by_email(value(&id.email)?).await?,
        "mail" => store.find_user_by_email(value(&id.id)?).await?,
        "opaque" | "inum" => store.find_user(value(&id.id)?).await?,
        "uid" => store.find_user_by_username(value(&id.id)?).await?,
        "iss_sub" => {
            if value(&id.iss)? != state.issuer() {
                return Ok(None);
            }
            store.find_user(value(&id.sub)?).await?
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "unsupported subject identifier format (email, opaque, iss_sub, uid, mail, inum)",
            )
            .into());
        }
    };
    Ok(user)
}
