//! JWT-secured authorization requests (RFC 9101) on SQLite and PostgreSQL: a request object by
//! value and by reference (a registered URI on a local server) signs a user in with only the
//! object's parameters counting; every check refusing with an error page; a request object
//! pushed to `/par`; discovery.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, REDIRECT, exchange, pkce, sign_in};
use tessera_tests::{Db, EcKey, TestServer, on_both_backends};

/// Signs `claims` with `key` (ES256, its kid in the header).
fn sign(key: &EcKey, claims: &Value) -> String {
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = key.jwk["kid"].as_str().map(str::to_string);
    jsonwebtoken::encode(
        &h,
        claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&key.pkcs8),
    )
    .unwrap()
}

/// The claims of a good request object for `reg` with PKCE `challenge`.
fn object(srv: &TestServer, reg: &Registered, challenge: &str) -> Value {
    json!({
        "iss": reg.client.client_id,
        "aud": srv.base,
        "exp": srv.state.now() + 60,
        "client_id": reg.client.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "from-the-object",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
}

fn authorize(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id);
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/authorize?{}", q.finish())
}

async fn signs_in_and_exchanges(srv: &TestServer, reg: &Registered, url: &str, verifier: &str) {
    let mut b = Browser::new(&srv.base);
    let params = sign_in(&mut b, url, "alice").await;
    // The object's state, not the one outside it.
    assert_eq!(params["state"], "from-the-object");
    let resp = exchange(srv, reg, &params["code"], verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    // The object's scope, not the one outside it.
    assert_eq!(tokens["scope"], "openid profile");
}

async fn request_objects_by_value_by_reference_and_pushed(db: Db) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let body = served.clone();
    let app = axum::Router::new().route(
        "/ro.jwt",
        axum::routing::get(move || {
            let jwt = body.lock().unwrap().clone();
            async move { jwt }
        }),
    );
    let ro_server = tokio::spawn(async move { axum::serve(listener, app).await });
    let srv = TestServer::start_with(db, |s| {
        s.authorize.allow_http_request_uri = true;
        s.outbound.allow_internal_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    srv.user("alice", json!({})).await;
    let key = EcKey::generate();
    let ro_uri = format!("{base}/ro.jwt");
    let reg = srv
        .web_client(json!({
            "jwks": {"keys": [key.jwk.clone()]},
            "request_object_signing_alg": "ES256",
            "request_uris": [ro_uri, format!("{base}/missing.jwt")],
        }))
        .await;
    let id = reg.client.client_id.as_str();

    // By value, with other parameters outside the object (ignored).
    let (verifier, challenge) = pkce();
    let jwt = sign(&key, &object(&srv, &reg, &challenge));
    let url = authorize(
        id,
        &[
            ("request", &jwt),
            ("state", "outside"),
            ("scope", "openid email"),
        ],
    );
    signs_in_and_exchanges(&srv, &reg, &url, &verifier).await;

    // By reference, from the registered URI.
    let (verifier, challenge) = pkce();
    *served.lock().unwrap() = sign(&key, &object(&srv, &reg, &challenge));
    let url = authorize(id, &[("request_uri", &ro_uri)]);
    signs_in_and_exchanges(&srv, &reg, &url, &verifier).await;

    // Pushed (RFC 9126 §3), then used by its request_uri.
    let (verifier, challenge) = pkce();
    let jwt = sign(&key, &object(&srv, &reg, &challenge));
    let resp = srv
        .post_form(
            "/par",
            Some((id, reg.secret.as_deref().unwrap())),
            &[("request", &jwt)],
        )
        .await;
    assert_eq!(resp.status(), 201);
    let pushed: Value = resp.json().await.unwrap();
    let url = authorize(
        id,
        &[("request_uri", pushed["request_uri"].as_str().unwrap())],
    );
    signs_in_and_exchanges(&srv, &reg, &url, &verifier).await;

    // Every check: an error page, never a redirect.
    let other = EcKey::generate();
    let good = object(&srv, &reg, "x".repeat(43).as_str());
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let mut no_client = good.clone();
    no_client.as_object_mut().unwrap().remove("client_id");
    let refused: Vec<(&str, String)> = vec![
        ("another key", sign(&other, &good)),
        (
            "iss not the client",
            sign(&key, &with("iss", json!("someone"))),
        ),
        (
            "aud not this server",
            sign(&key, &with("aud", json!("https://elsewhere.example"))),
        ),
        (
            "expired",
            sign(&key, &with("exp", json!(srv.state.now() - 120))),
        ),
        (
            "not yet valid",
            sign(&key, &with("nbf", json!(srv.state.now() + 600))),
        ),
        (
            "client_id differs",
            sign(&key, &with("client_id", json!("someone"))),
        ),
        ("client_id missing", sign(&key, &no_client)),
        ("nested", sign(&key, &with("request_uri", json!(ro_uri)))),
        ("array scope", sign(&key, &with("scope", json!(["openid"])))),
        ("unsigned", "eyJhbGciOiJub25lIn0.e30.".to_string()),
        ("garbage", "not-a-jwt".to_string()),
    ];
    let mut b = Browser::new(&srv.base);
    for (what, jwt) in &refused {
        let p = b.get(&authorize(id, &[("request", jwt)])).await;
        assert_eq!(p.status, 400, "{what}");
        assert_eq!(
            p.error_code().as_deref(),
            Some("invalid_request_object"),
            "{what}"
        );
    }
    // An RS256 object: accepted from a client that registered no algorithm, refused from one
    // that registered ES256 (both hold the RSA key).
    let rsa = tessera::crypto::keys::generate(tessera::crypto::SigningAlg::Rs256).unwrap();
    let signer = tessera::crypto::keys::SigningKey::from_pkcs8(
        rsa.kid.clone(),
        tessera::crypto::SigningAlg::Rs256,
        &rsa.pkcs8,
    )
    .unwrap();
    for (restricted, accepted) in [(false, true), (true, false)] {
        let mut meta = json!({"jwks": {"keys": [key.jwk.clone(), rsa.public_jwk.clone()]}});
        if restricted {
            meta["request_object_signing_alg"] = json!("ES256");
        }
        let c = srv.web_client(meta).await;
        let mut claims = good.clone();
        claims["client_id"] = json!(c.client.client_id);
        claims["iss"] = json!(c.client.client_id);
        let jwt = tessera::crypto::jwt::sign(&signer, "JWT", &claims).unwrap();
        let p = Browser::new(&srv.base)
            .get(&authorize(&c.client.client_id, &[("request", &jwt)]))
            .await;
        if accepted {
            assert_eq!(p.status, 303, "{p:?}");
            assert!(p.location.unwrap().starts_with("/login"));
        } else {
            assert_eq!(p.error_code().as_deref(), Some("invalid_request_object"));
        }
    }
    // request and request_uri together.
    let p = b
        .get(&authorize(
            id,
            &[("request", &refused[0].1), ("request_uri", &ro_uri)],
        ))
        .await;
    assert_eq!(p.error_code().as_deref(), Some("invalid_request_object"));
    // By reference: an unregistered URI, a registered one that does not answer.
    for uri in [format!("{base}/other.jwt"), format!("{base}/missing.jwt")] {
        let p = b.get(&authorize(id, &[("request_uri", &uri)])).await;
        assert_eq!(p.status, 400, "{uri}");
        assert_eq!(
            p.error_code().as_deref(),
            Some("invalid_request_uri"),
            "{uri}"
        );
    }
    // At /par a bad object is a JSON error.
    let resp = srv
        .post_form(
            "/par",
            Some((id, reg.secret.as_deref().unwrap())),
            &[("request", &refused[0].1)],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_request_object"
    );
    let doc = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["request_parameter_supported"], true);
    assert_eq!(doc["request_uri_parameter_supported"], true);
    assert_eq!(doc["require_request_uri_registration"], true);
    assert!(
        doc["request_object_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a != "none" && !a.as_str().unwrap().starts_with("HS"))
    );
    srv.stop().await;
    ro_server.abort();
}

on_both_backends!(request_objects_by_value_by_reference_and_pushed);
