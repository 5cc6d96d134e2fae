//! DPoP (RFC 9449) on SQLite and PostgreSQL through HTTP: bound tokens from every grant
//! (`token_type` `DPoP`, `cnf.jkt` in the JWT and in introspection), each proof check refusing
//! (method, URI, age, type, algorithm, private key, two headers, replay), userinfo with the
//! `DPoP` scheme and `ath`, a bound token refused as a bearer token and with another key, public
//! clients' refresh tokens bound to their key, a client that requires DPoP, server nonces at the
//! token endpoint and at userinfo, and DPoP switched off.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, REDIRECT, authorize_url, pkce, sign_in};
use tessera_tests::{Db, EcKey, ProofClaims, TestServer, challenge, jwt_parts, on_both_backends};

/// POSTs a client_credentials request as `reg` with the given `DPoP` header values.
async fn cc(srv: &TestServer, reg: &Registered, proofs: &[&str]) -> reqwest::Response {
    let mut req = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&reg.client.client_id, reg.secret.as_deref())
        .form(&[("grant_type", "client_credentials")]);
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    req.send().await.unwrap()
}

fn token_proof(srv: &TestServer, key: &EcKey) -> String {
    key.dpop_proof(&ProofClaims::new(
        "POST",
        srv.url("/token"),
        srv.state.now(),
    ))
}

async fn error_of(resp: reqwest::Response) -> String {
    tessera_tests::oauth_error(resp, 400).await
}

async fn userinfo_dpop(srv: &TestServer, token: &str, proof: &str) -> reqwest::Response {
    srv.http
        .get(srv.url("/userinfo"))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap()
}

async fn client_credentials_tokens_are_bound_and_every_proof_check_refuses(db: Db) {
    let srv = TestServer::start(db).await;
    let key = EcKey::generate();
    let reg = srv.cc_client("client_secret_basic", true).await;

    let resp = cc(&srv, &reg, &[&token_proof(&srv, &key)]).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let at = body["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(at);
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    let intro = srv.introspect(&reg, at).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["token_type"], "DPoP");
    assert_eq!(intro["cnf"]["jkt"], key.thumbprint());
    // Without a proof: an ordinary bearer token, no cnf.
    let plain = srv.token(&reg, &[]).await;
    assert_eq!(plain["token_type"], "Bearer");
    assert!(
        jwt_parts(plain["access_token"].as_str().unwrap())
            .1
            .get("cnf")
            .is_none()
    );

    // The same proof twice: the second is a replay.
    let proof = token_proof(&srv, &key);
    assert_eq!(cc(&srv, &reg, &[&proof]).await.status(), 200);
    assert_eq!(
        error_of(cc(&srv, &reg, &[&proof]).await).await,
        "invalid_dpop_proof"
    );

    let now = srv.state.now();
    let with = |f: &dyn Fn(&mut ProofClaims)| {
        let mut c = ProofClaims::new("POST", srv.url("/token"), now);
        f(&mut c);
        key.dpop_proof(&c)
    };
    let refused = [
        ("wrong htm", with(&|c| c.htm = "GET")),
        ("wrong htu", with(&|c| c.htu = srv.url("/userinfo"))),
        (
            "other host",
            with(&|c| c.htu = "https://elsewhere.example/token".into()),
        ),
        ("too old", with(&|c| c.iat = now - 120)),
        ("from the future", with(&|c| c.iat = now + 120)),
        ("empty jti", with(&|c| c.jti = String::new())),
        ("not a JWT", "abc".to_string()),
        (
            "wrong typ",
            resigned(&key, &with(&|_| {}), json!({"typ": "JWT"})),
        ),
        (
            "alg none",
            resigned(&key, &with(&|_| {}), json!({"alg": "none"})),
        ),
        (
            "HS256",
            resigned(&key, &with(&|_| {}), json!({"alg": "HS256"})),
        ),
        (
            "no jwk",
            resigned(&key, &with(&|_| {}), json!({"jwk": null})),
        ),
        ("private jwk", with_private_jwk(&key, &with(&|_| {}))),
        ("bad signature", tampered(&with(&|_| {}))),
    ];
    for (what, proof) in &refused {
        let resp = cc(&srv, &reg, &[proof]).await;
        assert_eq!(error_of(resp).await, "invalid_dpop_proof", "{what}");
    }
    // The re-signing above is sound: unchanged, it is accepted.
    let same = resigned(&key, &with(&|c| c.jti = "resigned".into()), json!({}));
    assert_eq!(cc(&srv, &reg, &[&same]).await.status(), 200);
    let (a, b) = (token_proof(&srv, &key), token_proof(&srv, &key));
    assert_eq!(
        error_of(cc(&srv, &reg, &[&a, &b]).await).await,
        "invalid_dpop_proof"
    );

    // A client registered to always use DPoP: no proof, no token.
    let strict = srv
        .client(json!({"grant_types": ["client_credentials"], "dpop_bound_access_tokens": true}))
        .await;
    assert_eq!(
        error_of(cc(&srv, &strict, &[]).await).await,
        "invalid_request"
    );
    assert_eq!(
        cc(&srv, &strict, &[&token_proof(&srv, &key)])
            .await
            .status(),
        200
    );
    srv.stop().await;
}

