//! `GET /metrics` (flag METRIC): the OpenMetrics exposition of [`crate::metrics`]. On the API
//! listener it needs a bearer access token carrying `[metrics] scope`; with `[metrics] listen`
//! it is served on that listener only, without a token.

use crate::config::FeatureFlag;
use crate::oauth::bearer::{self, BearerError};
use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// `GET /metrics` on the API listener.
pub async fn scraped(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = state.require(FeatureFlag::Metric) {
        return e.into_response();
    }
    let token = match bearer::from_header(&headers) {
        Ok(Some(t)) => t,
        Ok(None) => return BearerError::Missing.into_response(),
        Err(e) => return e.into_response(),
    };
    if let Err(e) = bearer::scoped_caller(&state, &token, &state.settings().metrics.scope).await {
        return e.into_response();
    }
    exposition(&state).await
}

/// `GET /metrics` on the separate metrics listener.
pub async fn open(State(state): State<AppState>) -> Response {
    if let Err(e) = state.require(FeatureFlag::Metric) {
        return e.into_response();
    }
    exposition(&state).await
}

async fn exposition(state: &AppState) -> Response {
    let sessions = match state.store().count_active_sessions(state.now()).await {
        Ok(n) => n,
        Err(e) => return crate::oauth::OAuthError::from(e).into_response(),
    };
    let (size, idle) = state.store().pool_stats();
    let body = state.metrics().encode(sessions, size, idle);
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Counts every routed request by its route pattern, method and status, with its latency.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let endpoint = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let resp = next.run(req).await;
    state.metrics().http_request(
        &endpoint,
        method.as_str(),
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}
