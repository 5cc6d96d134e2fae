//! Token revocation (RFC 7009, flag REVOKE_TOKEN): revoking any token revokes its whole grant
//! (seed 004); unknown tokens get 200 (RFC 7009 §2.2).

use crate::config::FeatureFlag;
use crate::crypto::secrets::sha256_b64;
use crate::oauth::OAuthError;
use crate::oauth::client_auth;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::no_store;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// `POST /revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    state.require(FeatureFlag::RevokeToken)?;
    let client =
        client_auth::authenticate(&state, &headers, &form, &state.urls().revocation).await?;
    let token = form.require("token")?;
    // An unknown token_type_hint is ignored: the search covers every token type (RFC 7009 §2.1).
    let Some(record) = state
        .store()
        .find_token(&sha256_b64(token.as_bytes()))
        .await?
    else {
        return Ok(no_store(StatusCode::OK));
    };
    if record.client_id != client.client_id {
        // RFC 7009 §2.1: the token must have been issued to the client making the request.
        return Err(OAuthError::UnauthorizedClient(
            "the token was not issued to this client".into(),
        ));
    }
    if state
        .store()
        .revoke_grant(&record.grant_id, state.now())
        .await?
    {
        tracing::info!(client_id = %client.client_id, grant_id = %record.grant_id, "grant revoked");
    }
    Ok(no_store(StatusCode::OK))
}
