//! Logout (issue 12, seed 003) through HTTP on SQLite and PostgreSQL: RP-initiated logout with
//! its five properties each on and off, redirect validation, foreign and mismatched hints, the
//! confirmation page, front- and back-channel logout to loopback RPs (logout tokens verified
//! against the JWKS), what logout does to tokens, and the session endpoints.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::config::Settings;
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, Page, authorize_url, pkce, response_params, tokens_for};
use tessera_tests::rp::{RecordingRp, verify_logout_token};
use tessera_tests::{Db, TestServer, on_both_backends};

const BYE: &str = "https://rp.example/bye";

async fn server(db: Db, tweak: impl FnOnce(&mut Settings)) -> TestServer {
    let srv = TestServer::start_with(db, |s| {
        s.outbound.allow_internal_hosts = vec!["127.0.0.1".into()];
        tweak(s);
    })
    .await;
    srv.user("alice", json!({})).await;
    srv
}

/// A web client with `BYE` registered as its post-logout redirect.
async fn rp(srv: &TestServer, extra: Value) -> Registered {
    let mut v = json!({"post_logout_redirect_uris": [BYE], "client_name": "Example RP"});
    if let (Some(base), Value::Object(extra)) = (v.as_object_mut(), extra) {
        base.extend(extra);
    }
    srv.web_client(v).await
}

fn end_session(params: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.extend_pairs(params);
    format!("/end_session?{}", q.finish())
}

/// `GET /end_session` with `hint` as `id_token_hint`, `BYE` as the redirect and `state`.
async fn end_with(b: &mut Browser, hint: &str, state: &str) -> Page {
    b.get(&end_session(&[
        ("id_token_hint", hint),
        ("post_logout_redirect_uri", BYE),
        ("state", state),
    ]))
    .await
}

/// Whether the browser's session is active, as the session status endpoint says.
async fn signed_in(b: &mut Browser) -> bool {
    let p = b.get("/session_status").await;
    assert_eq!(p.status, 200);
    serde_json::from_str::<Value>(&p.body).unwrap()["state"] == "authenticated"
}

/// A refusal: the error page (400, the code), never a redirect, the session left alone.
async fn assert_refused(b: &mut Browser, p: &Page) {
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.location.is_none());
    assert_eq!(p.error_code().as_deref(), Some("invalid_request"));
    assert!(
        signed_in(b).await,
        "a refused logout must not end the session"
    );
}

/// A completed logout that redirected to `BYE` with `state`.
async fn assert_logged_out_to_bye(b: &mut Browser, p: &Page, state: &str) {
    assert_eq!(p.status, 302, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{BYE}?state={state}").as_str())
    );
    assert_eq!(p.headers["cache-control"], "no-store");
    assert!(!b.cookies.contains_key("tessera_session"), "cookie cleared");
    assert!(!signed_in(b).await);
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap()
}

