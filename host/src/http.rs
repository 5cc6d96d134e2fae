//! HTTP: the router (`app(state)`), cross-cutting layers, and the small endpoints that are not
//! OAuth protocol steps (JWKS, health).

pub mod health;
pub mod jwks;
pub mod metrics;
pub mod pages;

use crate::oauth::logout::{end_session, sessions};
use crate::oauth::{
    authorize, clientinfo, device, discovery, global_revocation, id_generation, interaction,
    introspect, par, registration, revoke, ssa, stat, token, userinfo,
};
use crate::server::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let limit = state.settings().http.max_body_bytes;
    let router = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route("/jwks", get(jwks::jwks))
        .route(
            "/authorize",
            get(authorize::authorize).post(authorize::authorize),
        )
        .route(
            "/login",
            get(interaction::login_form).post(interaction::login_submit),
        )
        .route(
            "/consent",
            get(interaction::consent_form).post(interaction::consent_submit),
        )
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            "/clientinfo",
            get(clientinfo::clientinfo).post(clientinfo::clientinfo),
        )
        .route("/token", post(token::token))
        .route("/par", post(par::par))
        .route("/device_authorization", post(device::authorization))
        .route(
            "/device",
            get(device::verification_page).post(device::verification_submit),
        )
        .route("/register", post(registration::endpoint::register))
        .route(
            "/register/{client_id}",
            get(registration::endpoint::read)
                .put(registration::endpoint::replace)
                .delete(registration::endpoint::delete),
        )
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(revoke::revoke))
        .route(
            "/global-token-revocation",
            post(global_revocation::global_token_revocation),
        )
        .route(
            "/end_session",
            get(end_session::end_session).post(end_session::end_session),
        )
        .route("/session_status", get(sessions::session_status))
        .route("/active_session", get(sessions::active_session))
        .route("/revoke_session", post(sessions::revoke_session))
        .route("/id/{prefix}/{id_type}", get(id_generation::generate))
        .route("/id/{prefix}/{id_type}/", get(id_generation::generate))
        .route("/health", get(health::health))
        .route("/stat", get(stat::stat).post(stat::stat))
        .route("/ssa", get(ssa::list).post(ssa::create).delete(ssa::revoke))
        .route("/ssa/jwks", get(ssa::jwks))
        .merge(crate::admin::api::router())
        .merge(crate::admin::ui::router());
    // With a metrics listener of its own, /metrics is served there only.
    let router = if state.settings().metrics.listen.is_empty() {
        router.route("/metrics", get(metrics::scraped))
    } else {
        router
    };
    router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_log,
        ))
        .with_state(state)
}

/// The separate metrics listener's application (`[metrics] listen`).
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::open))
        .fallback(not_found)
        .with_state(state)
}

/// The peer address of the connection a request came on (set by the server's connect-info
/// layer; `None` when the router is driven without a socket). Never fails.
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

async fn not_found() -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"error": "not_found"})),
    )
}

/// One line per request (method, path, status, latency; never bodies or headers) while
/// `log.http` is on; the setting is read per request so that it can change at run time.
async fn request_log(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    if !state.settings().log.http {
        return next.run(req).await;
    }
    let span = tracing::info_span!("http", method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = resp.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        )
    });
    resp
}
