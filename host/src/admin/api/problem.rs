//! Errors of the admin API as RFC 9457 problem details (`application/problem+json`). Internal
//! causes are logged here and never sent.

use crate::admin::clients::ClientError;
use crate::admin::scopes::ScopeError;
use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The refusals every admin API operation documents: no valid token (401) and a token without
/// the operation's scope (403).
#[derive(utoipa::IntoResponses)]
pub enum Denied {
    /// No valid token.
    #[response(
        status = 401,
        description = "No valid token",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    /// The token lacks the scope.
    #[response(
        status = 403,
        description = "The token lacks the scope",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
}

/// An RFC 9457 problem: `type` is `about:blank`, so `title` is the status's reason phrase and
/// `detail` says what was wrong with this request (naming the field, where there is one).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status code says what kind of problem this is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What was wrong with this request.
    pub detail: String,
    /// The `WWW-Authenticate` challenge of a 401 or 403 (RFC 6750 §3).
    #[serde(skip)]
    #[schema(ignore)]
    pub challenge: Option<String>,
}

impl Problem {
    /// A problem with `status` and `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            challenge: None,
        }
    }

    /// 400: the request is malformed or a value is refused.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 412: the `If-Match` tag is not the resource's current one.
    pub fn stale(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, detail)
    }

    /// 500, with the cause logged and not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "admin API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not do this now",
        )
    }

    /// Adds a `WWW-Authenticate` challenge.
    pub fn with_challenge(mut self, challenge: String) -> Self {
        self.challenge = Some(challenge);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let challenge = self.challenge.clone();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, c);
        }
        resp
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        Problem::internal(&e)
    }
}

impl From<ClientError> for Problem {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(_) => Problem::bad_request(e.to_string()),
            ClientError::Exists(_) => Problem::new(StatusCode::CONFLICT, e.to_string()),
            ClientError::NotFound(_) => Problem::not_found(e.to_string()),
            ClientError::Stale => Problem::stale(e.to_string()),
            ClientError::Store(e) => e.into(),
        }
    }
}

impl From<ScopeError> for Problem {
    fn from(e: ScopeError) -> Self {
        match e {
            ScopeError::Invalid(_) => Problem::bad_request(e.to_string()),
            ScopeError::Exists(_) => Problem::new(StatusCode::CONFLICT, e.to_string()),
            ScopeError::NotFound(_) => Problem::not_found(e.to_string()),
            ScopeError::Stale => Problem::stale(e.to_string()),
            ScopeError::Store(e) => e.into(),
        }
    }
}

impl From<crate::admin::config::ChangeError> for Problem {
    fn from(e: crate::admin::config::ChangeError) -> Self {
        use crate::admin::config::ChangeError;
        match e {
            ChangeError::Invalid(_) => Problem::bad_request(e.to_string()),
            ChangeError::Stale => Problem::stale(e.to_string()),
            ChangeError::Store(e) => e.into(),
        }
    }
}
