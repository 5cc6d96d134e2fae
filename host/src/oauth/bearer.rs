//! Bearer access tokens presented to the server's own endpoints (RFC 6750): reading the token
//! from a request, checking it, and the §3 error responses.

use crate::crypto::secrets::sha256_b64;
use crate::model::{Grant, TokenKind, TokenRecord};
use crate::oauth::OAuthError;
use crate::oauth::dpop::{DpopError, Proof};
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
    /// A request with the DPoP scheme (RFC 9449 §7.1) failed: `error` is `invalid_token`,
    /// `invalid_dpop_proof` or `use_dpop_nonce` (with the nonce to use).
    Dpop {
        /// The error code of the DPoP challenge.
        error: &'static str,
        /// A nonce for the client's next proof.
        nonce: Option<String>,
    },
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
            BearerError::Dpop { error, nonce } => return dpop_challenge(error, nonce),
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

/// 401 with a DPoP challenge (RFC 9449 §7.1) naming the accepted algorithms, and a nonce when
/// the client needs one.
fn dpop_challenge(error: &'static str, nonce: Option<String>) -> Response {
    let mut resp = no_store(StatusCode::UNAUTHORIZED);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("DPoP error=\"{error}\"")) {
        h.insert(header::WWW_AUTHENTICATE, v);
    }
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        h.insert(crate::oauth::dpop::NONCE_HEADER, v);
    }
    resp
}

/// An access token as a request presented it: with the `Bearer` scheme (or in a form body), or
/// with the `DPoP` scheme and a proof that passed (RFC 9449 §7).
#[derive(Debug)]
pub struct Presented {
    /// The access token.
    pub token: String,
    /// The proof, for the DPoP scheme.
    pub proof: Option<Proof>,
}

/// The scheme and token of an `Authorization` header; `None` when the header is absent or uses
/// another scheme (Basic client authentication, say, or DPoP while DPoP is off).
fn authorization(
    state: Option<&AppState>,
    headers: &HeaderMap,
) -> Result<Option<(bool, String)>, BearerError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?;
    let (scheme, token) = v.split_once(' ').ok_or(BearerError::InvalidRequest(
        "malformed Authorization header",
    ))?;
    let dpop =
        scheme.eq_ignore_ascii_case("dpop") && state.is_some_and(crate::oauth::dpop::enabled);
    if !scheme.eq_ignore_ascii_case("bearer") && !dpop {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(BearerError::InvalidRequest("empty bearer token"));
    }
    Ok(Some((dpop, token.to_string())))
}

/// The token of an `Authorization: Bearer` header; `None` when the header is absent or uses
/// another scheme (Basic client authentication, say).
pub fn from_header(headers: &HeaderMap) -> Result<Option<String>, BearerError> {
    Ok(authorization(None, headers)?.map(|(_, token)| token))
}

/// The access token from the `Authorization` header (`Bearer`, or `DPoP` with its proof checked
/// against this request) or a POSTed `access_token`; never both (RFC 6750 §2).
pub async fn from_request(state: &AppState, req: Request) -> Result<Presented, BearerError> {
    let header_token = authorization(Some(state), req.headers())?;
    // An Authorization header of another scheme: a bare challenge (RFC 6750 §3).
    if header_token.is_none() && req.headers().contains_key(header::AUTHORIZATION) {
        return Err(BearerError::Missing);
    }
    if let Some((true, token)) = header_token {
        let htu = format!("{}{}", state.issuer(), req.uri().path());
        let proof =
            crate::oauth::dpop::verify(state, req.headers(), req.method(), &htu, Some(&token))
                .await
                .map_err(|e| match e {
                    DpopError::Invalid(why) => {
                        tracing::debug!(why, "DPoP proof refused");
                        BearerError::Dpop {
                            error: "invalid_dpop_proof",
                            nonce: None,
                        }
                    }
                    DpopError::UseNonce(n) => BearerError::Dpop {
                        error: "use_dpop_nonce",
                        nonce: Some(n),
                    },
                    DpopError::Store(e) => e.into(),
                })?
                .ok_or(BearerError::Dpop {
                    error: "invalid_dpop_proof",
                    nonce: None,
                })?;
        return Ok(Presented {
            token,
            proof: Some(proof),
        });
    }
    let header_token = header_token.map(|(_, t)| t);
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
        (Some(token), None) | (None, Some(token)) => Ok(Presented { token, proof: None }),
        (None, None) => Err(BearerError::Missing),
    }
}

/// The stored record of an active access token presented as a bearer token. A DPoP-bound token
/// is refused: without its proof it is as good as stolen (RFC 9449 §7.2).
pub async fn active_access_token(
    state: &AppState,
    token: &str,
) -> Result<TokenRecord, BearerError> {
    let now = state.now();
    state
        .store()
        .find_token(&sha256_b64(token.as_bytes()))
        .await?
        .filter(|t| usable_bearer(t, now))
        .ok_or(BearerError::InvalidToken("the access token is invalid"))
}

fn usable_bearer(t: &TokenRecord, now: crate::clock::UnixTime) -> bool {
    t.kind == TokenKind::AccessToken && t.is_active(now) && t.jkt.is_none()
}

/// The stored record of an active access token as `presented`, with its grant: a bound token
/// only with a proof by its key, a proof only with a token bound to that key.
pub async fn active_presented(
    state: &AppState,
    presented: &Presented,
) -> Result<(TokenRecord, Grant), BearerError> {
    let now = state.now();
    let found = state
        .store()
        .find_token_in_grant(&sha256_b64(presented.token.as_bytes()))
        .await?;
    let Some(proof) = &presented.proof else {
        return found
            .filter(|(t, _)| usable_bearer(t, now))
            .ok_or(BearerError::InvalidToken("the access token is invalid"));
    };
    found
        .filter(|(t, _)| {
            t.kind == TokenKind::AccessToken
                && t.is_active(now)
                && t.jkt.as_deref() == Some(proof.jkt.as_str())
        })
        .ok_or(BearerError::Dpop {
            error: "invalid_token",
            nonce: None,
        })
}

/// The (usable) client an access token was issued to: the caller, when a bearer token
/// authenticates a request.
pub async fn client_of(
    state: &AppState,
    token: &TokenRecord,
) -> Result<std::sync::Arc<crate::model::Client>, BearerError> {
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
) -> Result<(TokenRecord, std::sync::Arc<crate::model::Client>), BearerError> {
    let record = active_access_token(state, token).await?;
    if !crate::model::scope::contains(&record.scope, scope) {
        return Err(BearerError::InsufficientScope(scope.to_string().into()));
    }
    let client = client_of(state, &record).await?;
    Ok((record, client))
}