async fn refresh(srv: &TestServer, reg: &Registered, rt: &str) -> reqwest::Response {
    srv.post_form(
        "/token",
        Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

async fn rp_initiated_logout_ends_the_session_and_its_tokens(db: Db) {
    let srv = server(db, |_| {}).await;
    let reg = rp(&srv, json!({})).await;
    let mut b = Browser::new(&srv.base);
    let t = tokens_for(&srv, &reg, &mut b, &[]).await;
    assert!(signed_in(&mut b).await);
    let p = end_with(&mut b, str_of(&t, "id_token"), "s-1").await;
    assert_logged_out_to_bye(&mut b, &p, "s-1").await;
    // The session's tokens ended with it (refresh tokens too, Janssen's default).
    assert_eq!(srv.userinfo(str_of(&t, "access_token")).await.status(), 401);
    let r = refresh(&srv, &reg, str_of(&t, "refresh_token")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // The browser must log in again.
    let (_, ch) = pkce();
    let p = b
        .get(&authorize_url(&reg, &ch, &[("prompt", "none")]))
        .await;
    assert_eq!(
        response_params(&p.location.unwrap())["error"],
        "login_required"
    );
    // A repeated request (nothing left to end) still goes back to the RP.
    let p = end_with(&mut b, str_of(&t, "id_token"), "s-2").await;
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{BYE}?state=s-2").as_str())
    );
    // POST works the same way.
    let t = tokens_for(&srv, &reg, &mut b, &[]).await;
    let p = b
        .post(
            "/end_session",
            &[
                ("id_token_hint", str_of(&t, "id_token")),
                ("post_logout_redirect_uri", BYE),
                ("state", "s-3"),
            ],
        )
        .await;
    assert_logged_out_to_bye(&mut b, &p, "s-3").await;
    srv.stop().await;
}

async fn discovery_and_confirmation_without_a_hint(db: Db) {
    let srv = server(db, |_| {}).await;
    let doc = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["end_session_endpoint"], srv.url("/end_session"));
    for k in [
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
    ] {
        assert_eq!(doc[k], true, "{k}");
    }
    assert_eq!(doc["session_status_endpoint"], srv.url("/session_status"));
    assert_eq!(doc["active_session_endpoint"], srv.url("/active_session"));
    assert_eq!(
        doc["session_revocation_endpoint"],
        srv.url("/revoke_session")
    );

    let reg = rp(&srv, json!({})).await;
    let mut b = Browser::new(&srv.base);
    tokens_for(&srv, &reg, &mut b, &[]).await;
    // No hint: a bare GET (as a cross-site link would send) only asks.
    let ask = b
        .get(&end_session(&[
            ("client_id", &reg.client.client_id),
            ("post_logout_redirect_uri", BYE),
            ("state", "st"),
        ]))
        .await;
    assert_eq!(ask.status, 200);
    let confirm = ask.field("confirm").expect("a confirmation form");
    assert!(signed_in(&mut b).await);
    // A forged confirmation asks again.
    let again = b
        .post(
            "/end_session",
            &[("client_id", &reg.client.client_id), ("confirm", "forged")],
        )
        .await;
    assert_eq!(again.status, 200);
    assert!(again.field("confirm").is_some());
    assert!(signed_in(&mut b).await);
    // The user confirms: the form carries the request back.
    let fields =
        ["client_id", "post_logout_redirect_uri", "state"].map(|k| (k, ask.field(k).unwrap()));
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.push(("confirm", &confirm));
    let done = b.post("/end_session", &form).await;
    assert_logged_out_to_bye(&mut b, &done, "st").await;
    // With no session there is nothing to confirm: the signed-out page.
    let p = b.get("/end_session").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("id=\"signed-out\""));
    assert!(p.field("confirm").is_none());
    srv.stop().await;
}

async fn force_id_token_hint_presence_on_and_off(db: Db) {
    for on in [false, true] {
        let srv = server(db, |s| s.logout.force_id_token_hint_presence = on).await;
        let reg = rp(&srv, json!({})).await;
        let mut b = Browser::new(&srv.base);
        let t = tokens_for(&srv, &reg, &mut b, &[]).await;
        let p = b.get("/end_session").await;
        if on {
            assert_refused(&mut b, &p).await;
        } else {
            assert_eq!(p.status, 200);
            assert!(p.field("confirm").is_some());
        }
        // With the hint it goes through either way.
        let p = end_with(&mut b, str_of(&t, "id_token"), "x").await;
        assert_logged_out_to_bye(&mut b, &p, "x").await;
        srv.stop().await;
    }
}

async fn expired_hint_on_and_off(db: Db) {
    for reject in [false, true] {
        let srv = server(db, |s| {
            s.tokens.id_token_lifetime = 60;
            s.logout.reject_if_id_token_expired = reject;
        })
        .await;
        let reg = rp(&srv, json!({})).await;
        let mut b = Browser::new(&srv.base);
        let t = tokens_for(&srv, &reg, &mut b, &[]).await;
        srv.clock.advance(120);
        let p = end_with(&mut b, str_of(&t, "id_token"), "e").await;
        if reject {
            assert_refused(&mut b, &p).await;
        } else {
            assert_logged_out_to_bye(&mut b, &p, "e").await;
        }
        srv.stop().await;
    }
}

