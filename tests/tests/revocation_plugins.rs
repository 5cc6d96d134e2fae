//! The revoke-token and introspection hooks through /revoke and /introspect, with the example
//! plugins (Python, C, Rust, JavaScript), their bindings, their failures and the client field
//! that runs introspection plugins before a JWT access token is signed.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, tokens_for};
use tessera_tests::plugins::{install_as, wasm};
use tessera_tests::{Db, TestServer, jwt_parts, on_both_backends};

on_both_backends!(
    revoke_plugins_allow_skip_and_deny,
    revoke_plugin_failures_follow_on_error,
    introspection_plugins_of_the_tokens_client_run,
    introspection_plugin_failures_follow_on_error,
    introspection_claims_go_into_jwt_access_tokens,
);

fn basic(reg: &Registered) -> Option<(&str, &str)> {
    Some((&reg.client.client_id, reg.secret.as_deref().unwrap()))
}

async fn active(srv: &TestServer, as_: &Registered, token: &str) -> bool {
    srv.introspect(as_, token).await["active"] == json!(true)
}

/// Installs the built example `example` as `name` with `extra` manifest text.
fn install_example(srv: &TestServer, name: &str, example: &str, hook: &str, extra: &str) {
    install_as(srv.plugins_dir(), name, hook, &wasm(example), extra);
}

/// (calls, errors) of a loaded plugin (kept across reloads of the same plugin).
fn counted(srv: &TestServer, name: &str) -> (u64, u64) {
    let s = srv.state.hooks().registry().status();
    let p = s.iter().find(|p| p.name == name).unwrap();
    (p.calls, p.errors)
}

/// Whether `after` is `before` plus one failed call.
fn one_more_failure(before: (u64, u64), after: (u64, u64)) -> bool {
    after == (before.0 + 1, before.1 + 1)
}

async fn revoke_plugins_allow_skip_and_deny(db: Db) {
    let srv = TestServer::start(db).await;
    let protected = srv.cc_client("client_secret_basic", false).await;
    let skipper = srv.cc_client("client_secret_basic", false).await;
    let ordinary = srv.cc_client("client_secret_basic", false).await;
    // Python, global: the protected client's tokens cannot be revoked.
    install_example(
        &srv,
        "revoke-protect",
        "revoke-protect",
        "revoke-token",
        &format!(
            "[config]\nprotected_clients = \"{}\"\n",
            protected.client.client_id
        ),
    );
    // C, bound to one caller: its revocations answer 200 and revoke nothing.
    install_as(
        srv.plugins_dir(),
        "revoke-guard",
        "revoke-token",
        &wasm("revoke-guard"),
        &format!(
            "priority = 5\n[bindings]\nclients = [\"{id}\"]\n[config]\nskip_clients = \"{id}\"\n",
            id = skipper.client.client_id
        ),
    );
    assert!(srv.reload_plugins().await.is_empty());

    let t = srv.access_token(&protected).await;
    let r = srv
        .post_form("/revoke", basic(&protected), &[("token", &t)])
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");
    assert_eq!(
        body["error_description"],
        "tokens of this client are revoked by an administrator only"
    );
    assert!(
        active(&srv, &protected, &t).await,
        "denied: nothing revoked"
    );

    let t = srv.access_token(&skipper).await;
    let r = srv
        .post_form("/revoke", basic(&skipper), &[("token", &t)])
        .await;
    assert_eq!(r.status(), 200);
    assert!(active(&srv, &skipper, &t).await, "skipped: nothing revoked");

    let t = srv.access_token(&ordinary).await;
    let r = srv
        .post_form("/revoke", basic(&ordinary), &[("token", &t)])
        .await;
    assert_eq!(r.status(), 200);
    assert!(!active(&srv, &ordinary, &t).await, "allowed: revoked");
    // The global plugin ran for every revocation, the bound one for its client's only.
    assert_eq!(counted(&srv, "revoke-protect"), (3, 0));
    assert_eq!(counted(&srv, "revoke-guard"), (1, 0));
    srv.stop().await;
}

/// A fault fixture for `hook` that fails by `mode` (`trap`, `loop`) under `policy`.
fn install_fault(srv: &TestServer, hook: &str, mode: &str, policy: &str) {
    install_as(
        srv.plugins_dir(),
        &format!("faulty-{hook}"),
        hook,
        &wasm(&format!("faulty-{}", hook.trim_end_matches("-token"))),
        &format!(
            "on_error = \"{policy}\"\n[limits]\ntimeout_ms = 50\n[config]\nmode = \"{mode}\"\n"
        ),
    );
}

async fn revoke_plugin_failures_follow_on_error(db: Db) {
    let srv = TestServer::start(db).await;
    let c = srv.cc_client("client_secret_basic", false).await;
    for mode in ["trap", "loop"] {
        install_fault(&srv, "revoke-token", mode, "fail-closed");
        assert!(srv.reload_plugins().await.is_empty());
        let before = counted(&srv, "faulty-revoke-token");
        let t = srv.access_token(&c).await;
        let r = srv.post_form("/revoke", basic(&c), &[("token", &t)]).await;
        assert_eq!(r.status(), 500, "{mode}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"error": "server_error", "error_description": "internal server error"})
        );
        assert!(
            active(&srv, &c, &t).await,
            "{mode}: fail-closed revokes nothing"
        );
        let after = counted(&srv, "faulty-revoke-token");
        assert!(one_more_failure(before, after), "{mode}: counted");
        // Fail-open: as if the plugin were absent.
        install_fault(&srv, "revoke-token", mode, "fail-open");
        assert!(srv.reload_plugins().await.is_empty());
        let before = counted(&srv, "faulty-revoke-token");
        let r = srv.post_form("/revoke", basic(&c), &[("token", &t)]).await;
        assert_eq!(r.status(), 200);
        assert!(!active(&srv, &c, &t).await, "{mode}: fail-open revokes");
        let after = counted(&srv, "faulty-revoke-token");
        assert!(one_more_failure(before, after), "{mode}: counted");
    }
    srv.stop().await;
}

