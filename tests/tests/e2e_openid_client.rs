//! Drives the running server with npm `openid-client` (a strict RP library) and `jose`.
//! The npm packages are installed by this test from the lock file (`npm ci`) when missing.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use tessera::crypto::SigningAlg;
use tessera::crypto::keys::generate;
use tessera_tests::{Db, TestServer, e2e};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_drives_client_credentials_introspection_revocation() {
    tokio::task::spawn_blocking(e2e::npm_install).await.unwrap();
    let srv = TestServer::start(Db::Sqlite).await;
    let cc = |method: &str| json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": method, "scope": "api.read api.write", "access_token_as_jwt": true});
    let basic = srv.client(cc("client_secret_basic")).await;
    let post = srv.client(cc("client_secret_post")).await;
    let key = generate(SigningAlg::Es256).unwrap();
    let mut pk_meta = cc("private_key_jwt");
    pk_meta["jwks"] = json!({"keys": [key.public_jwk.clone()]});
    let pkjwt = srv.client(pk_meta).await;

    // A user grant (access + refresh token) of a confidential web client, for grant-wide
    // revocation.
    srv.user("alice", json!({})).await;
    let web = srv.web_client(json!({})).await;
    let mut browser = tessera_tests::browser::Browser::new(&srv.base);
    let tokens = tessera_tests::browser::tokens_for(&srv, &web, &mut browser, &[]).await;

    let env = json!({
        "issuer": srv.base,
        "web": {"client_id": web.client.client_id, "client_secret": web.secret, "tokens": tokens},
        "basic": {"client_id": basic.client.client_id, "client_secret": basic.secret},
        "post": {"client_id": post.client.client_id, "client_secret": post.secret},
        "pkjwt": {"client_id": pkjwt.client.client_id, "private_key_pem": tessera_tests::pkcs8_pem(&key.pkcs8), "kid": key.kid},
    });
    e2e::run_node("core.test.mjs", &env, 10).await;
    srv.stop().await;
}