async fn unmatched_sid_on_and_off(db: Db) {
    for allow in [false, true] {
        let srv = server(db, |s| s.logout.allow_unmatched_sid = allow).await;
        let reg = rp(&srv, json!({})).await;
        let mut b = Browser::new(&srv.base);
        let first = tokens_for(&srv, &reg, &mut b, &[]).await;
        // A new login rotates the session: the first ID token names a session that is gone.
        let second = tokens_for(&srv, &reg, &mut b, &[("prompt", "login")]).await;
        let (_, c1) = tessera_tests::jwt_parts(str_of(&first, "id_token"));
        let (_, c2) = tessera_tests::jwt_parts(str_of(&second, "id_token"));
        assert_ne!(c1["sid"], c2["sid"]);
        let p = end_with(&mut b, str_of(&first, "id_token"), "u").await;
        if allow {
            assert_logged_out_to_bye(&mut b, &p, "u").await;
        } else {
            assert_refused(&mut b, &p).await;
        }
        srv.stop().await;
    }
}

async fn access_token_hint_on_and_off(db: Db) {
    for on in [false, true] {
        let srv = server(db, |s| s.logout.with_access_token = on).await;
        let reg = rp(&srv, json!({})).await;
        let mut b = Browser::new(&srv.base);
        let t = tokens_for(&srv, &reg, &mut b, &[]).await;
        let p = end_with(&mut b, str_of(&t, "access_token"), "a").await;
        if on {
            assert_logged_out_to_bye(&mut b, &p, "a").await;
        } else {
            assert_refused(&mut b, &p).await;
        }
        srv.stop().await;
    }
}

async fn post_logout_redirect_validation_on_and_off(db: Db) {
    const ELSEWHERE: &str = "https://elsewhere.example/bye";
    for on in [false, true] {
        let srv = server(db, |s| {
            s.logout.allow_post_logout_redirect_without_validation = on;
            s.logout.post_logout_redirect_allow_list =
                vec![r"https://elsewhere\.example/.*".into()];
        })
        .await;
        let reg = rp(&srv, json!({})).await;
        let mut b = Browser::new(&srv.base);
        let t = tokens_for(&srv, &reg, &mut b, &[]).await;
        let hint = str_of(&t, "id_token");
        // Not registered and not on the allow-list: refused whatever the property says.
        let p = b
            .get(&end_session(&[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", "https://attacker.example/bye"),
            ]))
            .await;
        assert_refused(&mut b, &p).await;
        // A redirect with no RP named at all.
        let p = b
            .get(&end_session(&[("post_logout_redirect_uri", BYE)]))
            .await;
        assert_refused(&mut b, &p).await;
        // Not registered, on the allow-list: only with the property.
        let p = b
            .get(&end_session(&[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", ELSEWHERE),
                ("state", "w"),
            ]))
            .await;
        if on {
            assert_eq!(p.status, 302);
            assert_eq!(
                p.location.as_deref(),
                Some(format!("{ELSEWHERE}?state=w").as_str())
            );
            assert!(!signed_in(&mut b).await);
        } else {
            assert_refused(&mut b, &p).await;
        }
        srv.stop().await;
    }
}

