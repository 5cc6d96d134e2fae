//! Bearer access tokens presented to the server's own endpoints (RFC 6750): reading the token
//! from a request, checking it, and the §3 error responses.

use crate::crypto::secrets::sha256_b64;
use crate::model::{TokenKind, TokenRecord};
use crate::oauth::OAuthError;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::no_store;
use crate::server::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An RFC 6750 §3.1 error.
#[derive(Debug)]
pub enum BearerError {
    /// No token at all: a bare challenge.
    Missing,
    /// Malformed request (two ways of sending the token, ...).
    InvalidRequest(&'static str),
    /// Unknown, expired, revoked or unusable token.
    InvalidToken(&'static str),
    /// The token lacks this scope.
    InsufficientScope(std::borrow::Cow<'static, str>),
    /// Anything else (feature off, storage down, a failed client authentication).
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

impl From<crate::plugins::hooks::HookError> for BearerError {
    fn from(e: crate::plugins::hooks::HookError) -> Self {
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
            BearerError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                format!(
                    "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"{scope}\""
                ),
            ),
        };
        let mut resp = no_store(status);
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// The token of an `Authorization: Bearer` header; `None` when the header is absent or uses
/// another scheme (Basic client authentication, say).
pub fn from_header(headers: &HeaderMap) -> Result<Option<String>, BearerError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?;
    let (scheme, token) = v.split_once(' ').ok_or(BearerError::InvalidRequest(
        "malformed Authorization header",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(BearerError::InvalidRequest("empty bearer token"));
    }
    Ok(Some(token.to_string()))
}

/// The access token from the `Authorization: Bearer` header or a POSTed `access_token`; never
/// both (RFC 6750 §2).
pub async fn from_request(state: &AppState, req: Request) -> Result<String, BearerError> {
    let header_token = from_header(req.headers())?;
    // An Authorization header of another scheme: a bare challenge (RFC 6750 §3).
    if header_token.is_none() && req.headers().contains_key(header::AUTHORIZATION) {
        return Err(BearerError::Missing);
    }
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

/// The stored record of an active access token.
pub async fn active_access_token(
    state: &AppState,
    token: &str,
) -> Result<TokenRecord, BearerError> {
    let now = state.now();
    state
        .store()
        .find_token(&sha256_b64(token.as_bytes()))
        .await?
        .filter(|t| t.kind == TokenKind::AccessToken && t.is_active(now))
        .ok_or(BearerError::InvalidToken("the access token is invalid"))
}

/// The (usable) client an access token was issued to: the caller, when a bearer token
/// authenticates a request.
pub async fn client_of(
    state: &AppState,
    token: &TokenRecord,
) -> Result<crate::model::Client, BearerError> {
    state
        .store()
        .find_client(&token.client_id)
        .await?
        .filter(|c| c.is_usable(state.now()))
        .ok_or(BearerError::InvalidToken("the access token is invalid"))
}

/// The record and client of an active access token that carries `scope`: the caller of an
/// endpoint that needs that scope (`insufficient_scope` without it).
pub async fn scoped_caller(
    state: &AppState,
    token: &str,
    scope: &str,
) -> Result<(TokenRecord, crate::model::Client), BearerError> {
    let record = active_access_token(state, token).await?;
    if !crate::model::scope::contains(&record.scope, scope) {
        return Err(BearerError::InsufficientScope(scope.to_string().into()));
    }
    let client = client_of(state, &record).await?;
    Ok((record, client))
}
