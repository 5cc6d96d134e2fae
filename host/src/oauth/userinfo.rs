//! The UserInfo endpoint (OpenID Connect Core §5.3, flag USERINFO): GET or POST with a bearer
//! access token (RFC 6750 §2.1 header, or §2.2 form body); the claims released by the token's
//! standard scopes and the `claims` request parameter. Bearer errors follow RFC 6750 §3.

use crate::config::FeatureFlag;
use crate::crypto::secrets::sha256_b64;
use crate::model::TokenKind;
use crate::oauth::OAuthError;
use crate::oauth::authorization_code::has_openid;
use crate::oauth::form::OAuthForm;
use crate::oauth::id_token::user_claims;
use crate::oauth::token::no_store;
use crate::server::AppState;
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// An RFC 6750 §3.1 error.
#[derive(Debug)]
pub enum BearerError {
    /// No token at all: a bare challenge.
    Missing,
    /// Malformed request (two ways of sending the token, ...).
    InvalidRequest(&'static str),
    /// Unknown, expired, revoked or unusable token.
    InvalidToken(&'static str),
    /// The token lacks the `openid` scope.
    InsufficientScope,
    /// Anything else (feature off, storage down).
    OAuth(OAuthError),
}

impl From<OAuthError> for BearerError {
    fn from(e: OAuthError) -> Self {
        BearerError::OAuth(e)
    }
}

impl From<crate::store::StoreError> for BearerError {
    fn from(e: crate::store::StoreError) -> Self {
        BearerError::OAuth(e.into())
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, challenge) = match self {
            BearerError::OAuth(e) => return e.into_response(),
            BearerError::Missing => (
                StatusCode::UNAUTHORIZED,
                "Bearer realm=\"tessera\"".to_string(),
            ),
            BearerError::InvalidRequest(d) => (
                StatusCode::BAD_REQUEST,
                format!(
                    "Bearer realm=\"tessera\", error=\"invalid_request\", error_description=\"{d}\""
                ),
            ),
            BearerError::InvalidToken(d) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{d}\""
                ),
            ),
            BearerError::InsufficientScope => (
                StatusCode::FORBIDDEN,
                "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"openid\""
                    .to_string(),
            ),
        };
        let mut resp = no_store(status);
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// `GET /userinfo` and `POST /userinfo`.
pub async fn userinfo(
    State(state): State<AppState>,
    req: Request,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::Userinfo)?;
    let token = bearer_token(&state, req).await?;
    let now = state.now();
    let record = state
        .store()
        .find_token(&sha256_b64(token.as_bytes()))
        .await?
        .filter(|t| t.kind == TokenKind::AccessToken && t.is_active(now))
        .ok_or(BearerError::InvalidToken("the access token is invalid"))?;
    if !has_openid(&record.scope) {
        return Err(BearerError::InsufficientScope);
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

/// The access token from the `Authorization: Bearer` header or a POSTed `access_token`; never
/// both (RFC 6750 §2).
async fn bearer_token(state: &AppState, req: Request) -> Result<String, BearerError> {
    let header_token = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?;
            let (scheme, token) = v.split_once(' ').ok_or(BearerError::InvalidRequest(
                "malformed Authorization header",
            ))?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(BearerError::Missing);
            }
            let token = token.trim();
            if token.is_empty() {
                return Err(BearerError::InvalidRequest("empty bearer token"));
            }
            Some(token.to_string())
        }
    };
    let is_form = req.method() == Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
    let body_token = if is_form {
        let form = OAuthForm::from_request(req, state)
            .await
            .map_err(|_| BearerError::InvalidRequest("malformed form body"))?;
        form.get("access_token").map(str::to_string)
    } else {
        None
    };
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest("the token was sent twice")),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::Missing),
    }
}
