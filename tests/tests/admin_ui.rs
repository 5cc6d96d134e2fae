//! The web admin UI end to end: headless Debian Chromium driven by npm `playwright-core`
//! (`tests/e2e/admin_ui.test.mjs`) signs an administrator in through Tessera's own login and
//! works every screen of seed 001's Auth Server menu (clients, keys, sessions, server
//! configuration and feature flags, logging, plugins with a canary, scopes, ACRs), writing a
//! screenshot of each screen under `target/tmp/admin-ui-screens`. This side sets the server up,
//! then checks in the database what the browser changed.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use tessera_tests::rp::RecordingRp;
use tessera_tests::{Db, TestServer, e2e};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_works_every_screen_in_chromium() {
    tokio::task::spawn_blocking(|| {
        e2e::npm_install();
        e2e::ensure_chromium();
    })
    .await
    .unwrap();
    let srv = TestServer::start(Db::Sqlite).await;
    let rp = RecordingRp::start().await;
    let now = srv.state.now();
    let store = srv.state.store();
    // The first administrator, as `tessera admin init` makes them.
    let (root, _) = tessera::admin::users::init_admin_user(
        store,
        Some("root".into()),
        Some("admin-password-1".into()),
        now,
    )
    .await
    .unwrap()
    .unwrap();
    srv.user("bob", json!({})).await;
    let web = srv
        .web_client(json!({"redirect_uris": [rp.url("/cb")]}))
        .await;
    let cc = srv.cc_client("client_secret_basic", true).await;

    // The plugin to upload, and its canary: the same component, version 1.1.0, another tenant.
    let name = "add-tenant-claims";
    let wasm = tessera_tests::plugins::wasm(name);
    let sha = tessera_tests::plugins::sha256_hex(&wasm);
    let manifest =
        std::fs::read_to_string(tessera_tests::plugins::built().join(format!("{name}.toml")))
            .unwrap();
    let canary = manifest
        .replace("version = \"1.0.0\"", "version = \"1.1.0\"")
        .replace("tenant = \"acme\"", "tenant = \"globex\"");
    assert_ne!(canary, manifest);
    let files = tempfile::tempdir().unwrap();
    let path = |f: &str| files.path().join(f).to_str().unwrap().to_string();
    std::fs::write(path(&format!("{name}.wasm")), &wasm).unwrap();
    std::fs::write(path(&format!("{name}.toml")), &manifest).unwrap();
    std::fs::write(path("canary.toml"), &canary).unwrap();
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-ui-screens");
    std::fs::create_dir_all(&screenshots).unwrap();

    let env = json!({
        "issuer": srv.base,
        "admin": {"username": "root", "password": "admin-password-1"},
        "bob": {"username": "bob", "password": "password123"},
        "rp": {"client_id": web.client.client_id, "redirect_uri": rp.url("/cb")},
        "cc": {"client_id": cc.client.client_id, "client_secret": cc.secret},
        "new_client_id": "console-made",
        "acr": "simple_password_auth",
        "plugin": {
            "name": name,
            "sha256": sha,
            "wasm_path": path(&format!("{name}.wasm")),
            "manifest_path": path(&format!("{name}.toml")),
            "canary_manifest_path": path("canary.toml"),
        },
        "screenshots": screenshots,
    });
    e2e::run_node("admin_ui.test.mjs", &env, 9).await;

    // What the browser changed is in the database.
    let client = store.find_client("console-made").await.unwrap().unwrap();
    assert_eq!(
        client.metadata.client_name.as_deref(),
        Some("Renamed in the console")
    );
    assert_eq!(client.metadata.access_token_lifetime, Some(600));
    assert_eq!(client.metadata.default_max_age, Some(3600));
    assert!(client.metadata.require_pkce);
    assert_eq!(client.metadata.contacts, ["ops@example.com"]);
    let plugins = store.list_plugins().await.unwrap();
    assert_eq!(plugins[0].version, "1.1.0");
    assert!(store.list_canaries().await.unwrap().is_empty());
    assert_eq!(srv.state.settings().log.level, "info,tessera=debug");
    assert_eq!(srv.state.settings().tokens.access_token_lifetime, 1200);
    // Every change went through the admin API, so each is in the audit log with the
    // administrator as the actor.
    let audit = store
        .list_audit(&tessera::store::AuditQuery::default(), 500, 0)
        .await
        .unwrap();
    assert!(
        audit.0.iter().any(|e| e.action == "plugins.promote_canary"
            && e.actor_user.as_deref() == Some(root.user_id.as_str())
            && e.actor_client == tessera::admin::ui::UI_CLIENT_ID),
        "{:?}",
        audit.0.iter().map(|e| &e.action).collect::<Vec<_>>()
    );
    for screen in [
        "dashboard",
        "clients",
        "client",
        "keys",
        "sessions",
        "config",
        "logging",
        "plugins",
        "plugin-canary",
        "scopes",
        "scope",
        "acrs",
    ] {
        let png = screenshots.join(format!("{screen}.png"));
        assert!(
            std::fs::metadata(&png).unwrap().len() > 1000,
            "{}",
            png.display()
        );
    }
    srv.stop().await;
}
