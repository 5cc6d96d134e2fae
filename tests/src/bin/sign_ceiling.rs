//! The benchmark's ceiling (`bench/run.sh`): a bare axum server whose `POST /token` only signs an
//! ES256 JWT access token with Tessera's own signer and answers it as JSON. No client
//! authentication, no database, no plugins. One tokio worker thread, like the measured server.
//! It prints `listening ADDR` once bound (on `127.0.0.1:0`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tessera::crypto::keys::{SigningKey, generate};
use tessera::crypto::{SigningAlg, jwt, secrets};

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let k = generate(SigningAlg::Es256)?;
    let key = Arc::new(SigningKey::from_pkcs8(k.kid, k.alg, &k.pkcs8)?);
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move || {
            let key = key.clone();
            async move { token(&key) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

fn token(key: &SigningKey) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1",
        "sub": "bench",
        "aud": "http://127.0.0.1",
        "client_id": "bench",
        "scope": "api",
        "iat": now,
        "exp": now + 3600,
        "jti": secrets::random_token(16),
    });
    match jwt::sign(key, "at+jwt", &claims) {
        Ok(t) => axum::Json(serde_json::json!({
            "access_token": t,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "api",
        }))
        .into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