/// `proof` with header members replaced (null removes), signed again with `key` (ES256), so
/// that only the changed member can be why it is refused.
fn resigned(key: &EcKey, proof: &str, changes: Value) -> String {
    let mut parts = proof.split('.');
    let mut header: Value = serde_json::from_slice(&b64d(parts.next().unwrap())).unwrap();
    let claims = parts.next().unwrap();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            header.as_object_mut().unwrap().remove(k);
        } else {
            header[k] = v.clone();
        }
    }
    let input = format!("{}.{claims}", b64e(header.to_string().as_bytes()));
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &key.pkcs8,
    )
    .unwrap();
    let sig = pair
        .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
        .unwrap();
    format!("{input}.{}", b64e(sig.as_ref()))
}

/// `proof` whose header JWK also carries a private member.
fn with_private_jwk(key: &EcKey, proof: &str) -> String {
    let mut jwk = key.jwk.clone();
    jwk["d"] = json!("AAAA");
    resigned(key, proof, json!({ "jwk": jwk }))
}

/// `proof` with its signature's first byte changed.
fn tampered(proof: &str) -> String {
    let (rest, sig) = proof.rsplit_once('.').unwrap();
    let mut raw = b64d(sig);
    raw[0] ^= 1;
    format!("{rest}.{}", b64e(&raw))
}

fn b64d(s: &str) -> Vec<u8> {
    tessera::crypto::secrets::b64url_decode(s).unwrap()
}

fn b64e(b: &[u8]) -> String {
    tessera::crypto::secrets::b64url(b)
}

/// A public client's code flow with a proof at the token endpoint; returns the token response.
async fn dpop_sign_in(srv: &TestServer, reg: &Registered, key: &EcKey) -> Value {
    let mut b = Browser::new(&srv.base);
    let (verifier, challenge) = pkce();
    let params = sign_in(&mut b, &authorize_url(reg, &challenge, &[]), "alice").await;
    let resp = srv
        .http
        .post(srv.url("/token"))
        .header("DPoP", token_proof(srv, key))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", reg.client.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn refresh(
    srv: &TestServer,
    reg: &Registered,
    rt: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = srv.http.post(srv.url("/token")).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", reg.client.client_id.as_str()),
    ]);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

