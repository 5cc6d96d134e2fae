//! The UserInfo endpoint (OpenID Connect Core §5.3, flag USERINFO): GET or POST with a bearer
//! access token (RFC 6750 §2.1 header, or §2.2 form body); the claims released by the token's
//! standard scopes and the `claims` request parameter. Bearer errors follow RFC 6750 §3.

use crate::config::FeatureFlag;
use crate::oauth::authorization_code::has_openid;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::id_token::user_claims;
use crate::oauth::token::no_store;
use crate::server::AppState;
use axum::Json;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::Value;

/// `GET /userinfo` and `POST /userinfo`.
pub async fn userinfo(
    State(state): State<AppState>,
    req: Request,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::Userinfo)?;
    let token = bearer::from_request(&state, req).await?;
    let record = bearer::active_access_token(&state, &token).await?;
    if !has_openid(&record.scope) {
        return Err(BearerError::InsufficientScope("openid"));
    }
    let (grant, _) = state
        .store()
        .find_grant(&record.grant_id)
        .await?
        .ok_or(BearerError::InvalidToken("the access token is invalid"))?;
    let user_id = grant.user_id.as_deref().ok_or(BearerError::InvalidToken(
        "the access token has no end-user",
    ))?;
    let user = state
        .store()
        .find_user(user_id)
        .await?
        .filter(|u| u.active)
        .ok_or(BearerError::InvalidToken("the access token is invalid"))?;
    let scopes = state.store().list_scopes().await?;
    let requested = grant
        .auth
        .as_ref()
        .and_then(|a| a.claims_request.as_ref())
        .and_then(|c| c.get("userinfo"));
    let mut claims = user_claims(&user, &scopes, &record.scope, requested);
    claims.insert(
        "sub".into(),
        Value::String(grant.subject.unwrap_or_default()),
    );
    Ok(no_store(Json(Value::Object(claims))))
}
