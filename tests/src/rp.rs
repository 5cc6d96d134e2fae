//! A relying party's logout side on loopback, for logout tests: records every front-channel
//! logout request (its query) and every back-channel logout token, answers `/cb` and `/bye`
//! (so a browser's navigations there complete), and serves what it saw at `GET /seen` (for the
//! Node tests). `/backchannel-fail` answers 500, for failed deliveries.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
struct Seen {
    frontchannel: Vec<HashMap<String, String>>,
    backchannel: Vec<String>,
}

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<Seen>>,
    changed: Arc<Notify>,
}

/// The running RP.
pub struct RecordingRp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shared: Shared,
}

impl RecordingRp {
    /// Starts one on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/frontchannel", get(frontchannel))
            .route("/backchannel", post(backchannel))
            .route(
                "/backchannel-fail",
                post(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .route("/cb", get(|| async { "signed in" }))
            .route("/bye", get(|| async { "signed out" }))
            .route("/seen", get(seen))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, shared }
    }

    /// An absolute URL on this RP.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The query parameters of each front-channel request so far.
    pub fn frontchannel(&self) -> Vec<HashMap<String, String>> {
        self.shared.seen.lock().unwrap().frontchannel.clone()
    }

    /// The logout tokens received so far.
    pub fn backchannel(&self) -> Vec<String> {
        self.shared.seen.lock().unwrap().backchannel.clone()
    }

    /// Waits (up to 10 s) until at least `n` logout tokens have arrived; returns them.
    pub async fn wait_backchannel(&self, n: usize) -> Vec<String> {
        let wait = async {
            loop {
                let notified = self.shared.changed.notified();
                let got = self.backchannel();
                if got.len() >= n {
                    return got;
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("{n} back-channel logout token(s) never arrived"))
    }
}

async fn frontchannel(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> &'static str {
    s.seen.lock().unwrap().frontchannel.push(q);
    s.changed.notify_waiters();
    "logged out"
}

async fn backchannel(State(s): State<Shared>, body: String) -> axum::http::StatusCode {
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    match token {
        Some(t) => {
            s.seen.lock().unwrap().backchannel.push(t);
            s.changed.notify_waiters();
            axum::http::StatusCode::OK
        }
        None => axum::http::StatusCode::BAD_REQUEST,
    }
}

async fn seen(State(s): State<Shared>) -> axum::Json<Value> {
    let seen = s.seen.lock().unwrap();
    axum::Json(json!({"frontchannel": seen.frontchannel, "backchannel": seen.backchannel}))
}

/// Verifies a logout token against the server's JWKS as an RP must (Back-Channel Logout §2.6):
/// signature, `iss`, `aud`, `typ` `logout+jwt`, the event, `sid`/`sub`, and no `nonce`.
/// Returns its claims.
pub async fn verify_logout_token(srv: &crate::TestServer, token: &str, client_id: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(srv.get_json("/jwks").await).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[client_id]);
    v.set_issuer(&[srv.base.as_str()]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims;
    assert!(
        claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object(),
        "{claims}"
    );
    assert!(claims.get("nonce").is_none());
    assert!(claims["jti"].is_string());
    assert!(claims["sid"].is_string() || claims["sub"].is_string());
    claims
}