async fn userinfo_and_public_refresh_tokens_need_the_key(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let reg = srv
        .web_client(json!({"token_endpoint_auth_method": "none"}))
        .await;
    let key = EcKey::generate();
    let other = EcKey::generate();
    let tokens = dpop_sign_in(&srv, &reg, &key).await;
    assert_eq!(tokens["token_type"], "DPoP");
    let at = tokens["access_token"].as_str().unwrap();
    let now = srv.state.now();
    let userinfo_proof = |k: &EcKey, token: Option<&str>| {
        let mut c = ProofClaims::new("GET", srv.url("/userinfo"), now);
        c.access_token = token;
        k.dpop_proof(&c)
    };

    // The DPoP scheme with a proof by the key, carrying the token's hash: the user's claims.
    let resp = userinfo_dpop(&srv, at, &userinfo_proof(&key, Some(at))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["email"],
        "alice@example.com"
    );
    // As a bearer token (stolen, no key): refused.
    let resp = srv.userinfo(at).await;
    assert_eq!(resp.status(), 401);
    assert!(challenge(&resp).contains("error=\"invalid_token\""));
    // Another key, no ath, a proof for another URI, no proof at all: refused with DPoP
    // challenges.
    for (what, proof, error) in [
        (
            "other key",
            Some(userinfo_proof(&other, Some(at))),
            "invalid_token",
        ),
        (
            "no ath",
            Some(userinfo_proof(&key, None)),
            "invalid_dpop_proof",
        ),
        (
            "wrong ath",
            Some(userinfo_proof(&key, Some("another"))),
            "invalid_dpop_proof",
        ),
        (
            "token endpoint proof",
            Some(token_proof(&srv, &key)),
            "invalid_dpop_proof",
        ),
        ("no proof", None, "invalid_dpop_proof"),
    ] {
        let mut req = srv
            .http
            .get(srv.url("/userinfo"))
            .header("Authorization", format!("DPoP {at}"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{what}");
        assert_eq!(
            challenge(&resp),
            format!("DPoP error=\"{error}\""),
            "{what}"
        );
    }
    // An unbound token with the DPoP scheme: refused too.
    let plain =
        tessera_tests::browser::tokens_for(&srv, &reg, &mut Browser::new(&srv.base), &[]).await;
    let pat = plain["access_token"].as_str().unwrap();
    let resp = userinfo_dpop(&srv, pat, &userinfo_proof(&key, Some(pat))).await;
    assert_eq!(resp.status(), 401);

    // The public client's refresh token is bound: no proof or another key, invalid_grant.
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        error_of(refresh(&srv, &reg, rt, None).await).await,
        "invalid_grant"
    );
    let resp = refresh(&srv, &reg, rt, Some(&token_proof(&srv, &other))).await;
    assert_eq!(error_of(resp).await, "invalid_grant");
    let resp = refresh(&srv, &reg, rt, Some(&token_proof(&srv, &key))).await;
    assert_eq!(resp.status(), 200);
    let rotated: Value = resp.json().await.unwrap();
    assert_eq!(rotated["token_type"], "DPoP");
    let intro_client = srv.cc_client("client_secret_basic", false).await;
    let intro = srv
        .introspect(&intro_client, rotated["access_token"].as_str().unwrap())
        .await;
    assert_eq!(intro["cnf"]["jkt"], key.thumbprint());
    srv.stop().await;
}

on_both_backends!(
    client_credentials_tokens_are_bound_and_every_proof_check_refuses,
    userinfo_and_public_refresh_tokens_need_the_key,
);

/// Server nonces (`use_dpop_nonce`, RFC 9449 §8) at the token endpoint and at userinfo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_nonces_are_required_when_configured() {
    let srv = TestServer::start_with(Db::Sqlite, |s| s.dpop.use_nonce = true).await;
    srv.user("alice", json!({})).await;
    let key = EcKey::generate();
    let reg = srv.cc_client("client_secret_basic", false).await;

    // No nonce: use_dpop_nonce with one to use.
    let resp = cc(&srv, &reg, &[&token_proof(&srv, &key)]).await;
    let nonce = resp.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_eq!(error_of(resp).await, "use_dpop_nonce");
    let with_nonce = |n: &str| {
        let mut c = ProofClaims::new("POST", srv.url("/token"), srv.state.now());
        c.nonce = Some(n);
        key.dpop_proof(&c)
    };
    let resp = cc(&srv, &reg, &[&with_nonce(&nonce)]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("dpop-nonce"));
    // A made-up nonce, or one from two windows ago: a new nonce is asked for.
    assert_eq!(
        error_of(cc(&srv, &reg, &[&with_nonce("made-up")]).await).await,
        "use_dpop_nonce"
    );
    srv.clock.advance(601);
    let resp = cc(&srv, &reg, &[&with_nonce(&nonce)]).await;
    let fresh = resp.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_ne!(fresh, nonce);
    assert_eq!(error_of(resp).await, "use_dpop_nonce");

    // At userinfo: 401 with a DPoP challenge and the nonce.
    let web = srv
        .web_client(json!({"token_endpoint_auth_method": "none"}))
        .await;
    let mut b = Browser::new(&srv.base);
    let (verifier, challenge_) = pkce();
    let params = sign_in(&mut b, &authorize_url(&web, &challenge_, &[]), "alice").await;
    let resp = srv
        .http
        .post(srv.url("/token"))
        .header("DPoP", with_nonce(&fresh))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", web.client.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let at = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = ProofClaims::new("GET", srv.url("/userinfo"), srv.state.now());
    c.access_token = Some(&at);
    let resp = userinfo_dpop(&srv, &at, &key.dpop_proof(&c)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(challenge(&resp), "DPoP error=\"use_dpop_nonce\"");
    let n = resp.headers()["dpop-nonce"].to_str().unwrap().to_string();
    c.nonce = Some(&n);
    c.jti = tessera::crypto::secrets::random_token(12);
    assert_eq!(
        userinfo_dpop(&srv, &at, &key.dpop_proof(&c)).await.status(),
        200
    );
    srv.stop().await;
}

/// With no algorithm accepted, DPoP is off: proofs are ignored, tokens are bearer tokens, and
/// discovery does not offer it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_off_ignores_proofs() {
    let srv =
        TestServer::start_with(Db::Sqlite, |s| s.dpop.signing_alg_values_supported.clear()).await;
    let key = EcKey::generate();
    let reg = srv.cc_client("client_secret_basic", false).await;
    let resp = cc(&srv, &reg, &[&token_proof(&srv, &key)]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["token_type"], "Bearer");
    let doc = srv.get_json("/.well-known/openid-configuration").await;
    assert!(doc.get("dpop_signing_alg_values_supported").is_none());
    srv.stop().await;
}