async fn foreign_and_mismatched_hints_are_refused(db: Db) {
    let srv = server(db, |_| {}).await;
    let reg = rp(&srv, json!({})).await;
    let other = rp(&srv, json!({})).await;
    let mut b = Browser::new(&srv.base);
    let t = tokens_for(&srv, &reg, &mut b, &[]).await;
    let (_, claims) = tessera_tests::jwt_parts(str_of(&t, "id_token"));
    // Signed by another issuer's key.
    let key = tessera_tests::EcKey::generate();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = key.jwk["kid"].as_str().map(str::to_string);
    let mut forged = claims.clone();
    forged["iss"] = json!("https://other-op.example");
    let foreign = jsonwebtoken::encode(
        &h,
        &forged,
        &jsonwebtoken::EncodingKey::from_ec_der(&key.pkcs8),
    )
    .unwrap();
    // Signed with our key but naming another issuer.
    let ours = srv.state.keys().load();
    let signer = ours.signer(tessera::crypto::SigningAlg::Es256).unwrap();
    let other_iss = tessera::crypto::jwt::sign(signer, "JWT", &forged).unwrap();
    // A logout token is no ID token.
    let mut lt = claims.clone();
    lt["events"] = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    let logout_token = tessera::crypto::jwt::sign(signer, "logout+jwt", &lt).unwrap();
    for hint in [foreign.as_str(), &other_iss, &logout_token, "not-a-jwt"] {
        let p = b
            .get(&end_session(&[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", BYE),
            ]))
            .await;
        assert_refused(&mut b, &p).await;
    }
    // client_id must be the hint's audience.
    let p = b
        .get(&end_session(&[
            ("id_token_hint", str_of(&t, "id_token")),
            ("client_id", &other.client.client_id),
        ]))
        .await;
    assert_refused(&mut b, &p).await;
    // An unknown client_id.
    let p = b.get(&end_session(&[("client_id", "nobody")])).await;
    assert_refused(&mut b, &p).await;
    srv.stop().await;
}

async fn front_and_back_channel_logout(db: Db) {
    let srv = server(db, |_| {}).await;
    let front = RecordingRp::start().await;
    let back = RecordingRp::start().await;
    let c_front = rp(
        &srv,
        json!({
            "frontchannel_logout_uri": front.url("/frontchannel"),
            "frontchannel_logout_session_required": true,
        }),
    )
    .await;
    // Both kinds registered: told through the back channel only.
    let c_back = rp(
        &srv,
        json!({
            "backchannel_logout_uri": back.url("/backchannel"),
            "backchannel_logout_session_required": true,
            "frontchannel_logout_uri": back.url("/frontchannel"),
        }),
    )
    .await;
    let c_down = rp(
        &srv,
        json!({"backchannel_logout_uri": back.url("/backchannel-fail")}),
    )
    .await;
    let mut b = Browser::new(&srv.base);
    let t_front = tokens_for(&srv, &c_front, &mut b, &[]).await;
    let t_back = tokens_for(&srv, &c_back, &mut b, &[]).await;
    tokens_for(&srv, &c_down, &mut b, &[]).await;
    let (_, claims) = tessera_tests::jwt_parts(str_of(&t_front, "id_token"));
    let sid = claims["sid"].as_str().unwrap().to_string();
    let user_id = claims["sub"].as_str().unwrap().to_string();

    let p = end_with(&mut b, str_of(&t_front, "id_token"), "fb").await;
    assert_eq!(p.status, 200, "iframes to load: a page, not a redirect");
    let mut expected = url::Url::parse(&front.url("/frontchannel")).unwrap();
    expected
        .query_pairs_mut()
        .append_pair("iss", &srv.base)
        .append_pair("sid", &sid);
    let iframe = format!(
        "<iframe hidden src=\"{}\"",
        expected.as_str().replace('&', "&amp;")
    );
    assert!(p.body.contains(&iframe), "{}", p.body);
    assert_eq!(p.body.matches("<iframe").count(), 1, "{}", p.body);
    assert!(p.body.contains(&format!("href=\"{BYE}?state=fb\"")));
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains(&format!("frame-src {}", front.base)), "{csp}");
    assert!(csp.contains("script-src 'nonce-"), "{csp}");
    assert!(!b.cookies.contains_key("tessera_session"));

    // The back-channel RP got a logout token it can verify; the one that is down is counted.
    let tokens = back.wait_backchannel(1).await;
    assert_eq!(tokens.len(), 1);
    let lt = verify_logout_token(&srv, &tokens[0], &c_back.client.client_id).await;
    assert_eq!(lt["sid"], sid.as_str());
    assert_eq!(lt["sub"], user_id.as_str());
    assert!(back.frontchannel().is_empty());
    assert_eq!(srv.state.logout_stats().delivered(), 1);
    assert_eq!(srv.state.logout_stats().failed(), 1);
    // Every RP's tokens of the session ended.
    assert_eq!(
        srv.userinfo(str_of(&t_back, "access_token")).await.status(),
        401
    );
    assert_eq!(
        refresh(&srv, &c_back, str_of(&t_back, "refresh_token"))
            .await
            .status(),
        400
    );
    srv.stop().await;
}

