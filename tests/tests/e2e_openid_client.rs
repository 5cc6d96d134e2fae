//! Drives the running server with npm `openid-client` (a strict RP library) and `jose`.
//! The npm packages are installed by this test from the lock file (`npm ci`) when missing.

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use tessera::crypto::SigningAlg;
use tessera::crypto::keys::generate;
use tessera_tests::{Db, TestServer};

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e")
}

/// Installs the pinned npm packages once (`npm ci` from package-lock.json).
fn npm_install() {
    let dir = e2e_dir();
    if dir.join("node_modules/openid-client/package.json").exists()
        && dir.join("node_modules/jose/package.json").exists()
    {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .expect("npm must be installed (Node.js 20+)");
    assert!(
        out.status.success(),
        "npm ci failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_drives_client_credentials_introspection_revocation() {
    tokio::task::spawn_blocking(npm_install).await.unwrap();
    let srv = TestServer::start(Db::Sqlite).await;
    let cc = |method: &str| json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": method, "scope": "api.read api.write", "access_token_as_jwt": true});
    let basic = srv.client(cc("client_secret_basic")).await;
    let post = srv.client(cc("client_secret_post")).await;
    let key = generate(SigningAlg::Es256).unwrap();
    let mut pk_meta = cc("private_key_jwt");
    pk_meta["jwks"] = json!({"keys": [key.public_jwk.clone()]});
    let pkjwt = srv.client(pk_meta).await;

    let env = json!({
        "issuer": srv.base,
        "basic": {"client_id": basic.client.client_id, "client_secret": basic.secret},
        "post": {"client_id": post.client.client_id, "client_secret": post.secret},
        "pkjwt": {"client_id": pkjwt.client.client_id, "private_key_pem": pem(&key.pkcs8), "kid": key.kid},
    });
    let out = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "core.test.mjs"])
        .current_dir(e2e_dir())
        .env("TESSERA_E2E", env.to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "openid-client e2e failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("pass 6"),
        "all six node tests ran: {stdout}"
    );
    srv.stop().await;
}
