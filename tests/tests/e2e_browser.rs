//! Browser sign-in end to end: npm `openid-client` as the RP and headless Debian Chromium driven
//! by npm `playwright-core` through the real login and consent pages
//! (`tests/e2e/browser.test.mjs`). Installs what it needs: the pinned npm packages (`npm ci`)
//! and Debian's `chromium` when `/usr/bin/chromium` is missing.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use tessera_tests::{Db, TestServer, e2e};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_and_chromium_sign_a_user_in() {
    tokio::task::spawn_blocking(|| {
        e2e::npm_install();
        e2e::ensure_chromium();
    })
    .await
    .unwrap();
    let srv = TestServer::start(Db::Sqlite).await;
    let redirect_uri = callback_page().await;
    let user = srv.user("alice", json!({})).await;
    let reg = srv
        .web_client(json!({"redirect_uris": [redirect_uri]}))
        .await;
    let env = json!({
        "issuer": srv.base,
        "redirect_uri": redirect_uri,
        "client_id": reg.client.client_id,
        "client_secret": reg.secret,
        "username": "alice",
        "password": "password123",
        "sub": user.user_id,
        "email": "alice@example.com",
        "name": "alice Example",
    });
    e2e::run_node("browser.test.mjs", &env, 2).await;
    srv.stop().await;
}

/// The RP's callback page: a loopback server answering 200 on `/cb`, so the browser's
/// navigation to the redirect URI completes. Returns its URL.
async fn callback_page() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/cb", axum::routing::get(|| async { "signed in" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
