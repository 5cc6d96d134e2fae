//! `GET /jwks`: the public keys of active and retiring signing keys.

use crate::server::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Serves the pre-serialized JWKS of the current key set.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.keys().load().jwks.to_string();
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Short, so relying parties see a rotation soon; they re-fetch on an unknown kid anyway.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    resp
}