async fn introspection_plugins_of_the_tokens_client_run(db: Db) {
    for every in [false, true] {
        let srv = TestServer::start_with(db, |s| {
            s.introspection.script_backward_compatibility = every
        })
        .await;
        srv.user("alice", json!({})).await;
        let bob = srv.user("bob", json!({})).await;
        let bound = srv.web_client(json!({})).await;
        let unbound = srv.web_client(json!({})).await;
        let rs = srv.cc_client("client_secret_basic", false).await;
        let bindings = format!("[bindings]\nclients = [\"{}\"]\n", bound.client.client_id);
        install_example(
            &srv,
            "introspection-user",
            "introspection-user",
            "introspection",
            &bindings,
        );
        install_example(
            &srv,
            "blocked-subjects",
            "blocked-subjects",
            "introspection",
            &format!(
                "{bindings}[config]\nblocked_subjects = \"{}\"\n",
                bob.user_id
            ),
        );
        assert!(srv.reload_plugins().await.is_empty());
        let mut alice_browser = Browser::new(&srv.base);
        let alice_bound = tokens_for(&srv, &bound, &mut alice_browser, &[]).await;
        let alice_unbound = tokens_for(&srv, &unbound, &mut alice_browser, &[]).await;
        let bob_bound = tessera_tests::browser::tokens_of(&srv, &bound, "bob").await;

        // Another client (a resource server) asks; the plugins of the token's client run.
        let i = srv
            .introspect(&rs, alice_bound["access_token"].as_str().unwrap())
            .await;
        assert_eq!(i["active"], true);
        assert!(i["user_id"].is_string(), "{i}");
        assert!(i["session_age"].as_i64().unwrap() >= 0, "{i}");
        assert_eq!(i["client_id"], bound.client.client_id, "kept by the host");
        assert_eq!(
            srv.introspect(&rs, bob_bound["access_token"].as_str().unwrap())
                .await,
            json!({"active": false}),
            "a blocked subject's token is reported inactive"
        );
        let i = srv
            .introspect(&rs, alice_unbound["access_token"].as_str().unwrap())
            .await;
        assert_eq!(i["active"], true);
        assert_eq!(
            i.get("user_id").is_some(),
            every,
            "every={every}: plugins of other clients run only in backward-compatible mode: {i}"
        );
        srv.stop().await;
    }
}

async fn introspection_plugin_failures_follow_on_error(db: Db) {
    let srv = TestServer::start(db).await;
    let c = srv.cc_client("client_secret_basic", false).await;
    let t = srv.access_token(&c).await;
    for mode in ["trap", "loop"] {
        for (policy, status) in [("fail-closed", 500), ("fail-open", 200)] {
            install_fault(&srv, "introspection", mode, policy);
            assert!(srv.reload_plugins().await.is_empty());
            let before = counted(&srv, "faulty-introspection");
            let r = srv
                .post_form("/introspect", basic(&c), &[("token", &t)])
                .await;
            assert_eq!(r.status(), status, "{mode} {policy}");
            let body: Value = r.json().await.unwrap();
            if status == 500 {
                assert_eq!(body["error"], "server_error");
            } else {
                assert_eq!(body["active"], true, "as if absent");
            }
            let after = counted(&srv, "faulty-introspection");
            assert!(one_more_failure(before, after), "{mode} {policy}: counted");
        }
    }
    srv.stop().await;
}

async fn introspection_claims_go_into_jwt_access_tokens(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let rp = srv
        .web_client(json!({
            "access_token_as_jwt": true,
            "run_introspection_script_before_jwt_creation": true,
        }))
        .await;
    let plain = srv.web_client(json!({"access_token_as_jwt": true})).await;
    for reg in [&rp, &plain] {
        install_example(
            &srv,
            &format!("user-{}", &reg.client.client_id[..8]),
            "introspection-user",
            "introspection",
            &format!("[bindings]\nclients = [\"{}\"]\n", reg.client.client_id),
        );
    }
    assert!(srv.reload_plugins().await.is_empty());
    let mut b = Browser::new(&srv.base);
    let t = tokens_for(&srv, &rp, &mut b, &[]).await;
    let (_, claims) = jwt_parts(t["access_token"].as_str().unwrap());
    assert!(claims["user_id"].is_string(), "{claims}");
    assert!(claims["session_age"].is_i64(), "{claims}");
    assert_eq!(claims["client_id"], rp.client.client_id);
    assert!(claims.get("active").is_none());
    let t = tokens_for(&srv, &plain, &mut b, &[]).await;
    let (_, claims) = jwt_parts(t["access_token"].as_str().unwrap());
    assert!(
        claims.get("user_id").is_none(),
        "only clients with the field: {claims}"
    );
    srv.stop().await;
}
