//! The device authorization grant (RFC 8628, flag DEVICE_AUTHZ) on SQLite and PostgreSQL through
//! HTTP: the device authorization response, the verification page leading into login and
//! consent, polling (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`),
//! tokens once (with a rotating refresh token), wrong user codes throttled per address, and the
//! client and flag checks.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, Page};
use tessera_tests::{Db, TestServer, on_both_backends};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn device_client(srv: &TestServer) -> Registered {
    srv.client(json!({
        "client_name": "Living-room TV",
        "grant_types": [GRANT, "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile email offline_access",
    }))
    .await
}

/// POSTs `/device_authorization` as the public client; returns the status and body.
async fn start(srv: &TestServer, reg: &Registered, scope: &str) -> (u16, Value) {
    let resp = srv
        .post_form(
            "/device_authorization",
            None,
            &[("client_id", &reg.client.client_id), ("scope", scope)],
        )
        .await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Polls the token endpoint; returns the status and body.
async fn poll(srv: &TestServer, reg: &Registered, device_code: &str) -> (u16, Value) {
    let resp = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", GRANT),
                ("device_code", device_code),
                ("client_id", &reg.client.client_id),
            ],
        )
        .await;
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// The user opens `verification_uri_complete`, confirms the code, signs in (if needed) and
/// answers the consent page with `decision`; returns the last page.
async fn approve(b: &mut Browser, auth: &Value, decision: &str, login: bool) -> Page {
    let page = b
        .open(auth["verification_uri_complete"].as_str().unwrap())
        .await;
    assert_eq!(page.status, 200);
    let code = auth["user_code"].as_str().unwrap();
    assert!(
        page.body.contains(&format!("value=\"{code}\"")),
        "{}",
        page.body
    );
    let first = b.post("/device", &[("user_code", code)]).await;
    let mut page = b.follow(first).await;
    if login {
        page = b.login(&page, "alice", "password123").await;
    }
    assert!(
        page.body.contains("name=\"decision\""),
        "consent is always asked: {}",
        page.body
    );
    b.consent(&page, decision).await
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap()
}

async fn a_device_is_approved_in_a_browser_and_polls_its_tokens(db: Db) {
    let srv = TestServer::start_with(db, |s| s.device.interval = 2).await;
    let user = srv.user("alice", json!({})).await;
    let reg = device_client(&srv).await;

    let (status, auth) = start(&srv, &reg, "openid email offline_access").await;
    assert_eq!(status, 200);
    let user_code = auth["user_code"].as_str().unwrap();
    assert!(
        user_code.len() == 9
            && user_code.chars().enumerate().all(|(i, c)| if i == 4 {
                c == '-'
            } else {
                "BCDFGHJKLMNPQRSTVWXZ".contains(c)
            }),
        "{user_code}"
    );
    assert_eq!(auth["verification_uri"], srv.url("/device"));
    assert_eq!(
        auth["verification_uri_complete"],
        srv.url(&format!("/device?user_code={user_code}"))
    );
    assert_eq!(auth["expires_in"], 600);
    assert_eq!(auth["interval"], 2);
    let device_code = auth["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43);

    // Before the user acts: pending; polling again at once: slow_down (and the interval grows).
    let (status, body) = poll(&srv, &reg, device_code).await;
    assert_eq!((status, error(&body)), (400, "authorization_pending"));
    let (status, body) = poll(&srv, &reg, device_code).await;
    assert_eq!((status, error(&body)), (400, "slow_down"));
    srv.clock.advance(3);
    // 2 s + 5 s now: 3 s later is still too soon.
    let (_, body) = poll(&srv, &reg, device_code).await;
    assert_eq!(error(&body), "slow_down");

    let mut b = Browser::new(&srv.base);
    let done = approve(&mut b, &auth, "allow", true).await;
    assert_eq!(done.status, 200);
    assert!(
        done.body.contains("data-device=\"approved\""),
        "{}",
        done.body
    );

    srv.clock.advance(13);
    let (status, tokens) = poll(&srv, &reg, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid email offline_access");
    let (_, id) = tessera_tests::jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], user.user_id);
    assert_eq!(id["aud"], reg.client.client_id);
    let info: Value = srv
        .userinfo(tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "alice@example.com");
    // The device code works once.
    srv.clock.advance(13);
    let (status, body) = poll(&srv, &reg, device_code).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"));
    // The refresh token rotates as any other.
    let resp = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", &reg.client.client_id),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let rotated: Value = resp.json().await.unwrap();
    assert_ne!(rotated["refresh_token"], tokens["refresh_token"]);

    // A second device, denied by the (signed-in) user: access_denied.
    let (_, auth2) = start(&srv, &reg, "openid").await;
    let denied = approve(&mut b, &auth2, "deny", false).await;
    assert!(
        denied.body.contains("data-device=\"denied\""),
        "{}",
        denied.body
    );
    let (status, body) = poll(&srv, &reg, auth2["device_code"].as_str().unwrap()).await;
    assert_eq!((status, error(&body)), (400, "access_denied"));
    // A denied code cannot be entered again.
    let again = b
        .post(
            "/device",
            &[("user_code", auth2["user_code"].as_str().unwrap())],
        )
        .await;
    assert_eq!(again.status, 400);

    // A third device nobody approves: expired_token once its lifetime is over, and its user
    // code no longer accepted.
    let (_, auth3) = start(&srv, &reg, "openid").await;
    srv.clock.advance(601);
    let (status, body) = poll(&srv, &reg, auth3["device_code"].as_str().unwrap()).await;
    assert_eq!((status, error(&body)), (400, "expired_token"));
    let late = b
        .post(
            "/device",
            &[("user_code", auth3["user_code"].as_str().unwrap())],
        )
        .await;
    assert_eq!(late.status, 400);
    assert_eq!(late.error_code().as_deref(), Some("invalid_user_code"));
    srv.stop().await;
}

async fn requests_and_polls_are_checked(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = device_client(&srv).await;
    // A client not registered for the grant, a scope it may not have, an unknown device code,
    // another client's device code.
    let web = srv
        .web_client(json!({"token_endpoint_auth_method": "none"}))
        .await;
    let (status, body) = start(&srv, &web, "openid").await;
    assert_eq!((status, error(&body)), (400, "unauthorized_client"));
    let (status, body) = start(&srv, &reg, "openid admin").await;
    assert_eq!((status, error(&body)), (400, "invalid_scope"));
    let (status, body) = poll(&srv, &reg, "no-such-code").await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"));
    let other = device_client(&srv).await;
    let (_, auth) = start(&srv, &reg, "openid").await;
    let (status, body) = poll(&srv, &other, auth["device_code"].as_str().unwrap()).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"));
    let resp = srv
        .post_form(
            "/token",
            None,
            &[("grant_type", GRANT), ("client_id", &reg.client.client_id)],
        )
        .await;
    assert_eq!(resp.status(), 400);
    srv.stop().await;
}

on_both_backends!(
    a_device_is_approved_in_a_browser_and_polls_its_tokens,
    requests_and_polls_are_checked,
);

/// Wrong user codes are throttled per client address; the flag turns the endpoints off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_user_codes_are_throttled_and_the_flag_turns_it_off() {
    let srv = TestServer::start_with(Db::Sqlite, |s| s.device.user_code_failures = 3).await;
    let reg = device_client(&srv).await;
    let (_, auth) = start(&srv, &reg, "openid").await;
    let mut b = Browser::new(&srv.base);
    for _ in 0..3 {
        let p = b.post("/device", &[("user_code", "BBBB-BBBB")]).await;
        assert_eq!(p.status, 400);
        assert_eq!(p.error_code().as_deref(), Some("invalid_user_code"));
    }
    // Even the right code is refused now, until the window ends.
    let code = auth["user_code"].as_str().unwrap();
    assert_eq!(b.post("/device", &[("user_code", code)]).await.status, 429);
    srv.clock.advance(601);
    let (_, auth) = start(&srv, &reg, "openid").await;
    let p = b
        .post(
            "/device",
            &[("user_code", auth["user_code"].as_str().unwrap())],
        )
        .await;
    assert_eq!(p.status, 303, "{p:?}");

    srv.state
        .set_feature(tessera::config::FeatureFlag::DeviceAuthz, false);
    let (status, body) = start(&srv, &reg, "openid").await;
    assert_eq!((status, error(&body)), (403, "feature_disabled"));
    let (status, body) = poll(&srv, &reg, auth["device_code"].as_str().unwrap()).await;
    assert_eq!((status, error(&body)), (403, "feature_disabled"));
    assert_eq!(b.get("/device").await.status, 403);
    let doc = srv.get_json("/.well-known/openid-configuration").await;
    assert!(doc.get("device_authorization_endpoint").is_none());
    assert!(
        !doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == GRANT)
    );
    srv.stop().await;
}
