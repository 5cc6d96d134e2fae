//! Token revocation (RFC 7009, flag REVOKE_TOKEN), as seed 004 describes it: revoking any token
//! revokes its whole grant; `all` revokes every token of the client when the server allows it;
//! other clients' tokens only with `allow_revoke_for_other_clients` and the `revoke_any_token`
//! scope; the revoke-token plugins see the token and grant and may skip or deny.

use crate::config::FeatureFlag;
use crate::crypto::secrets::sha256_b64;
use crate::model::{Client, TokenKind};
use crate::oauth::OAuthError;
use crate::oauth::client_auth;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::no_store;
use crate::plugins::RevokeDecision;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// The scope that lets a client revoke other clients' tokens (seed 004).
pub const REVOKE_ANY_TOKEN: &str = "revoke_any_token";

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
    let hint = form.get("token_type_hint");
    if state.settings().revocation.allow_all_value && (token == "all" || hint == Some("all")) {
        // A public client is identified by its client_id alone, which anyone may know: it
        // revokes its tokens one by one, never all of every user at once.
        if client.is_public() {
            return Err(OAuthError::invalid_request(
                "revoking every token of a client requires client authentication",
            ));
        }
        return revoke_all(&state, &client, hint).await;
    }
    // The hint would only pick the first table to search; tokens of every kind are found by
    // the hash of their value in one lookup, so a wrong or unknown hint changes nothing (RFC
    // 7009 §2.1).
    let Some(record) = state
        .store()
        .find_token(&sha256_b64(token.as_bytes()))
        .await?
    else {
        return Ok(no_store(StatusCode::OK));
    };
    if record.client_id != client.client_id && !may_revoke_for_others(&state, &client) {
        return Err(OAuthError::invalid_request(
            "the token was not issued to this client",
        ));
    }
    let Some((grant, _)) = state.store().find_grant(&record.grant_id).await? else {
        return Ok(no_store(StatusCode::OK));
    };
    match state.hooks().revoke_token(&client, &record, &grant).await? {
        RevokeDecision::Allow => {}
        RevokeDecision::Skip => return Ok(no_store(StatusCode::OK)),
        RevokeDecision::Deny { error, description } => {
            return Err(OAuthError::Refused {
                code: error,
                description: description.unwrap_or_else(|| "revocation refused".into()),
            });
        }
    }
    if state
        .store()
        .revoke_grant(&record.grant_id, state.now())
        .await?
    {
        tracing::info!(client_id = %client.client_id, grant_id = %record.grant_id, "grant revoked");
        let details =
            serde_json::json!({"grant_id": record.grant_id, "token_client_id": record.client_id});
        crate::admin::audit::oauth_event(
            &state,
            "token_revoked",
            &client.client_id,
            grant.user_id.as_deref(),
            details,
        )
        .await;
    }
    Ok(no_store(StatusCode::OK))
}

/// `token=all` / `token_type_hint=all`: every token of the calling client, or only its access
/// or refresh tokens when the hint names that kind.
async fn revoke_all(
    state: &AppState,
    client: &Client,
    hint: Option<&str>,
) -> Result<Response, OAuthError> {
    let kind = hint.and_then(TokenKind::parse);
    let n = state
        .store()
        .revoke_client_tokens(&client.client_id, kind, state.now())
        .await?;
    tracing::info!(
        client_id = %client.client_id,
        kind = kind.map_or("all", TokenKind::as_str),
        revoked = n,
        "every token of the client revoked"
    );
    Ok(no_store(StatusCode::OK))
}

/// Seed 004: only with the server property on and the `revoke_any_token` scope.
fn may_revoke_for_others(state: &AppState, client: &Client) -> bool {
    state.settings().revocation.allow_revoke_for_other_clients
        && client.allows_scope(REVOKE_ANY_TOKEN)
}
