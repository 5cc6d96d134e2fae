//! Every kind of bad input gets a clean OAuth error with the right status: never a 5xx, never
//! a panic. Runs on SQLite (input handling does not depend on the backend).

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use tessera_tests::{Db, TestServer};

async fn raw(
    srv: &TestServer,
    path: &str,
    content_type: Option<&str>,
    auth: Option<&str>,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = srv.http.post(srv.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// (what, path, content type, authorization, body, expected status, expected error)
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Vec<u8>,
    u16,
    &'a str,
);

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_gets_its_error() {
    let srv = TestServer::start(Db::Sqlite).await;
    let c = srv.cc_client("client_secret_basic", true).await;
    let id = c.client.client_id.clone();
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{id}:{}", c.secret.as_deref().unwrap())
        )
    );
    let good = b"grant_type=client_credentials".to_vec();

    // (what, path, content type, authorization, body, status, error)
    let bad_basic = [
        "Basic !!!notbase64",
        "Basic ",
        "Basic Zm9v",
        "Basic OnNlY3JldA==",
        "Bearer abc",
    ];
    for b in bad_basic {
        let (st, h, body) = raw(&srv, "/token", FORM, Some(b), good.clone()).await;
        assert_eq!(
            (st, body["error"].as_str()),
            (401, Some("invalid_client")),
            "malformed Basic {b:?}"
        );
        assert!(
            h.get("www-authenticate")
                .is_some_and(|v| v.to_str().unwrap().starts_with("Basic")),
            "challenge for {b:?}"
        );
    }
    let non_utf8_header = reqwest::header::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap();
    let resp = srv
        .http
        .post(srv.url("/token"))
        .header("content-type", FORM.unwrap())
        .header("authorization", non_utf8_header)
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let cases: Vec<Case> = vec![
        ("wrong content type", "/token", Some("application/json"), Some(&basic), br#"{"grant_type":"client_credentials"}"#.to_vec(), 400, "invalid_request"),
        ("no content type", "/token", None, Some(&basic), good.clone(), 400, "invalid_request"),
        ("oversized body", "/token", FORM, Some(&basic), format!("grant_type=client_credentials&pad={}", "x".repeat(70_000)).into_bytes(), 413, "invalid_request"),
        ("invalid UTF-8 (raw)", "/token", FORM, Some(&basic), b"grant_type=client_credentials&scope=\xff".to_vec(), 400, "invalid_request"),
        ("invalid UTF-8 (encoded)", "/token", FORM, Some(&basic), b"grant_type=client_credentials&scope=%C3%28".to_vec(), 400, "invalid_request"),
        ("repeated parameter", "/token", FORM, Some(&basic), b"grant_type=client_credentials&scope=a&scope=b".to_vec(), 400, "invalid_request"),
        ("repeated grant_type", "/token", FORM, Some(&basic), b"grant_type=client_credentials&grant_type=client_credentials".to_vec(), 400, "invalid_request"),
        ("missing grant_type", "/token", FORM, Some(&basic), b"scope=a".to_vec(), 400, "invalid_request"),
        ("unsupported grant_type", "/token", FORM, Some(&basic), b"grant_type=password".to_vec(), 400, "unsupported_grant_type"),
        ("unknown grant_type", "/token", FORM, Some(&basic), b"grant_type=bogus".to_vec(), 400, "unsupported_grant_type"),
        ("no client authentication", "/token", FORM, None, good.clone(), 401, "invalid_client"),
        ("unknown client", "/token", FORM, None, b"grant_type=client_credentials&client_id=nobody&client_secret=x".to_vec(), 401, "invalid_client"),
        ("two auth methods", "/token", FORM, Some(&basic), format!("grant_type=client_credentials&client_secret=x&client_id={id}").into_bytes(), 400, "invalid_request"),
        ("client_id differs from Basic", "/token", FORM, Some(&basic), b"grant_type=client_credentials&client_id=other".to_vec(), 401, "invalid_client"),
        ("bad assertion type", "/token", FORM, None, b"grant_type=client_credentials&client_assertion_type=x&client_assertion=a.b.c".to_vec(), 400, "invalid_request"),
        ("garbage assertion", "/token", FORM, None, b"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=garbage".to_vec(), 401, "invalid_client"),
        ("assertion type alone", "/token", FORM, None, b"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer".to_vec(), 400, "invalid_request"),
        ("invalid scope", "/token", FORM, Some(&basic), b"grant_type=client_credentials&scope=nope".to_vec(), 400, "invalid_scope"),
        ("invalid resource", "/token", FORM, Some(&basic), b"grant_type=client_credentials&resource=relative/path".to_vec(), 400, "invalid_target"),
        ("introspect without token", "/introspect", FORM, Some(&basic), b"".to_vec(), 400, "invalid_request"),
        ("introspect repeated token", "/introspect", FORM, Some(&basic), b"token=a&token=b".to_vec(), 400, "invalid_request"),
        ("introspect unauthenticated", "/introspect", FORM, None, b"token=a".to_vec(), 401, "invalid_client"),
        ("revoke wrong content type", "/revoke", Some("text/plain"), Some(&basic), b"token=a".to_vec(), 400, "invalid_request"),
        ("revoke invalid UTF-8", "/revoke", FORM, Some(&basic), b"token=%FF".to_vec(), 400, "invalid_request"),
        ("par wrong content type", "/par", Some("text/plain"), Some(&basic), b"response_type=code".to_vec(), 400, "invalid_request"),
        ("par invalid UTF-8", "/par", FORM, Some(&basic), b"response_type=%FF".to_vec(), 400, "invalid_request"),
        ("par unauthenticated", "/par", FORM, None, b"response_type=code".to_vec(), 401, "invalid_client"),
        ("par repeated parameter", "/par", FORM, Some(&basic), b"scope=a&scope=b".to_vec(), 400, "invalid_request"),
        ("par without redirect URI", "/par", FORM, Some(&basic), b"response_type=code&scope=openid".to_vec(), 400, "invalid_request"),
        ("revoke_session wrong content type", "/revoke_session", Some("text/plain"), Some(&basic), b"user_criterion_key=uid".to_vec(), 400, "invalid_request"),
        ("revoke_session unauthenticated", "/revoke_session", FORM, None, b"user_criterion_key=uid&user_criterion_value=a".to_vec(), 401, "invalid_client"),
        ("revoke_session repeated key", "/revoke_session", FORM, Some(&basic), b"user_criterion_key=uid&user_criterion_key=mail".to_vec(), 400, "invalid_request"),
    ];
    for (what, path, ct, auth, body, status, error) in cases {
        let (st, h, b) = raw(&srv, path, ct, auth, body).await;
        assert_eq!(st, status, "{what}: {b}");
        assert_eq!(b["error"], error, "{what}: {b}");
        assert!(b["error_description"].is_string(), "{what}");
        assert_eq!(h["cache-control"], "no-store", "{what}");
        assert_eq!(h["content-type"], "application/json", "{what}");
    }

    // Methods and paths that do not exist.
    let r = srv.http.get(srv.url("/token")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = srv.http.get(srv.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // After all that, the server still serves.
    assert_eq!(srv.token(&c, &[]).await["token_type"], "Bearer");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_an_unreachable_database() {
    let srv = TestServer::start(Db::Sqlite).await;
    let r = srv.http.get(srv.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["database"], "reachable");
    srv.state.store().close().await;
    let r = srv.http.get(srv.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["database"], "unreachable");
    // With the database gone, the token endpoint answers a clean 503, not a 500 or a hang.
    let r = srv
        .post_form(
            "/token",
            Some(("x", "y")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
}
