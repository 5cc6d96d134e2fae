//! The plugin runtime end to end: every example plugin (Rust, C, Python, JavaScript) built from
//! source and called through the hooks facade; update-token changing real tokens from the token
//! endpoint; `tessera plugin test`.

#![allow(clippy::unwrap_used)]

use serde_json::{Map, Value, json};
use tessera::model::{Grant, TokenKind, TokenRecord};
use tessera::plugins::RevokeDecision;
use tessera::plugins::bindings::{dynamic_scope, end_session};
use tessera::plugins::hooks::ScopeClaims;
use tessera_tests::plugins::install;
use tessera_tests::{Db, TestServer, jwt_parts, on_both_backends};

on_both_backends!(update_token_example_changes_real_tokens);

async fn server_with(plugins: &[&str]) -> TestServer {
    server_on(Db::Sqlite, plugins).await
}

async fn server_on(db: Db, plugins: &[&str]) -> TestServer {
    let srv = TestServer::start(db).await;
    for p in plugins {
        install(srv.plugins_dir(), p);
    }
    assert!(srv.reload_plugins().await.is_empty());
    srv
}

fn token(client_id: &str, scope: &str) -> TokenRecord {
    TokenRecord {
        token_hash: "h".into(),
        grant_id: "g".into(),
        kind: TokenKind::AccessToken,
        format: "reference".into(),
        jti: None,
        client_id: client_id.into(),
        subject: None,
        scope: scope.into(),
        audience: vec![client_id.into()],
        issued_at: 1,
        expires_at: 2,
        revoked_at: None,
        consumed_at: None,
        claims: None,
        jkt: None,
    }
}

fn grant(client_id: &str, scope: &str) -> Grant {
    Grant::for_client(
        "g".into(),
        client_id.into(),
        "client_credentials",
        scope.into(),
        1,
    )
}

/// On both backends: reference tokens store the plugin's claims (migration 0003).
async fn update_token_example_changes_real_tokens(db: Db) {
    let srv = server_on(db, &["add-tenant-claims"]).await;
    let status = srv.state.hooks().registry().status();
    assert_eq!(status[0].state, "loaded", "{status:?}");

    // A JWT access token carries the plugin's claims, with its lifetime capped at 900 s.
    let jwt_client = srv.cc_client("client_secret_basic", true).await;
    let resp = srv.token(&jwt_client, &[]).await;
    assert_eq!(resp["expires_in"], 900);
    let (_, claims) = jwt_parts(resp["access_token"].as_str().unwrap());
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["gty"], "client_credentials");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["client_id"], jwt_client.client.client_id.as_str());

    // A reference token keeps them for introspection.
    let ref_client = srv.cc_client("client_secret_basic", false).await;
    let at = srv.access_token(&ref_client).await;
    let intro = srv.introspect(&ref_client, &at).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["tenant"], "acme");
    assert_eq!(intro["gty"], "client_credentials");
    assert_eq!(intro["client_id"], ref_client.client.client_id.as_str());

    let status = srv.state.hooks().registry().status();
    assert_eq!(status[0].calls, 2);
    assert_eq!(status[0].errors, 0);
    srv.stop().await;
}

#[tokio::test]
async fn update_token_example_changes_id_tokens() {
    let srv = server_with(&["add-tenant-claims"]).await;
    srv.user("alice", json!({"email": "alice@example.com"}))
        .await;
    let web = srv.web_client(json!({})).await;
    let mut browser = tessera_tests::browser::Browser::new(&srv.base);
    let tokens = tessera_tests::browser::tokens_for(&srv, &web, &mut browser, &[]).await;
    let (_, id) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["tenant"], "acme");
    assert_eq!(id["gty"], "authorization_code");
    // ID tokens keep the configured lifetime (the plugin caps access tokens only).
    assert_eq!(
        id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
        srv.settings.tokens.id_token_lifetime
    );
    assert_eq!(tokens["expires_in"], 900);
    srv.stop().await;
}

#[tokio::test]
async fn c_revoke_token_example_decides() {
    let srv = server_with(&["revoke-guard"]).await;
    let hooks = srv.state.hooks();
    let app = srv.cc_client("client_secret_basic", false).await.client;
    let d = hooks
        .revoke_token(
            &app,
            &token(&app.client_id, "read audit"),
            &grant(&app.client_id, "read audit"),
        )
        .await
        .unwrap();
    assert_eq!(
        d,
        RevokeDecision::Deny {
            error: "access_denied".into(),
            description: Some("tokens with this scope are revoked by an administrator only".into())
        }
    );
    let d = hooks
        .revoke_token(
            &app,
            &token(&app.client_id, "read"),
            &grant(&app.client_id, "read"),
        )
        .await
        .unwrap();
    assert_eq!(d, RevokeDecision::Allow);
    let mut legacy = app.clone();
    legacy.client_id = "legacy-app".into();
    let d = hooks
        .revoke_token(
            &legacy,
            &token("legacy-app", "audit"),
            &grant("legacy-app", "audit"),
        )
        .await
        .unwrap();
    assert_eq!(d, RevokeDecision::Skip);
    srv.stop().await;
}

