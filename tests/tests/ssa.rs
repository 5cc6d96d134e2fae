//! Software statement assertions (flag SSA) on SQLite and PostgreSQL through HTTP: issuing
//! (scope, validation), the JWT verified against `/ssa/jwks`, registering with a statement
//! instead of an initial access token (its claims winning), one-time use, revocation, expiry,
//! statements this server did not issue as SSAs, listing, and the flag.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera_tests::{Db, TestServer, challenge, on_both_backends};

const ADMIN: &str = "https://jans.io/auth/ssa.admin";

async fn admin_token(srv: &TestServer) -> String {
    let admin = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": format!("{ADMIN} other")}))
        .await;
    srv.token(&admin, &[("scope", ADMIN)]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn issue(srv: &TestServer, token: &str, body: Value) -> reqwest::Response {
    srv.http
        .post(srv.url("/ssa"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn issued(srv: &TestServer, token: &str, body: Value) -> String {
    let resp = issue(srv, token, body).await;
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["ssa"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Registers with `statement` and no initial access token.
async fn register(srv: &TestServer, statement: &str) -> reqwest::Response {
    srv.http
        .post(srv.url("/register"))
        .json(&json!({
            "client_name": "Acme app",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://acme.example/cb"],
            "software_id": "something-else",
            "software_statement": statement,
        }))
        .send()
        .await
        .unwrap()
}

async fn error_of(resp: reqwest::Response) -> String {
    tessera_tests::oauth_error(resp, 400).await
}

async fn ssas_are_issued_verified_used_once_and_revoked(db: Db) {
    let srv = TestServer::start(db).await;
    let token = admin_token(&srv).await;
    let acme = json!({"org_id": "acme", "software_id": "acme-app", "software_roles": ["reader"], "grant_types": ["client_credentials"], "description": "Acme's app"});

    // Who may issue, and what.
    let resp = srv
        .http
        .post(srv.url("/ssa"))
        .json(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let other = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": "other"}))
        .await;
    let weak = srv.access_token(&other).await;
    let resp = issue(&srv, &weak, acme.clone()).await;
    assert_eq!(resp.status(), 403);
    assert!(challenge(&resp).contains(ADMIN));
    for bad in [
        json!({"software_id": "x"}),
        json!({"org_id": "acme", "software_id": "x", "grant_types": ["password"]}),
        json!({"org_id": "acme", "software_id": "x", "expiration": 1}),
        json!({"org_id": "acme", "software_id": "x", "unknown": true}),
        json!({"org_id": "", "software_id": "x"}),
    ] {
        assert_eq!(
            error_of(issue(&srv, &token, bad.clone()).await).await,
            "invalid_request",
            "{bad}"
        );
    }

    // The SSA verifies against /ssa/jwks and says what was asked.
    let ssa = issued(&srv, &token, acme.clone()).await;
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(srv.get_json("/ssa/jwks").await).unwrap();
    let header = jsonwebtoken::decode_header(&ssa).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_aud = false;
    v.set_required_spec_claims(&["exp", "iat", "jti"]);
    let claims =
        jsonwebtoken::decode::<Value>(&ssa, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
            .unwrap()
            .claims;
    assert_eq!(claims["iss"], srv.base.as_str());
    assert_eq!(claims["org_id"], "acme");
    assert_eq!(claims["software_id"], "acme-app");
    assert_eq!(claims["software_roles"], json!(["reader"]));
    assert_eq!(claims["one_time_use"], true);

    // Registering with it needs no initial access token; its claims win.
    let resp = register(&srv, &ssa).await;
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["software_id"], "acme-app");
    assert_eq!(info["grant_types"], json!(["client_credentials"]));
    assert_eq!(info["software_statement"], ssa.as_str());
    let resp = srv
        .post_form(
            "/token",
            Some((
                info["client_id"].as_str().unwrap(),
                info["client_secret"].as_str().unwrap(),
            )),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    // One-time: a second registration with it is refused.
    assert_eq!(
        error_of(register(&srv, &ssa).await).await,
        "unapproved_software_statement"
    );

    // A reusable one, until it is revoked.
    let mut reusable = acme.clone();
    reusable["one_time_use"] = json!(false);
    let multi = issued(&srv, &token, reusable).await;
    assert_eq!(register(&srv, &multi).await.status(), 201);
    assert_eq!(register(&srv, &multi).await.status(), 201);
    let jti = tessera_tests::jwt_parts(&multi).1["jti"]
        .as_str()
        .unwrap()
        .to_string();
    let revoke = |q: String| {
        srv.http
            .delete(srv.url(&format!("/ssa?{q}")))
            .bearer_auth(&token)
            .send()
    };
    let resp = revoke(format!("jti={jti}")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["revoked"], 1);
    assert_eq!(
        error_of(register(&srv, &multi).await).await,
        "unapproved_software_statement"
    );
    assert_eq!(revoke(format!("jti={jti}")).await.unwrap().status(), 404);
    assert_eq!(revoke(String::new()).await.unwrap().status(), 400);

    // Tampered, not an SSA of ours (a JWT access token we signed), expired.
    let (rest, sig) = ssa.rsplit_once('.').unwrap();
    let tampered = format!(
        "{rest}.{}",
        if sig.starts_with('A') {
            sig.replacen('A', "B", 1)
        } else {
            format!("A{}", &sig[1..])
        }
    );
    assert_eq!(
        error_of(register(&srv, &tampered).await).await,
        "invalid_software_statement"
    );
    let jwt_client = srv.cc_client("client_secret_basic", true).await;
    let at = srv.access_token(&jwt_client).await;
    let code = error_of(register(&srv, &at).await).await;
    assert!(
        code == "invalid_software_statement" || code == "unapproved_software_statement",
        "{code}"
    );
    let mut short = acme.clone();
    short["expiration"] = json!(srv.state.now() + 60);
    let short = issued(&srv, &token, short).await;
    srv.clock.advance(61);
    assert_eq!(
        error_of(register(&srv, &short).await).await,
        "unapproved_software_statement"
    );
    let resp = srv
        .http
        .post(srv.url("/register"))
        .json(&json!({"software_statement": 42, "redirect_uris": ["https://acme.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await, "invalid_software_statement");

    // The list: every SSA of acme with its status, never the JWT.
    let list: Value = srv
        .http
        .get(srv.url("/ssa?org_id=acme"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut statuses: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["expired", "revoked", "used"]);
    assert!(!list.to_string().contains(&ssa));
    srv.stop().await;
}

on_both_backends!(ssas_are_issued_verified_used_once_and_revoked);

/// SSA off: the endpoints answer feature_disabled and a statement is ignored (so registration
/// needs its initial access token again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flag_turns_ssa_off() {
    let srv = TestServer::start(Db::Sqlite).await;
    let token = admin_token(&srv).await;
    let ssa = issued(
        &srv,
        &token,
        json!({"org_id": "acme", "software_id": "acme-app"}),
    )
    .await;
    srv.state
        .set_feature(tessera::config::FeatureFlag::Ssa, false);
    assert_eq!(
        issue(&srv, &token, json!({"org_id": "a", "software_id": "b"}))
            .await
            .status(),
        403
    );
    assert_eq!(
        srv.http
            .get(srv.url("/ssa/jwks"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let resp = register(&srv, &ssa).await;
    assert_eq!(resp.status(), 401);
    srv.stop().await;
}

/// Statements of an operator-trusted issuer verify against its JWKS (on a local server); a
/// one-time one registers one client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_of_a_trusted_issuer() {
    let key = tessera_tests::EcKey::generate();
    let jwks = json!({"keys": [key.jwk.clone()]});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    let keys_server = tokio::spawn(async move { axum::serve(listener, app).await });
    let uri = jwks_uri.clone();
    let srv = TestServer::start_with(Db::Sqlite, move |s| {
        s.ssa.trusted_issuers = vec![tessera::config::TrustedIssuer {
            issuer: "https://partner.example".into(),
            jwks_uri: uri,
        }];
        s.client_auth.allow_http_jwks_uri = true;
        s.outbound.allow_internal_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let sign = |k: &tessera_tests::EcKey, claims: Value| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = key.jwk["kid"].as_str().map(str::to_string);
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&k.pkcs8),
        )
        .unwrap()
    };
    let now = srv.state.now();
    let claims = |iss: &str, exp: i64| json!({"iss": iss, "exp": exp, "jti": tessera::crypto::secrets::random_token(8), "software_id": "partner-app", "grant_types": ["client_credentials"]});
    let good = sign(&key, claims("https://partner.example", now + 600));
    let resp = register(&srv, &good).await;
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["software_id"], "partner-app");
    assert_eq!(info["grant_types"], json!(["client_credentials"]));
    assert_eq!(
        error_of(register(&srv, &good).await).await,
        "unapproved_software_statement"
    );
    // Another key under the same kid, an issuer nobody trusts, an expired statement.
    let other = tessera_tests::EcKey::generate();
    let forged = sign(&other, claims("https://partner.example", now + 600));
    assert_eq!(
        error_of(register(&srv, &forged).await).await,
        "invalid_software_statement"
    );
    let stranger = sign(&key, claims("https://stranger.example", now + 600));
    assert_eq!(
        error_of(register(&srv, &stranger).await).await,
        "invalid_software_statement"
    );
    let expired = sign(&key, claims("https://partner.example", now - 10));
    assert_eq!(
        error_of(register(&srv, &expired).await).await,
        "unapproved_software_statement"
    );
    srv.stop().await;
    keys_server.abort();
}