async fn refresh_tokens_survive_logout_when_configured(db: Db) {
    let srv = server(db, |s| {
        s.logout.remove_refresh_tokens_for_client_on_logout = false;
    })
    .await;
    let reg = rp(&srv, json!({})).await;
    let mut b = Browser::new(&srv.base);
    let t = tokens_for(&srv, &reg, &mut b, &[]).await;
    let p = end_with(&mut b, str_of(&t, "id_token"), "r").await;
    assert_logged_out_to_bye(&mut b, &p, "r").await;
    assert_eq!(srv.userinfo(str_of(&t, "access_token")).await.status(), 401);
    let r = refresh(&srv, &reg, str_of(&t, "refresh_token")).await;
    assert_eq!(
        r.status(),
        200,
        "offline access outlives the browser session"
    );
    srv.stop().await;
}

async fn session_endpoints(db: Db) {
    let srv = server(db, |_| {}).await;
    tessera::admin::scopes::create(
        srv.state.store(),
        json!({"id": "active_session", "scope_type": "oauth", "description": "Your sessions"}),
        srv.state.now(),
    )
    .await
    .unwrap();
    let reg = rp(
        &srv,
        json!({"scope": "openid profile email offline_access active_session"}),
    )
    .await;
    let mut b = Browser::new(&srv.base);
    assert!(!signed_in(&mut b).await);
    let t = tokens_for(&srv, &reg, &mut b, &[]).await;
    let status: Value = serde_json::from_str(&b.get("/session_status").await.body).unwrap();
    let (_, claims) = tessera_tests::jwt_parts(str_of(&t, "id_token"));
    assert_eq!(status["sid"], claims["sid"]);
    assert!(status["auth_time"].is_i64());
    // A second browser of the same user.
    let mut b2 = Browser::new(&srv.base);
    let t2 = tokens_for(&srv, &reg, &mut b2, &[("scope", "openid active_session")]).await;

    // Active sessions, for the browser's own session ...
    let p = b.get("/active_session").await;
    assert_eq!(p.status, 200);
    let list: Value = serde_json::from_str(&p.body).unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["sid"], claims["sid"]);
    assert_eq!(current[0]["clients"], json!([reg.client.client_id]));
    // ... or for a bearer token carrying the scope.
    let r = srv
        .http
        .get(srv.url("/active_session"))
        .bearer_auth(str_of(&t2, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = srv
        .http
        .get(srv.url("/active_session"))
        .bearer_auth(str_of(&t, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no active_session scope");
    assert!(tessera_tests::challenge(&r).contains("insufficient_scope"));
    let r = srv
        .http
        .get(srv.url("/active_session"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Revoking a user's sessions needs the revoke_session scope.
    let plain = srv.cc_client("client_secret_basic", false).await;
    let admin = srv
        .client(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "revoke_session",
        }))
        .await;
    let basic = |r: &Registered| (r.client.client_id.clone(), r.secret.clone().unwrap());
    let (id, secret) = basic(&plain);
    let form = [
        ("user_criterion_key", "uid"),
        ("user_criterion_value", "alice"),
    ];
    let r = srv
        .post_form("/revoke_session", Some((&id, &secret)), &form)
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    assert!(signed_in(&mut b).await);
    let (id, secret) = basic(&admin);
    for bad in [
        vec![("user_criterion_key", "uid")],
        vec![
            ("user_criterion_key", "shoe_size"),
            ("user_criterion_value", "9"),
        ],
    ] {
        let r = srv
            .post_form("/revoke_session", Some((&id, &secret)), &bad)
            .await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    }
    let r = srv
        .post_form("/revoke_session", Some((&id, "wrong")), &form)
        .await;
    assert_eq!(r.status(), 401);
    let r = srv
        .post_form("/revoke_session", Some((&id, &secret)), &form)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(!signed_in(&mut b).await);
    assert!(!signed_in(&mut b2).await);
    assert_eq!(
        srv.userinfo(str_of(&t2, "access_token")).await.status(),
        401
    );
    srv.stop().await;
}

async fn malformed_requests_get_an_error_page_never_a_500(db: Db) {
    let srv = server(db, |_| {}).await;
    let reg = rp(&srv, json!({})).await;
    let mut b = Browser::new(&srv.base);
    let t = tokens_for(&srv, &reg, &mut b, &[]).await;
    let hint = str_of(&t, "id_token").to_string();
    let long = "x".repeat(3000);
    let garbage_hint = "A".repeat(60_000);
    for (what, query) in [
        ("repeated state", "state=a&state=b".to_string()),
        ("invalid UTF-8", "state=%FF".to_string()),
        ("oversized state", format!("state={long}")),
        ("hint of three dots", "id_token_hint=a.b.c".to_string()),
        (
            "unsigned hint",
            "id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_string(),
        ),
        ("huge garbage hint", format!("id_token_hint={garbage_hint}")),
    ] {
        let p = b.get(&format!("/end_session?{query}")).await;
        assert_eq!(p.status, 400, "{what}: {}", p.body);
        assert_eq!(p.error_code().as_deref(), Some("invalid_request"), "{what}");
        assert!(p.location.is_none(), "{what}");
    }
    let r = srv
        .http
        .post(srv.url("/end_session"))
        .header("content-type", "text/plain")
        .body("id_token_hint=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(signed_in(&mut b).await);

    // Mutations of a valid request, from a browser with no session: a page, a redirect or a
    // refusal, never a server error.
    let seed = format!(
        "id_token_hint={hint}&client_id={}&post_logout_redirect_uri={}&state=st&logout_hint=alice&ui_locales=en",
        reg.client.client_id,
        url::form_urlencoded::byte_serialize(BYE.as_bytes()).collect::<String>()
    );
    let mut rng = tessera_tests::fuzz::Rng::new(12);
    let mut stranger = Browser::new(&srv.base);
    for _ in 0..300 {
        let q = tessera_tests::fuzz::mutate(&mut rng, seed.as_bytes());
        let q: String = url::form_urlencoded::byte_serialize(&q)
            .collect::<String>()
            .replace("%26", "&")
            .replace("%3D", "=");
        let p = stranger.get(&format!("/end_session?{q}")).await;
        assert!(
            matches!(p.status, 200 | 302 | 400),
            "{q}: {} {}",
            p.status,
            p.body
        );
    }
    srv.stop().await;
}

on_both_backends!(
    rp_initiated_logout_ends_the_session_and_its_tokens,
    discovery_and_confirmation_without_a_hint,
    force_id_token_hint_presence_on_and_off,
    expired_hint_on_and_off,
    unmatched_sid_on_and_off,
    access_token_hint_on_and_off,
    post_logout_redirect_validation_on_and_off,
    foreign_and_mismatched_hints_are_refused,
    front_and_back_channel_logout,
    refresh_tokens_survive_logout_when_configured,
    session_endpoints,
    malformed_requests_get_an_error_page_never_a_500,
);
