//! `GET /health` (flag HEALTH_CHECK): whether the database answers.

use crate::config::FeatureFlag;
use crate::oauth::OAuthError;
use crate::server::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// 200 when the database answers, 503 when it does not.
pub async fn health(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<Value>), OAuthError> {
    state.require(FeatureFlag::HealthCheck)?;
    let up = tokio::time::timeout(std::time::Duration::from_secs(2), state.store().ping())
        .await
        .unwrap_or(false);
    Ok(if up {
        (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "reachable"})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "unreachable"})),
        )
    })
}
