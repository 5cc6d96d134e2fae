//! Browser sign-in end to end: npm `openid-client` as the RP and headless Debian Chromium driven
//! by npm `playwright-core` through the real login and consent pages
//! (`tests/e2e/browser.test.mjs`), including a custom and a dynamic scope (Rust plugin) whose
//! claims the RP reads from userinfo and the validated ID token. Installs what it needs: the pinned npm packages (`npm ci`)
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
    let user = srv
        .user(
            "alice",
            json!({"badge_no": "B-7", "groups": ["staff", "admins"]}),
        )
        .await;
    let reg = srv
        .web_client(json!({"redirect_uris": [redirect_uri]}))
        .await;
    // A custom OpenID scope over a custom attribute, and a dynamic scope served by the Rust
    // member-of plugin, for a client that wants claims in its ID token.
    let store = srv.state.store();
    let now = srv.state.now();
    for scope in [
        json!({"id": "badge", "scope_type": "openid", "description": "Your badge", "claims": ["badge_no"]}),
        json!({"id": "groups", "scope_type": "dynamic", "description": "Your groups"}),
    ] {
        tessera::admin::scopes::create(store, scope, now)
            .await
            .unwrap();
    }
    tessera_tests::plugins::install(srv.plugins_dir(), "member-of");
    assert!(srv.reload_plugins().await.is_empty());
    let claims_client = srv
        .web_client(json!({
            "redirect_uris": [redirect_uri],
            "scope": "openid email badge groups",
            "include_claims_in_id_token": true,
        }))
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
        "claims_client": {"client_id": claims_client.client.client_id, "client_secret": claims_client.secret},
        "badge_no": "B-7",
        "member_of": ["admins", "staff"],
    });
    e2e::run_node("browser.test.mjs", &env, 3).await;
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
