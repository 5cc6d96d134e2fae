//! Janssen's client info endpoint (flag CLIENTINFO) and ID generation endpoint (flag
//! ID_GENERATION), on SQLite and PostgreSQL, through HTTP: bearer tokens in every accepted form,
//! RFC 6750 errors, public attributes only, identifiers unique and recorded.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::collections::HashSet;
use tessera_tests::{Db, TestServer, challenge, on_both_backends};

/// A client with every public attribute set, and secrets and URIs that must not come back.
async fn described_client(srv: &TestServer) -> tessera::oauth::registration::Registered {
    srv.client(json!({
        "client_name": "Inventory",
        "description": "Stock levels",
        "client_uri": "https://inventory.example",
        "logo_uri": "https://inventory.example/logo.png",
        "policy_uri": "https://inventory.example/policy",
        "tos_uri": "https://inventory.example/tos",
        "contacts": ["ops@inventory.example"],
        "grant_types": ["client_credentials"],
        "scope": "api id_generation",
        "redirect_uris": [],
        "jwks_uri": "https://inventory.example/jwks",
    }))
    .await
}

/// GET /clientinfo with `token` as a bearer token.
async fn clientinfo(srv: &TestServer, token: &str) -> reqwest::Response {
    srv.http
        .get(srv.url("/clientinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn clientinfo_returns_the_tokens_client_public_attributes(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = described_client(&srv).await;
    let at = srv.access_token(&reg).await;

    // Header (GET and POST) and form body (RFC 6750 §2.1, §2.2) give the same answer.
    let by_get = clientinfo(&srv, &at).await;
    assert_eq!(by_get.status(), 200);
    assert_eq!(by_get.headers()["cache-control"], "no-store");
    let info: Value = by_get.json().await.unwrap();
    let by_form: Value = srv
        .post_form("/clientinfo", None, &[("access_token", &at)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info, by_form);

    assert_eq!(info["client_id"], reg.client.client_id);
    assert_eq!(info["inum"], reg.client.client_id);
    assert_eq!(info["client_name"], "Inventory");
    assert_eq!(info["name"], "Inventory");
    assert_eq!(info["description"], "Stock levels");
    assert_eq!(info["client_uri"], "https://inventory.example");
    assert_eq!(info["logo_uri"], "https://inventory.example/logo.png");
    assert_eq!(info["policy_uri"], "https://inventory.example/policy");
    assert_eq!(info["tos_uri"], "https://inventory.example/tos");
    assert_eq!(info["contacts"], json!(["ops@inventory.example"]));
    assert_eq!(info["application_type"], "web");
    // Nothing beyond the public attributes: no secret, keys, URIs or settings.
    let keys: HashSet<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let allowed: HashSet<&str> = [
        "client_id",
        "inum",
        "client_name",
        "name",
        "description",
        "client_uri",
        "logo_uri",
        "policy_uri",
        "tos_uri",
        "contacts",
        "application_type",
    ]
    .into();
    assert_eq!(keys, allowed);

    // A client without the optional attributes gets them left out, not nulls.
    let bare = srv.cc_client("client_secret_basic", false).await;
    let info: Value = clientinfo(&srv, &srv.access_token(&bare).await)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["client_id"], bare.client.client_id);
    assert!(info.get("client_name").is_none() && info.get("logo_uri").is_none());
    srv.stop().await;
}

async fn clientinfo_refuses_bad_tokens_as_rfc6750_says(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = described_client(&srv).await;
    let at = srv.access_token(&reg).await;

    // No token: a bare challenge.
    let r = srv.http.get(srv.url("/clientinfo")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), "Bearer realm=\"tessera\"");
    // Unknown token.
    let r = clientinfo(&srv, "not-a-token").await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
    // The token twice (header and body).
    let r = srv
        .http
        .post(srv.url("/clientinfo"))
        .bearer_auth(&at)
        .form(&[("access_token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(challenge(&r).contains("error=\"invalid_request\""));
    // A malformed body and a malformed header: 400, never a 5xx.
    let r = srv
        .http
        .post(srv.url("/clientinfo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("access_token=%FF&access_token=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(challenge(&r).contains("error=\"invalid_request\""));
    let r = srv
        .http
        .get(srv.url("/clientinfo"))
        .header("authorization", "Bearer")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A revoked token.
    let r = srv
        .post_form(
            "/revoke",
            Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
            &[("token", &at)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = clientinfo(&srv, &at).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
    // An expired one.
    let at = srv.access_token(&reg).await;
    srv.clock.advance(24 * 3600);
    let r = clientinfo(&srv, &at).await;
    assert_eq!(r.status(), 401);
    srv.stop().await;
}

/// The one number `sql` selects (with `$1` = `arg`), read straight from the server's database.
async fn count(srv: &TestServer, sql: &'static str, arg: &str) -> i64 {
    let pool = sqlx::AnyPool::connect(&srv.settings.database_url.0)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as(sql)
        .bind(arg)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

async fn get_id(srv: &TestServer, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = srv.http.get(srv.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn id_generation_hands_out_unique_recorded_identifiers(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = described_client(&srv).await;
    let at = srv.token(&reg, &[("scope", "id_generation")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let mut seen = HashSet::new();
    for path in ["/id/@!1111/people", "/id/@!1111/client/", "/id/o1/scope"] {
        let r = get_id(&srv, path, Some(&at)).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (prefix, code) = match path {
            "/id/@!1111/people" => ("@!1111", "0000"),
            "/id/@!1111/client/" => ("@!1111", "0008"),
            _ => ("o1", "0009"),
        };
        let rest = id
            .strip_prefix(&format!("{prefix}!{code}!"))
            .unwrap_or_else(|| panic!("{id} for {path}"));
        assert_eq!(rest.len(), 36, "a UUID: {rest}");
        assert!(seen.insert(id));
    }
    // Many in a row never repeat, and each is recorded with its type and caller.
    for _ in 0..50 {
        let r = get_id(&srv, "/id/@!1111/people", Some(&at)).await;
        assert!(seen.insert(r.json::<Value>().await.unwrap()["id"].to_string()));
    }
    let recorded = count(
        &srv,
        "SELECT COUNT(*) FROM generated_ids WHERE client_id = $1 AND id_type = 'people'",
        &reg.client.client_id,
    )
    .await;
    assert_eq!(recorded, 51);
    srv.stop().await;
}

async fn id_generation_refuses_callers_and_requests_it_should(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = described_client(&srv).await;
    let with_scope = srv.token(&reg, &[("scope", "id_generation")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let without_scope = srv.token(&reg, &[("scope", "api")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let r = get_id(&srv, "/id/@!1111/people", None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), "Bearer realm=\"tessera\"");
    let r = get_id(&srv, "/id/@!1111/people", Some("forged")).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
    let r = get_id(&srv, "/id/@!1111/people", Some(&without_scope)).await;
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).contains("error=\"insufficient_scope\""));
    assert!(challenge(&r).contains("scope=\"id_generation\""));

    for path in [
        "/id/@!1111/spaceship",
        "/id/has%20space/people",
        &format!("/id/{}/people", "p".repeat(65)),
        "/id/%00/people",
    ] {
        let r = get_id(&srv, path, Some(&with_scope)).await;
        assert_eq!(r.status(), 400, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{path}");
    }
    let recorded = count(
        &srv,
        "SELECT COUNT(*) FROM generated_ids WHERE client_id = $1",
        &reg.client.client_id,
    )
    .await;
    assert_eq!(recorded, 0, "refused requests record nothing");
    srv.stop().await;
}

on_both_backends!(
    clientinfo_returns_the_tokens_client_public_attributes,
    clientinfo_refuses_bad_tokens_as_rfc6750_says,
    id_generation_hands_out_unique_recorded_identifiers,
    id_generation_refuses_callers_and_requests_it_should,
);