#[tokio::test]
async fn python_dynamic_scope_example_adds_claims() {
    let srv = server_with(&["org-claims"]).await;
    let status = srv.state.hooks().registry().status();
    assert_eq!(status[0].state, "loaded", "{status:?}");
    let web = srv.web_client(json!({})).await.client;
    let mut user = Map::new();
    user.insert("email".into(), json!("bob@acme.test"));
    let granted = vec!["openid".to_string(), "org".to_string()];
    let claims = srv
        .state
        .hooks()
        .dynamic_scope(
            "org",
            &ScopeClaims {
                sub: "sub-1",
                user: &user,
                client: &web,
                granted_scopes: &granted,
                target: dynamic_scope::Target::Userinfo,
                authentication: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        Value::Object(claims),
        json!({"org": {"domain": "acme.test", "name": "Acme"}})
    );
    // Other scopes are not served by it; users without e-mail get nothing.
    let none = srv
        .state
        .hooks()
        .dynamic_scope(
            "profile",
            &ScopeClaims {
                sub: "sub-1",
                user: &user,
                client: &web,
                granted_scopes: &granted,
                target: dynamic_scope::Target::IdToken,
                authentication: None,
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let none = srv
        .state
        .hooks()
        .dynamic_scope(
            "org",
            &ScopeClaims {
                sub: "sub-1",
                user: &Map::new(),
                client: &web,
                granted_scopes: &granted,
                target: dynamic_scope::Target::IdToken,
                authentication: None,
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    srv.stop().await;
}

#[tokio::test]
async fn js_introspection_example_modifies_responses() {
    let srv = server_with(&["introspection-tenant"]).await;
    let hooks = srv.state.hooks();
    let rs = srv.cc_client("client_secret_basic", false).await.client;
    let active = json!({"active": true, "client_id": "app", "scope": "read"});
    let Value::Object(active) = active else {
        unreachable!()
    };
    let t = token("app", "read");
    let g = grant("app", "read");
    let out = hooks
        .introspection(&rs, Some(introspected(&t, &g, &rs)), false, active.clone())
        .await
        .unwrap();
    assert_eq!(
        Value::Object(out),
        json!({"active": true, "client_id": "app", "scope": "read", "tenant": "acme"})
    );
    let blocked = token("compromised-app", "read");
    let out = hooks
        .introspection(&rs, Some(introspected(&blocked, &g, &rs)), false, active)
        .await
        .unwrap();
    assert_eq!(Value::Object(out), json!({"active": false}));
    let mut inactive = Map::new();
    inactive.insert("active".into(), json!(false));
    let out = hooks
        .introspection(&rs, None, false, inactive)
        .await
        .unwrap();
    assert_eq!(Value::Object(out), json!({"active": false}));

    // Through the real endpoint: the global plugin adds the tenant.
    let at = srv
        .access_token(&srv.cc_client("client_secret_basic", false).await)
        .await;
    let i = srv
        .introspect(&srv.cc_client("client_secret_basic", false).await, &at)
        .await;
    assert_eq!((&i["active"], &i["tenant"]), (&json!(true), &json!("acme")));
    srv.stop().await;
}

#[tokio::test]
async fn rust_end_session_example_renders_a_page() {
    let srv = server_with(&["logout-page"]).await;
    let ctx = end_session::Context {
        sid: "sid-1".into(),
        user_id: Some("u1".into()),
        frontchannel: vec![end_session::FrontchannelRp {
            client_id: "rp".into(),
            uri: "https://rp.example/fc?iss=x&sid=sid-1".into(),
        }],
        post_logout_redirect_uri: Some("https://rp.example/bye".into()),
        state: Some("s1".into()),
    };
    let html = srv
        .state
        .hooks()
        .end_session(&ctx, &[])
        .await
        .unwrap()
        .unwrap();
    assert!(
        html.contains("<h1>You are signed out of Acme</h1>"),
        "{html}"
    );
    assert!(html.contains("https://rp.example/fc?iss=x&amp;sid=sid-1"));
    assert!(html.contains("https://rp.example/bye?state=s1"));
    srv.stop().await;
}

#[tokio::test]
async fn compiled_plugins_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "org-claims");
    let load_with = |key: [u8; 32]| {
        let dir = dir.path().to_path_buf();
        let cache = cache.path().to_path_buf();
        async move {
            let r = tessera::plugins::Registry::new(
                &dir,
                Some(tessera::plugins::cache::CompiledCache::new(&cache, key)),
            );
            assert!(r.reload().await.is_empty());
            r.status().remove(0)
        }
    };
    let load = || load_with(tessera_tests::test_cache_key());
    // The first load compiles (CPython: seconds) and fills the cache; a restart loads it.
    let first = load().await;
    assert_eq!(first.from_cache, Some(false));
    let second = load().await;
    assert_eq!(second.from_cache, Some(true));
    assert!(
        second.compile_ms.unwrap() * 5 < first.compile_ms.unwrap().max(5),
        "cache load {} ms vs compile {} ms",
        second.compile_ms.unwrap(),
        first.compile_ms.unwrap()
    );
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one file, named by sha256 and engine");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(cache.path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "the cache directory is private");
    // A tampered file is not loaded: its MAC fails, it is recompiled (and rewritten).
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&files[0], &bytes).unwrap();
    assert_eq!(
        load().await.from_cache,
        Some(false),
        "tampered file recompiled"
    );
    assert_eq!(load().await.from_cache, Some(true), "rewritten file loads");
    // A file written under another master key is not loaded either.
    assert_eq!(load_with([9u8; 32]).await.from_cache, Some(false));
}

/// The token an introspection is about, for calling the facade directly.
fn introspected<'a>(
    token: &'a tessera::model::TokenRecord,
    grant: &'a tessera::model::Grant,
    client: &'a tessera::model::Client,
) -> tessera::plugins::Introspected<'a> {
    tessera::plugins::Introspected {
        token,
        grant,
        client,
    }
}
