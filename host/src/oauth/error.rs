//! The OAuth error type: RFC 6749 §5.2 codes (plus RFC 7009 / RFC 8707 ones) with their HTTP
//! status. Internal causes are logged here and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

/// An error answered to an OAuth client.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Malformed request.
    #[error("invalid_request: {0}")]
    InvalidRequest(Cow<'static, str>),
    /// Client authentication failed. `basic` = the client tried HTTP Basic, which RFC 6749
    /// §5.2 answers with a `WWW-Authenticate` challenge.
    #[error("invalid_client: {description}")]
    InvalidClient {
        /// What failed (kept vague on purpose: never says which of id or secret was wrong).
        description: Cow<'static, str>,
        /// Whether to add a Basic challenge.
        basic: bool,
    },
    /// The grant (code, refresh token, ...) is invalid.
    #[error("invalid_grant: {0}")]
    InvalidGrant(Cow<'static, str>),
    /// The client may not use this grant type.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(Cow<'static, str>),
    /// Unknown grant type.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(Cow<'static, str>),
    /// Scope not allowed or malformed.
    #[error("invalid_scope: {0}")]
    InvalidScope(Cow<'static, str>),
    /// RFC 8707: a bad `resource`.
    #[error("invalid_target: {0}")]
    InvalidTarget(Cow<'static, str>),
    /// RFC 9449: the DPoP proof is invalid (the reason is logged, not sent).
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(&'static str),
    /// RFC 9449 §8: the proof must carry this server-issued nonce (sent in `DPoP-Nonce`).
    #[error("use_dpop_nonce")]
    UseDpopNonce(String),
    /// An error a plugin answered with (its code is checked to be a valid RFC 6749 error code).
    #[error("{code}: {description}")]
    Refused {
        /// The `error` code.
        code: String,
        /// The `error_description`.
        description: String,
    },
    /// The request body is larger than allowed.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Too many requests from one client address (RFC 9126 §2.3: 429).
    #[error("too many requests: {0}")]
    TooManyRequests(Cow<'static, str>),
    /// The feature behind this endpoint is switched off.
    #[error("feature {0} is disabled")]
    FeatureDisabled(&'static str),
    /// Something failed inside the server; the cause is logged, not sent.
    #[error("server_error")]
    Server(#[source] anyhow::Error),
    /// A dependency (the database) is unavailable.
    #[error("temporarily_unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl OAuthError {
    /// Shorthand for [`OAuthError::InvalidRequest`].
    pub fn invalid_request(msg: impl Into<Cow<'static, str>>) -> Self {
        OAuthError::InvalidRequest(msg.into())
    }

    /// Shorthand for [`OAuthError::InvalidClient`].
    pub fn invalid_client(msg: impl Into<Cow<'static, str>>, basic: bool) -> Self {
        OAuthError::InvalidClient {
            description: msg.into(),
            basic,
        }
    }

    /// The RFC error code.
    pub fn code(&self) -> &str {
        match self {
            OAuthError::Refused { code, .. } => code,
            OAuthError::InvalidRequest(_)
            | OAuthError::PayloadTooLarge
            | OAuthError::TooManyRequests(_) => "invalid_request",
            OAuthError::InvalidClient { .. } => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::InvalidDpopProof(_) => "invalid_dpop_proof",
            OAuthError::UseDpopNonce(_) => "use_dpop_nonce",
            OAuthError::FeatureDisabled(_) => "feature_disabled",
            OAuthError::Server(_) => "server_error",
            OAuthError::Unavailable(_) => "temporarily_unavailable",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            OAuthError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            OAuthError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::FeatureDisabled(_) => StatusCode::FORBIDDEN,
            OAuthError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn description(&self) -> Cow<'static, str> {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d)
            | OAuthError::UnsupportedGrantType(d)
            | OAuthError::InvalidScope(d)
            | OAuthError::InvalidTarget(d)
            | OAuthError::TooManyRequests(d)
            | OAuthError::InvalidClient { description: d, .. } => d.clone(),
            OAuthError::Refused { description, .. } => description.clone().into(),
            OAuthError::PayloadTooLarge => "request body too large".into(),
            OAuthError::InvalidDpopProof(_) => "the DPoP proof is invalid".into(),
            OAuthError::UseDpopNonce(_) => {
                "the DPoP proof must carry the nonce in DPoP-Nonce".into()
            }
            OAuthError::FeatureDisabled(f) => {
                format!("the {f} feature is disabled on this server").into()
            }
            OAuthError::Server(_) => "internal server error".into(),
            OAuthError::Unavailable(_) => "the service is temporarily unavailable".into(),
        }
    }
}

impl From<crate::oauth::dpop::DpopError> for OAuthError {
    fn from(e: crate::oauth::dpop::DpopError) -> Self {
        match e {
            crate::oauth::dpop::DpopError::Invalid(why) => OAuthError::InvalidDpopProof(why),
            crate::oauth::dpop::DpopError::UseNonce(n) => OAuthError::UseDpopNonce(n),
            crate::oauth::dpop::DpopError::Store(e) => e.into(),
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Database(_) | crate::store::StoreError::Sqlite(_) => {
                OAuthError::Unavailable(e.into())
            }
            _ => OAuthError::Server(e.into()),
        }
    }
}

/// A fail-closed plugin failure is the server's failure: `server_error`, cause logged only.
impl From<crate::plugins::hooks::HookError> for OAuthError {
    fn from(e: crate::plugins::hooks::HookError) -> Self {
        OAuthError::Server(anyhow::Error::new(e))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match &self {
            OAuthError::Server(cause) | OAuthError::Unavailable(cause) => {
                tracing::error!(error = %cause, code = self.code(), "request failed inside the server");
            }
            OAuthError::InvalidDpopProof(why) => {
                tracing::debug!(why, "DPoP proof refused")
            }
            _ => {
                tracing::debug!(code = self.code(), description = %self.description(), "oauth error")
            }
        }
        let body =
            serde_json::json!({ "error": self.code(), "error_description": self.description() });
        let mut resp = (self.status(), axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let OAuthError::UseDpopNonce(nonce) = &self
            && let Ok(v) = HeaderValue::from_str(nonce)
        {
            h.insert(crate::oauth::dpop::NONCE_HEADER, v);
        }
        if matches!(self, OAuthError::InvalidClient { basic: true, .. }) {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}
