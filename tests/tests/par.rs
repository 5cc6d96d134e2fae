//! Pushed authorization requests (RFC 9126) on SQLite and PostgreSQL: push, then sign in with
//! `client_id` + `request_uri` only; one-time and expiring request URIs; clients and servers
//! that require PAR; the endpoint's errors; the PAR flag; public clients' live requests bounded
//! per address.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::config::FeatureFlag;
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, REDIRECT, exchange, pkce, response_params, sign_in};
use tessera_tests::{Db, TestServer, jwt_parts, oauth_error, on_both_backends};

const URN: &str = "urn:ietf:params:oauth:request_uri:";

/// The authorization request of the test web client, without `client_id`.
fn request(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid profile".into()),
        ("state", "st-par".into()),
        ("nonce", "n-par".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

/// POSTs `params` to `/par`.
async fn post_par(
    srv: &TestServer,
    params: &[(&str, String)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    srv.post_form("/par", basic, &form).await
}

/// Pushes `params` for `reg` (Basic for a confidential client, `client_id` for a public one).
async fn push(srv: &TestServer, reg: &Registered, params: &[(&str, String)]) -> reqwest::Response {
    match reg.secret.as_deref() {
        Some(secret) => post_par(srv, params, Some((&reg.client.client_id, secret))).await,
        None => {
            let mut params = params.to_vec();
            params.push(("client_id", reg.client.client_id.clone()));
            post_par(srv, &params, None).await
        }
    }
}

/// Pushes and returns the `request_uri`, checking the 201 answer.
async fn pushed_uri(srv: &TestServer, reg: &Registered, params: &[(&str, String)]) -> String {
    let resp = push(srv, reg, params).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    let uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with(URN), "{uri}");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    uri
}

fn authorize_by_reference(client_id: &str, request_uri: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri)
        .finish();
    format!("/authorize?{q}")
}

/// The `error` of a JSON error answer with `status`.
async fn pushed_request_signs_in_once(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let reg = srv.web_client(json!({})).await;
    let meta = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        srv.url("/par")
    );
    assert_eq!(meta["require_pushed_authorization_requests"], false);

    let (verifier, challenge) = pkce();
    let uri = pushed_uri(&srv, &reg, &request(&challenge)).await;
    // Only client_id and request_uri travel through the browser; a parameter added there is
    // ignored (RFC 9126 §4), the pushed one counts.
    let url = format!(
        "{}&scope=openid+email&state=forged",
        authorize_by_reference(&reg.client.client_id, &uri)
    );
    let mut b = Browser::new(&srv.base);
    let params = sign_in(&mut b, &url, "alice").await;
    assert_eq!(params["state"], "st-par");
    let resp = exchange(&srv, &reg, &params["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid profile");
    let (_, id) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n-par");

    // Used once: the same request_uri again is an error page, never a redirect.
    let again = b
        .get(&authorize_by_reference(&reg.client.client_id, &uri))
        .await;
    assert_eq!(again.status, 400);
    assert!(again.location.is_none());
    assert_eq!(again.error_code().as_deref(), Some("invalid_request_uri"));

    // Another client cannot use a request pushed by this one (and it is spent).
    let other = srv.web_client(json!({})).await;
    let uri = pushed_uri(&srv, &reg, &request(&challenge)).await;
    let p = b
        .get(&authorize_by_reference(&other.client.client_id, &uri))
        .await;
    assert_eq!(p.error_code().as_deref(), Some("invalid_request_uri"));
    let p = b
        .get(&authorize_by_reference(&reg.client.client_id, &uri))
        .await;
    assert_eq!(p.error_code().as_deref(), Some("invalid_request_uri"));

    // request_uri without client_id (§4), and an unknown one.
    let uri = pushed_uri(&srv, &reg, &request(&challenge)).await;
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("request_uri", &uri)
        .finish();
    let p = b.get(&format!("/authorize?{q}")).await;
    assert_eq!(p.status, 400);
    assert_eq!(p.error_code().as_deref(), Some("invalid_request"));
    let p = b
        .get(&authorize_by_reference(
            &reg.client.client_id,
            &format!("{URN}nope"),
        ))
        .await;
    assert_eq!(p.error_code().as_deref(), Some("invalid_request_uri"));
    srv.stop().await;
}

async fn request_uri_expires(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    // The server's lifetime (60 s) unless the client sets its own.
    let reg = srv.web_client(json!({})).await;
    let short = srv.web_client(json!({"par_lifetime": 5})).await;
    let (_, challenge) = pkce();
    let resp = push(&srv, &short, &request(&challenge)).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 5);

    let mut b = Browser::new(&srv.base);
    let uri = pushed_uri(&srv, &reg, &request(&challenge)).await;
    srv.clock.advance(61);
    let p = b
        .get(&authorize_by_reference(&reg.client.client_id, &uri))
        .await;
    assert_eq!(p.status, 400);
    assert_eq!(p.error_code().as_deref(), Some("invalid_request_uri"));

    let uri = pushed_uri(&srv, &reg, &request(&challenge)).await;
    srv.clock.advance(59);
    let params = sign_in(
        &mut b,
        &authorize_by_reference(&reg.client.client_id, &uri),
        "alice",
    )
    .await;
    assert!(params.contains_key("code"), "{params:?}");
    srv.stop().await;
}

