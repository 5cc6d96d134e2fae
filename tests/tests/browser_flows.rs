//! The authorization code flow through the real login and consent pages, on SQLite and
//! PostgreSQL: PKCE, ID tokens, userinfo, refresh rotation, replay handling, remembered
//! consent, prompt/max_age/ACR handling, pairwise subjects.

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use serde_json::{Value, json};
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{
    Browser, Page, REDIRECT, authorize_url, exchange, pkce, response_params, sign_in, tokens_for,
};
use tessera_tests::{Db, TestServer, jwt_parts, on_both_backends};

async fn refresh(
    srv: &TestServer,
    reg: &Registered,
    rt: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    form.extend_from_slice(extra);
    srv.post_form(
        "/token",
        Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
        &form,
    )
    .await
}

fn verify_id_token(srv: &TestServer, jwks: &Value, token: &str, aud: &str) -> Value {
    let (header, _) = jwt_parts(token);
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let jwk = set.find(header["kid"].as_str().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let alg: jsonwebtoken::Algorithm = header["alg"].as_str().unwrap().parse().unwrap();
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[&srv.base]);
    v.leeway = 0;
    // The test clock is fixed; accept its "now" however far it lags the real one.
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims
}

async fn code_flow_end_to_end(db: Db) {
    let srv = TestServer::start(db).await;
    let user = srv.user("alice", json!({})).await;
    let reg = srv.web_client(json!({})).await;
    let mut b = Browser::new(&srv.base);
    let (verifier, challenge) = pkce();

    // Authorize: not signed in, so the login page; it is protected and carries the client name.
    let first = b.get(&authorize_url(&reg, &challenge, &[])).await;
    assert_eq!(first.status, 303);
    let login = b.follow(first).await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("Example RP"));
    assert_eq!(login.headers["cache-control"], "no-store");
    assert_eq!(login.headers["x-frame-options"], "DENY");
    assert!(
        login.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    // A wrong password and an unknown user get the same answer and no session.
    for (u, p) in [("alice", "wrong-password"), ("nobody", "password123")] {
        let again = b.login(&login, u, p).await;
        assert_eq!(again.status, 200);
        assert!(again.body.contains("Wrong username or password."));
        assert!(!b.cookies.contains_key("tessera_session"));
    }

    let consent = b.login(&login, "alice", "password123").await;
    let cookie = b.cookies["tessera_session"].clone();
    assert!(
        consent.body.contains("View your email address."),
        "{}",
        consent.body
    );
    assert_eq!(consent.headers["x-frame-options"], "DENY");
    let done = b.consent(&consent, "allow").await;
    let params = response_params(done.location.as_deref().unwrap());
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], srv.base);

    let resp = exchange(&srv, &reg, &params["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile email offline_access");
    let jwks = srv.get_json("/jwks").await;
    let id = verify_id_token(
        &srv,
        &jwks,
        t["id_token"].as_str().unwrap(),
        &reg.client.client_id,
    );
    let (h, _) = jwt_parts(t["id_token"].as_str().unwrap());
    assert_eq!(h["alg"], "RS256");
    assert_eq!(id["sub"], user.user_id);
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["acr"], "simple_password_auth");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert!(id["sid"].is_string());
    assert!(
        id.get("auth_time").is_none(),
        "auth_time only when asked for"
    );
    let at = t["access_token"].as_str().unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, at.as_bytes());
    let at_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]);
    assert_eq!(id["at_hash"], at_hash);

    // Userinfo: profile and email claims, not address or phone (not granted).
    let ui: Value = srv.userinfo(at).await.json().await.unwrap();
    assert_eq!(ui["sub"], user.user_id);
    assert_eq!(ui["email"], "alice@example.com");
    assert_eq!(ui["name"], "alice Example");
    assert!(ui.get("address").is_none() && ui.get("phone_number").is_none());
    // POST with the token in the body works too.
    let ui2: Value = srv
        .http
        .post(srv.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui2, ui);

    // Refresh rotates; the scope can narrow, not widen.
    let rt1 = t["refresh_token"].as_str().unwrap();
    let wider = refresh(&srv, &reg, rt1, &[("scope", "openid address")]).await;
    assert_eq!(wider.status(), 400);
    assert_eq!(
        wider.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );
    let r2: Value = refresh(&srv, &reg, rt1, &[("scope", "openid email")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r2["scope"], "openid email");
    let rt2 = r2["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    let id2 = verify_id_token(
        &srv,
        &jwks,
        r2["id_token"].as_str().unwrap(),
        &reg.client.client_id,
    );
    assert_eq!(id2["sub"], user.user_id);
    assert!(id2.get("nonce").is_none());
    let ui3: Value = srv
        .userinfo(r2["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert!(ui3.get("name").is_none() && ui3["email"] == "alice@example.com");
    // The narrowed refresh still carries the whole grant.
    let r3: Value = refresh(&srv, &reg, rt2, &[]).await.json().await.unwrap();
    assert_eq!(r3["scope"], "openid profile email offline_access");

    // Reusing a rotated refresh token revokes the grant: every token of it goes inactive.
    let reuse = refresh(&srv, &reg, rt1, &[]).await;
    assert_eq!(reuse.status(), 400);
    assert_eq!(
        reuse.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    for tok in [
        at,
        r3["access_token"].as_str().unwrap(),
        r3["refresh_token"].as_str().unwrap(),
    ] {
        assert_eq!(srv.introspect(&reg, tok).await["active"], false);
    }
    let revoked = srv.userinfo(r3["access_token"].as_str().unwrap()).await;
    assert_eq!(revoked.status(), 401);
    assert!(tessera_tests::challenge(&revoked).contains("error=\"invalid_token\""));

    // A second authorization reuses the session and the remembered consent: no pages at all.
    let (_, challenge2) = pkce();
    let direct = b.get(&authorize_url(&reg, &challenge2, &[])).await;
    assert!(direct.location.as_deref().unwrap().starts_with(REDIRECT));
    assert_eq!(b.cookies["tessera_session"], cookie);
    srv.stop().await;
}

async fn code_replay_revokes_the_grant(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let reg = srv.web_client(json!({})).await;
    let mut b = Browser::new(&srv.base);
    let (verifier, challenge) = pkce();
    let params = sign_in(&mut b, &authorize_url(&reg, &challenge, &[]), "alice").await;
    let t: Value = exchange(&srv, &reg, &params["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    let again = exchange(&srv, &reg, &params["code"], &verifier).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    for tok in [&t["access_token"], &t["refresh_token"]] {
        assert_eq!(
            srv.introspect(&reg, tok.as_str().unwrap()).await["active"],
            false
        );
    }
    assert_eq!(
        refresh(&srv, &reg, t["refresh_token"].as_str().unwrap(), &[])
            .await
            .status(),
        400
    );
    srv.stop().await;
}

async fn concurrent_refreshes_have_exactly_one_winner(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let reg = srv.web_client(json!({})).await;
    let mut b = Browser::new(&srv.base);
    for _round in 0..3 {
        let t = tokens_for(&srv, &reg, &mut b, &[]).await;
        let rt = t["refresh_token"].as_str().unwrap().to_string();
        let calls = (0..8).map(|_| refresh(&srv, &reg, &rt, &[]));
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r.status() == 200).count();
        assert_eq!(ok, 1, "exactly one concurrent refresh succeeds");
        assert!(
            results
                .iter()
                .all(|r| r.status() == 200 || r.status() == 400)
        );
    }
    srv.stop().await;
}

async fn code_checks_client_redirect_pkce_and_expiry(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let reg = srv.web_client(json!({})).await;
    let other = srv.web_client(json!({})).await;
    let mut b = Browser::new(&srv.base);
    let (verifier, challenge) = pkce();
    let code =
        sign_in(&mut b, &authorize_url(&reg, &challenge, &[]), "alice").await["code"].clone();
    let bad = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 400);
        r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        bad(exchange(&srv, &other, &code, &verifier).await).await,
        "invalid_grant"
    );
    let (wrong_verifier, _) = pkce();
    assert_eq!(
        bad(exchange(&srv, &reg, &code, &wrong_verifier).await).await,
        "invalid_grant"
    );
    let wrong_redirect = srv
        .post_form(
            "/token",
            Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://rp.example/cb/"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(bad(wrong_redirect).await, "invalid_grant");
    // None of those burned the code; after 61 s it has expired.
    srv.clock.advance(61);
    assert_eq!(
        bad(exchange(&srv, &reg, &code, &verifier).await).await,
        "invalid_grant"
    );
    srv.stop().await;
}

async fn consent_is_remembered_asked_again_or_skipped(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let asks = |p: &Page| p.body.contains("name=\"decision\"");
    let mut b = Browser::new(&srv.base);
    let persist = srv.web_client(json!({})).await;
    let (_, ch) = pkce();
    sign_in(&mut b, &authorize_url(&persist, &ch, &[]), "alice").await;
    // prompt=consent asks again even though consent is remembered.
    let p = b
        .get(&authorize_url(&persist, &ch, &[("prompt", "consent")]))
        .await;
    assert!(asks(&b.follow(p).await));
    // A scope outside the remembered set asks again.
    let url = authorize_url(&persist, &ch, &[]).replace("offline_access", "offline_access+address");
    let p = b.get(&url).await;
    assert!(asks(&b.follow(p).await));
    // Without "persist authorizations" every request asks.
    let forgetful = srv
        .web_client(json!({"persist_client_authorizations": false}))
        .await;
    for _ in 0..2 {
        let p = b.get(&authorize_url(&forgetful, &ch, &[])).await;
        let page = b.follow(p).await;
        assert!(asks(&page));
        let done = b.consent(&page, "allow").await;
        assert!(done.location.unwrap().contains("code="));
    }
    // A trusted client never asks; deny answers access_denied.
    let trusted = srv.web_client(json!({"trusted_client": true})).await;
    let p = b.get(&authorize_url(&trusted, &ch, &[])).await;
    assert!(response_params(&p.location.unwrap()).contains_key("code"));
    let p = b.get(&authorize_url(&forgetful, &ch, &[])).await;
    let page = b.follow(p).await;
    let denied = b.consent(&page, "deny").await;
    let params = response_params(&denied.location.unwrap());
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-123");
    srv.stop().await;
}

async fn prompt_max_age_and_acr_drive_login(db: Db) {
    let srv = TestServer::start_with(db, |s| {
        s.acr.enabled = vec!["basic".into(), "strong".into()];
        s.acr.default = "basic".into();
    })
    .await;
    srv.user("alice", json!({})).await;
    let reg = srv.web_client(json!({"trusted_client": true})).await;
    let mut b = Browser::new(&srv.base);
    let (_, ch) = pkce();
    // prompt=none with no session: login_required, sent to the client.
    let p = b
        .get(&authorize_url(&reg, &ch, &[("prompt", "none")]))
        .await;
    let params = response_params(&p.location.unwrap());
    assert_eq!(
        (params["error"].as_str(), params["iss"].as_str()),
        ("login_required", srv.base.as_str())
    );
    sign_in(&mut b, &authorize_url(&reg, &ch, &[]), "alice").await;
    let first_session = b.cookies["tessera_session"].clone();
    // prompt=none with a session works now.
    let p = b
        .get(&authorize_url(&reg, &ch, &[("prompt", "none")]))
        .await;
    assert!(response_params(&p.location.unwrap()).contains_key("code"));
    // prompt=login shows the login page again, and the new login rotates the session id.
    let p = b
        .get(&authorize_url(&reg, &ch, &[("prompt", "login")]))
        .await;
    let page = b.follow(p).await;
    assert!(page.body.contains("name=\"password\""));
    b.login(&page, "alice", "password123").await;
    assert_ne!(b.cookies["tessera_session"], first_session);
    // max_age: an old login must be repeated; the ID token then carries auth_time.
    srv.clock.advance(120);
    let p = b.get(&authorize_url(&reg, &ch, &[("max_age", "60")])).await;
    assert!(b.follow(p).await.body.contains("name=\"password\""));
    let t = tokens_for(&srv, &reg, &mut b, &[("max_age", "60")]).await;
    let (_, id) = jwt_parts(t["id_token"].as_str().unwrap());
    assert_eq!(id["auth_time"], json!(srv.state.now()));
    // acr_values picks an enabled value; a session of another ACR needs a new login.
    let p = b
        .get(&authorize_url(&reg, &ch, &[("acr_values", "strong")]))
        .await;
    assert!(b.follow(p).await.body.contains("name=\"password\""));
    let t = tokens_for(&srv, &reg, &mut b, &[("acr_values", "unknown strong")]).await;
    assert_eq!(
        jwt_parts(t["id_token"].as_str().unwrap()).1["acr"],
        "strong"
    );
    // A client whose allowed ACRs exclude the request gets its default instead.
    let limited = srv
        .web_client(json!({"trusted_client": true, "authorized_acr_values": ["basic"], "default_acr_values": ["basic"]}))
        .await;
    let t = tokens_for(&srv, &limited, &mut b, &[("acr_values", "strong")]).await;
    assert_eq!(jwt_parts(t["id_token"].as_str().unwrap()).1["acr"], "basic");
    srv.stop().await;
}

async fn pairwise_subjects_follow_the_sector(db: Db) {
    let srv = TestServer::start(db).await;
    let user = srv.user("alice", json!({})).await;
    let mut b = Browser::new(&srv.base);
    let pw = |uris: Value| json!({"trusted_client": true, "subject_type": "pairwise", "redirect_uris": uris});
    let a = srv.web_client(pw(json!([REDIRECT]))).await;
    let a2 = srv
        .web_client(pw(json!([REDIRECT, "https://rp.example/other"])))
        .await;
    let sub = |t: Value| {
        jwt_parts(t["id_token"].as_str().unwrap()).1["sub"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let s1 = sub(tokens_for(&srv, &a, &mut b, &[]).await);
    let s2 = sub(tokens_for(&srv, &a2, &mut b, &[]).await);
    assert_eq!(s1, s2, "one sector, one pairwise sub");
    assert_ne!(s1, user.user_id);
    let other_sector = srv
        .web_client(json!({"trusted_client": true, "subject_type": "pairwise", "sector_identifier_uri": "https://other.example/sector.json"}))
        .await;
    let s3 = sub(tokens_for(&srv, &other_sector, &mut b, &[]).await);
    assert_ne!(s1, s3);
    // Userinfo agrees with the ID token.
    let t = tokens_for(&srv, &a, &mut b, &[]).await;
    let ui: Value = srv
        .userinfo(t["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ui["sub"], s1);
    srv.stop().await;
}

on_both_backends!(
    code_flow_end_to_end,
    code_replay_revokes_the_grant,
    concurrent_refreshes_have_exactly_one_winner,
    code_checks_client_redirect_pkce_and_expiry,
    consent_is_remembered_asked_again_or_skipped,
    prompt_max_age_and_acr_drive_login,
    pairwise_subjects_follow_the_sector,
);
