//! The UserInfo endpoint (OpenID Connect Core §5.3, flag USERINFO): GET or POST with a bearer
//! access token (RFC 6750 §2.1 header, or §2.2 form body); the claims released by the token's
//! scopes (standard, custom and dynamic) and the `claims` request parameter. Bearer errors follow
//! RFC 6750 §3.

use crate::config::FeatureFlag;
use crate::oauth::authorization_code::has_openid;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::id_token::{ClaimTarget, Release, released_claims};
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
    let presented = bearer::from_request(&state, req).await?;
    let (record, grant) = bearer::active_presented(&state, &presented).await?;
    // Janssen openidScopeBackwardCompatibility: off, userinfo is for OpenID tokens only.
    if !has_openid(&record.scope) && !state.settings().scopes.openid_scope_backward_compatibility {
        return Err(BearerError::InsufficientScope("openid".into()));
    }
    let (Some(user_id), Some(sub)) = (grant.user_id.as_deref(), grant.subject.as_deref()) else {
        return Err(BearerError::InvalidToken(
            "the access token has no end-user",
        ));
    };
    let user = state
        .store()
        .find_user(user_id)
        .await?
        .filter(|u| u.active)
        .ok_or(BearerError::InvalidToken("the access token is invalid"))?;
    let client = bearer::client_of(&state, &record).await?;
    let mut claims = released_claims(
        &state,
        Release {
            client: &client,
            user: &user,
            sub,
            scope: &record.scope,
            auth: grant.auth.as_ref(),
            sid: grant.session_id.as_deref(),
            target: ClaimTarget::Userinfo,
        },
    )
    .await
    .map_err(BearerError::OAuth)?;
    claims.insert("sub".into(), Value::String(sub.to_string()));
    Ok(no_store(Json(Value::Object(claims))))
}