async fn clients_and_servers_that_require_par(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let strict = srv
        .web_client(json!({"require_pushed_authorization_requests": true}))
        .await;
    let (verifier, challenge) = pkce();
    let mut direct = url::form_urlencoded::Serializer::new(String::new());
    direct.append_pair("client_id", &strict.client.client_id);
    for (k, v) in request(&challenge) {
        direct.append_pair(k, &v);
    }
    let direct = format!("/authorize?{}", direct.finish());
    let mut b = Browser::new(&srv.base);
    // Not pushed: the client's redirect URI is trusted, so the error goes back to it.
    let p = b.get(&direct).await;
    let loc = p.location.clone().unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let params = response_params(&loc);
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["state"], "st-par");
    // Pushed: fine. A public client pushes with its client_id and PKCE.
    let uri = pushed_uri(&srv, &strict, &request(&challenge)).await;
    let params = sign_in(
        &mut b,
        &authorize_by_reference(&strict.client.client_id, &uri),
        "alice",
    )
    .await;
    let resp = exchange(&srv, &strict, &params["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    let public = srv
        .web_client(json!({"token_endpoint_auth_method": "none"}))
        .await;
    pushed_uri(&srv, &public, &request(&challenge)).await;
    srv.stop().await;

    // The server property: every client must push; discovery says so.
    let srv = TestServer::start_with(db, |s| {
        s.authorize.require_pushed_authorization_requests = true;
    })
    .await;
    let reg = srv.web_client(json!({})).await;
    let meta = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    let direct = direct.replace(&strict.client.client_id, &reg.client.client_id);
    let p = Browser::new(&srv.base).get(&direct).await;
    let params = response_params(&p.location.unwrap());
    assert_eq!(params["error"], "invalid_request");
    srv.stop().await;
}

async fn par_endpoint_errors(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = srv.web_client(json!({})).await;
    let (_, challenge) = pkce();
    let id = reg.client.client_id.as_str();
    let secret = reg.secret.as_deref().unwrap();
    let form = |extra: &[(&'static str, &str)]| {
        let mut f = request(&challenge);
        for (k, v) in extra {
            f.retain(|(key, _)| key != k);
            f.push((k, v.to_string()));
        }
        f
    };
    // Client authentication as at the token endpoint.
    let resp = post_par(&srv, &form(&[]), Some((id, "wrong"))).await;
    assert_eq!(oauth_error(resp, 401).await, "invalid_client");
    let resp = post_par(&srv, &form(&[("client_id", id)]), None).await;
    assert_eq!(oauth_error(resp, 401).await, "invalid_client");
    // Another client's client_id beside Basic credentials; a request_uri inside a pushed request.
    let resp = post_par(
        &srv,
        &form(&[("client_id", "someone-else")]),
        Some((id, secret)),
    )
    .await;
    assert_eq!(oauth_error(resp, 401).await, "invalid_client");
    let resp = post_par(
        &srv,
        &form(&[("request_uri", &format!("{URN}x"))]),
        Some((id, secret)),
    )
    .await;
    assert_eq!(oauth_error(resp, 400).await, "invalid_request");
    // The authorization request's own checks, as JSON errors.
    for (extra, code) in [
        (
            vec![("redirect_uri", "https://evil.example/cb")],
            "invalid_request",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("request", "eyJ.e30.")], "invalid_request_object"),
        (vec![("prompt", "none login")], "invalid_request"),
    ] {
        let resp = post_par(&srv, &form(&extra), Some((id, secret))).await;
        assert_eq!(oauth_error(resp, 400).await, code, "{extra:?}");
    }
    // client_secret_post works as well as Basic.
    let resp = post_par(
        &srv,
        &form(&[("client_secret", secret), ("client_id", id)]),
        None,
    )
    .await;
    assert_eq!(resp.status(), 201);

    // Flag off: 403 feature_disabled, gone from discovery, and /authorize treats a
    // request_uri as unsupported.
    srv.state.set_feature(FeatureFlag::Par, false);
    let resp = post_par(&srv, &form(&[]), Some((id, secret))).await;
    assert_eq!(oauth_error(resp, 403).await, "feature_disabled");
    let meta = srv.get_json("/.well-known/openid-configuration").await;
    assert!(meta.get("pushed_authorization_request_endpoint").is_none());
    let p = Browser::new(&srv.base)
        .get(&format!(
            "{}&response_type=code&redirect_uri={}",
            authorize_by_reference(id, &format!("{URN}x")),
            REDIRECT
        ))
        .await;
    let params = response_params(&p.location.unwrap());
    assert_eq!(params["error"], "request_uri_not_supported");
    srv.stop().await;
}

async fn public_clients_are_bounded_per_address(db: Db) {
    let srv = TestServer::start_with(db, |s| s.authorize.max_pending_per_ip = 3).await;
    let public = srv
        .web_client(json!({"token_endpoint_auth_method": "none"}))
        .await;
    let confidential = srv.web_client(json!({})).await;
    let (_, challenge) = pkce();
    for _ in 0..3 {
        pushed_uri(&srv, &public, &request(&challenge)).await;
    }
    let resp = push(&srv, &public, &request(&challenge)).await;
    assert_eq!(oauth_error(resp, 429).await, "invalid_request");
    // A confidential client pushes for all its users from its own servers: no such bound.
    for _ in 0..5 {
        pushed_uri(&srv, &confidential, &request(&challenge)).await;
    }
    // Expired requests no longer count.
    srv.clock.advance(61);
    pushed_uri(&srv, &public, &request(&challenge)).await;
    srv.stop().await;
}

async fn private_key_jwt_client_pushes(db: Db) {
    // The client assertion authenticates the push; it is not an authorization request
    // parameter, so the per-parameter bound does not apply to it (an ES256 assertion is about
    // 400 bytes) and it is not stored with the request.
    let srv = TestServer::start_with(db, |s| s.authorize.max_param_bytes = 300).await;
    srv.user("alice", json!({})).await;
    let key = tessera_tests::EcKey::generate();
    let reg = srv
        .web_client(json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.jwk.clone()]},
        }))
        .await;
    let id = reg.client.client_id.clone();
    let assertion = key.assertion(&id, &srv.url("/par"), srv.state.now());
    assert!(assertion.len() > 300);
    let (_, challenge) = pkce();
    let mut params = request(&challenge);
    params.extend([
        ("client_id", id.clone()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion", assertion),
    ]);
    let resp = post_par(&srv, &params, None).await;
    assert_eq!(resp.status(), 201);
    let uri = resp.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let params = sign_in(
        &mut Browser::new(&srv.base),
        &authorize_by_reference(&id, &uri),
        "alice",
    )
    .await;
    assert!(params.contains_key("code"), "{params:?}");
    srv.stop().await;
}

on_both_backends!(
    pushed_request_signs_in_once,
    request_uri_expires,
    clients_and_servers_that_require_par,
    par_endpoint_errors,
    public_clients_are_bounded_per_address,
    private_key_jwt_client_pushes,
);
