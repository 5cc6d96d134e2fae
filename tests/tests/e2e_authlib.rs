//! A second relying-party library: PyPI `authlib` (`tests/e2e/authlib_flow.py`) runs the code
//! flow, posting the login and consent forms directly, then registers a client dynamically
//! (RFC 7591) and signs in with it through a pushed authorization request (RFC 9126). The pinned packages are installed under
//! `target/` by the test.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use tessera_tests::{Db, TestServer, e2e};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_runs_the_code_flow_registers_a_client_and_pushes_a_request() {
    let tmp = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let pythonpath = tokio::task::spawn_blocking(move || e2e::pip_install(&tmp))
        .await
        .unwrap();
    let srv = TestServer::start(Db::Sqlite).await;
    let user = srv.user("bob", json!({})).await;
    let redirect = "https://rp.example/authlib/cb";
    let reg = srv.web_client(json!({"redirect_uris": [redirect]})).await;
    // An initial access token for dynamic client registration (RFC 7591).
    let registrar = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": "dynamic_registration"}))
        .await;
    let initial_access_token = srv.access_token(&registrar).await;
    let env = json!({
        "issuer": srv.base,
        "initial_access_token": initial_access_token,
        "redirect_uri": redirect,
        "client_id": reg.client.client_id,
        "client_secret": reg.secret,
        "username": "bob",
        "password": "password123",
        "sub": user.user_id,
        "email": "bob@example.com",
    });
    let out = tokio::process::Command::new("python3")
        .arg(e2e::dir().join("authlib_flow.py"))
        .env("PYTHONPATH", &pythonpath)
        .env("TESSERA_E2E", env.to_string())
        // authlib refuses plain-http token endpoints unless told this is a test.
        .env("AUTHLIB_INSECURE_TRANSPORT", "1")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("authlib flow: ok"),
        "authlib flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.stop().await;
}
