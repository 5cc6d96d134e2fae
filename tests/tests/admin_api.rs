//! The admin REST API (issue 14) through HTTP: who may call it (no token, a bad, expired or
//! revoked token, the wrong scope), clients with entity tags and JSON Patch (no lost updates,
//! unknown fields refused by name, secrets shown once), scopes, keys (rotation seen in /jwks,
//! retirement) and sessions (an ended session makes `prompt=none` answer `login_required`), on
//! SQLite and PostgreSQL; the OpenAPI document checked by schemathesis.

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use tessera::admin::api::auth::all_scopes;
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, authorize_url, pkce, response_params, tokens_for};
use tessera_tests::{Db, TestServer, challenge, on_both_backends};

const API: &str = "/admin/api/v1";

/// The admin client as `tessera admin init` makes it, and a token of it with `scope`.
async fn admin(srv: &TestServer) -> Registered {
    tessera::admin::clients::init_admin_client(
        srv.state.store(),
        srv.state.master_key(),
        false,
        None,
        srv.state.now(),
    )
    .await
    .unwrap()
}

async fn token(srv: &TestServer, reg: &Registered, scope: &str) -> String {
    srv.token(reg, &[("scope", scope)]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A call to the API with `token`; `body` is sent as JSON (`application/json`, or
/// `application/json-patch+json` for PATCH).
async fn call(
    srv: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    if_match: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut req = srv
        .http
        .request(method.clone(), srv.url(&format!("{API}{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    if let Some(b) = body {
        let ct = if method == Method::PATCH {
            "application/json-patch+json"
        } else {
            "application/json"
        };
        req = req.header("content-type", ct).body(b.to_string());
    }
    req.send().await.unwrap()
}

/// The problem document of a refused call, checked to be RFC 9457 with `status`.
async fn problem(resp: Response, status: u16) -> Value {
    assert_eq!(resp.status(), status, "{:?}", resp.headers());
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["status"], status, "{p}");
    assert_eq!(p["type"], "about:blank", "{p}");
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
    p
}

fn etag(resp: &Response) -> String {
    resp.headers()["etag"].to_str().unwrap().to_string()
}

async fn refuses_calls_without_the_right_token(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = admin(&srv).await;

    // No token: 401 with a bare Bearer challenge.
    let resp = call(&srv, Method::GET, "/clients", None, None, None).await;
    assert_eq!(challenge(&resp), "Bearer realm=\"tessera-admin\"");
    problem(resp, 401).await;

    // A token this server never issued.
    let resp = call(&srv, Method::GET, "/clients", Some("forged"), None, None).await;
    assert!(challenge(&resp).contains("error=\"invalid_token\""));
    problem(resp, 401).await;

    // A token of an ordinary client: no admin scope.
    let plain = srv.cc_client("client_secret_basic", false).await;
    let plain_token = srv.access_token(&plain).await;
    for (method, path) in [
        (Method::GET, "/clients"),
        (Method::GET, "/scopes"),
        (Method::GET, "/keys"),
        (Method::GET, "/sessions"),
        (Method::POST, "/keys/rotate"),
    ] {
        let resp = call(&srv, method, path, Some(&plain_token), None, None).await;
        assert!(
            challenge(&resp).contains("error=\"insufficient_scope\""),
            "{path}"
        );
        problem(resp, 403).await;
    }

    // A read scope reads its resource only, and never writes.
    let read = token(&srv, &reg, "tessera.admin.scopes.read").await;
    let resp = call(&srv, Method::GET, "/scopes", Some(&read), None, None).await;
    assert_eq!(resp.status(), 200);
    let page: Value = resp.json().await.unwrap();
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "openid")
    );
    let resp = call(&srv, Method::GET, "/clients", Some(&read), None, None).await;
    problem(resp, 403).await;
    let resp = call(
        &srv,
        Method::POST,
        "/scopes",
        Some(&read),
        None,
        Some(json!({"id": "x", "scope_type": "oauth"})),
    )
    .await;
    let p = problem(resp, 403).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("tessera.admin.scopes.write")
    );
    assert!(srv.state.store().find_scope("x").await.unwrap().is_none());
    // A write scope also reads.
    let write = token(&srv, &reg, "tessera.admin.clients.write").await;
    let resp = call(&srv, Method::GET, "/clients", Some(&write), None, None).await;
    assert_eq!(resp.status(), 200);

    // A revoked token stops at once.
    let all = token(&srv, &reg, "tessera.admin").await;
    assert_eq!(
        call(&srv, Method::GET, "/keys", Some(&all), None, None)
            .await
            .status(),
        200
    );
    let resp = srv
        .post_form(
            "/revoke",
            Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
            &[("token", &all)],
        )
        .await;
    assert_eq!(resp.status(), 200);
    problem(
        call(&srv, Method::GET, "/keys", Some(&all), None, None).await,
        401,
    )
    .await;

    // An expired token.
    let all = token(&srv, &reg, "tessera.admin").await;
    srv.clock
        .advance(srv.settings.tokens.access_token_lifetime + 1);
    problem(
        call(&srv, Method::GET, "/keys", Some(&all), None, None).await,
        401,
    )
    .await;

    // The admin client exists once; init again is refused, --rotate gives a new secret.
    let again = tessera::admin::clients::init_admin_client(
        srv.state.store(),
        srv.state.master_key(),
        false,
        None,
        srv.state.now(),
    )
    .await;
    assert!(again.unwrap_err().to_string().contains("--rotate"));
    let rotated = tessera::admin::clients::init_admin_client(
        srv.state.store(),
        srv.state.master_key(),
        true,
        None,
        srv.state.now(),
    )
    .await
    .unwrap();
    assert_ne!(rotated.secret, reg.secret);
    let resp = srv
        .post_form(
            "/token",
            Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), 401, "the old admin secret still works");
    token(&srv, &rotated, "tessera.admin").await;

    // A token issued for a user acts for that user: accepted only while the user is an active
    // administrator, checked on every call.
    let scope = "openid tessera.admin.clients.read";
    let ui = srv.web_client(json!({"scope": scope})).await;
    srv.user("alice", json!({})).await;
    let mut b = Browser::new(&srv.base);
    let tokens = tokens_for(&srv, &ui, &mut b, &[("scope", scope)]).await;
    assert_eq!(tokens["scope"], scope);
    let as_alice = Some(tokens["access_token"].as_str().unwrap());
    let p = problem(
        call(&srv, Method::GET, "/clients", as_alice, None, None).await,
        403,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("not an active administrator"),
        "{p}"
    );
    let now = srv.state.now();
    let store = srv.state.store();
    let set_roles = |roles: Value| {
        tessera::admin::users::update(store, "alice", json!({"tessera_roles": roles}), now)
    };
    set_roles(json!(["admin"])).await.unwrap();
    assert_eq!(
        call(&srv, Method::GET, "/clients", as_alice, None, None)
            .await
            .status(),
        200
    );
    // Still only what the token's scope allows.
    problem(
        call(&srv, Method::GET, "/scopes", as_alice, None, None).await,
        403,
    )
    .await;
    set_roles(json!([])).await.unwrap();
    problem(
        call(&srv, Method::GET, "/clients", as_alice, None, None).await,
        403,
    )
    .await;
    let bad = set_roles(json!(["root"])).await.unwrap_err();
    assert!(bad.to_string().contains("tessera_roles"), "{bad}");
    // The first administrator: made once, then init leaves users alone.
    let (first, password) = tessera::admin::users::init_admin_user(store, None, None, now)
        .await
        .unwrap()
        .unwrap();
    assert!(first.is_admin() && first.username == "admin" && password.is_some());
    assert!(
        tessera::admin::users::init_admin_user(store, None, None, now)
            .await
            .unwrap()
            .is_none()
    );
    srv.stop().await;
}

async fn manages_clients_without_lost_updates(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = admin(&srv).await;
    let bearer = token(&srv, &reg, "tessera.admin.clients.write").await;
    let t = Some(bearer.as_str());

    // An unknown field is refused by name, not dropped.
    let resp = call(
        &srv,
        Method::POST,
        "/clients",
        t,
        None,
        Some(json!({"client_name": "x", "frobnicate": true, "grant_types": ["client_credentials"], "response_types": []})),
    )
    .await;
    let p = problem(resp, 400).await;
    assert!(
        p["detail"].as_str().unwrap().starts_with("frobnicate"),
        "{p}"
    );
    // A bad value names its field.
    let resp = call(
        &srv,
        Method::POST,
        "/clients",
        t,
        None,
        Some(json!({"grant_types": "client_credentials"})),
    )
    .await;
    let p = problem(resp, 400).await;
    assert!(
        p["detail"].as_str().unwrap().starts_with("grant_types"),
        "{p}"
    );
    // Not JSON.
    let resp = srv
        .http
        .post(srv.url(&format!("{API}/clients")))
        .bearer_auth(&bearer)
        .form(&[("client_name", "x")])
        .send()
        .await
        .unwrap();
    problem(resp, 415).await;

    // Created with the administrator's own id and secret, with several seed-001 fields.
    let secret = "configuration-as-code-secret-0123456789";
    let resp = call(
        &srv,
        Method::POST,
        "/clients",
        t,
        None,
        Some(json!({
            "client_id": "billing-service",
            "client_secret": secret,
            "client_name": "Billing",
            "description": "Nightly billing jobs",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "scope": "billing.read billing.write",
            "access_token_as_jwt": true,
            "access_token_lifetime": 600,
            "contacts": ["ops@example.com"],
        })),
    )
    .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        resp.headers()["location"],
        format!("{API}/clients/billing-service")
    );
    let created_tag = etag(&resp);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["client_secret"], secret);
    assert_eq!(created["access_token_lifetime"], 600);
    let billing = srv
        .post_form(
            "/token",
            Some(("billing-service", secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(billing.status(), 200);
    let billing: Value = billing.json().await.unwrap();
    assert_eq!(billing["expires_in"], 600);
    let billing_token = billing["access_token"].as_str().unwrap().to_string();

    // The id is taken now.
    let resp = call(
        &srv,
        Method::POST,
        "/clients",
        t,
        None,
        Some(json!({"client_id": "billing-service", "grant_types": ["client_credentials"], "response_types": []})),
    )
    .await;
    problem(resp, 409).await;

    // Read: the same tag, never the secret.
    let resp = call(&srv, Method::GET, "/clients/billing-service", t, None, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(etag(&resp), created_tag);
    let read: Value = resp.json().await.unwrap();
    assert!(read.get("client_secret").is_none(), "{read}");
    assert_eq!(read["client_name"], "Billing");
    problem(
        call(&srv, Method::GET, "/clients/nobody", t, None, None).await,
        404,
    )
    .await;

    // An update without If-Match, or with a tag that is not current, is refused.
    let rename = json!([{"op": "replace", "path": "/client_name", "value": "Billing v2"}]);
    let path = "/clients/billing-service";
    problem(
        call(&srv, Method::PATCH, path, t, None, Some(rename.clone())).await,
        428,
    )
    .await;
    problem(
        call(
            &srv,
            Method::PATCH,
            path,
            t,
            Some("\"stale\""),
            Some(rename.clone()),
        )
        .await,
        412,
    )
    .await;

    // Two administrators read the same version; the first change wins, the second is refused
    // instead of silently overwriting it.
    let resp = call(
        &srv,
        Method::PATCH,
        path,
        t,
        Some(&created_tag),
        Some(rename),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let renamed_tag = etag(&resp);
    assert_ne!(renamed_tag, created_tag);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["client_name"], "Billing v2");
    assert!(body.get("client_secret").is_none());
    let other = json!([{"op": "replace", "path": "/description", "value": "lost?"}]);
    problem(
        call(
            &srv,
            Method::PATCH,
            path,
            t,
            Some(&created_tag),
            Some(other),
        )
        .await,
        412,
    )
    .await;
    let now: Value = call(&srv, Method::GET, path, t, None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["client_name"], "Billing v2");
    assert_eq!(now["description"], "Nightly billing jobs");

    // Read-only fields stay; a patch that does not apply is a 400.
    let resp = call(
        &srv,
        Method::PATCH,
        path,
        t,
        Some(&renamed_tag),
        Some(json!([{"op": "replace", "path": "/client_id", "value": "stolen"}])),
    )
    .await;
    assert!(
        problem(resp, 400).await["detail"]
            .as_str()
            .unwrap()
            .starts_with("client_id")
    );
    let resp = call(
        &srv,
        Method::PATCH,
        path,
        t,
        Some(&renamed_tag),
        Some(json!([{"op": "remove", "path": "/no_such_member"}])),
    )
    .await;
    problem(resp, 400).await;

    // PUT replaces; disabling the client stops its token requests.
    let mut whole = now.clone();
    whole["active"] = json!(false);
    let resp = call(&srv, Method::PUT, path, t, Some(&renamed_tag), Some(whole)).await;
    assert_eq!(resp.status(), 200);
    let disabled_tag = etag(&resp);
    let resp = srv
        .post_form(
            "/token",
            Some(("billing-service", secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), 401, "a disabled client got a token");
    let resp = call(
        &srv,
        Method::PATCH,
        path,
        t,
        Some(&disabled_tag),
        Some(json!([{"op": "replace", "path": "/active", "value": true}])),
    )
    .await;
    assert_eq!(resp.status(), 200);

    // A new secret: shown once; the old one stops working.
    let resp = call(
        &srv,
        Method::POST,
        "/clients/billing-service/secret",
        t,
        None,
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let fresh: Value = resp.json().await.unwrap();
    let fresh = fresh["client_secret"].as_str().unwrap().to_string();
    assert_ne!(fresh, secret);
    let old = srv
        .post_form(
            "/token",
            Some(("billing-service", secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(old.status(), 401);
    let new = srv
        .post_form(
            "/token",
            Some(("billing-service", &fresh)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(new.status(), 200);

    // Lists filter and page.
    // Lists are ordered by creation time, then client_id.
    for i in 0..3 {
        srv.clock.advance(1);
        let resp = call(
            &srv,
            Method::POST,
            "/clients",
            t,
            None,
            Some(json!({"client_name": format!("Batch {i}"), "grant_types": ["client_credentials"], "response_types": []})),
        )
        .await;
        assert_eq!(resp.status(), 201);
    }
    let page: Value = call(
        &srv,
        Method::GET,
        "/clients?pattern=batch&limit=2&offset=1",
        t,
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(page["total"], 3, "{page}");
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Batch 1", "Batch 2"]);
    problem(
        call(&srv, Method::GET, "/clients?limit=0", t, None, None).await,
        400,
    )
    .await;
    problem(
        call(&srv, Method::GET, "/clients?limit=many", t, None, None).await,
        400,
    )
    .await;

    // Delete: the client's tokens stop being active at once.
    let resp = call(&srv, Method::DELETE, path, t, None, None).await;
    assert_eq!(resp.status(), 204);
    let introspected = srv.introspect(&reg, &billing_token).await;
    assert_eq!(introspected["active"], false);
    problem(call(&srv, Method::GET, path, t, None, None).await, 404).await;
    problem(call(&srv, Method::DELETE, path, t, None, None).await, 404).await;

    // The audit log holds every change, newest first, with who and before/after, and never a
    // secret: neither the chosen one nor the regenerated one.
    problem(call(&srv, Method::GET, "/audit", t, None, None).await, 403).await;
    let auditor = token(&srv, &reg, "tessera.admin.audit.read").await;
    let resp = call(
        &srv,
        Method::GET,
        "/audit?resource=clients&resource_id=billing-service",
        Some(&auditor),
        None,
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(secret) && !text.contains(&fresh), "{text}");
    let log: Value = serde_json::from_str(&text).unwrap();
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"clients.delete"), "{log}");
    assert_eq!(actions.last(), Some(&"clients.create"), "{log}");
    assert!(actions.contains(&"clients.regenerate_secret") && actions.contains(&"clients.patch"));
    let deleted = &log["items"][0];
    assert_eq!(
        deleted["actor_client"],
        tessera::admin::clients::ADMIN_CLIENT_ID
    );
    assert_eq!(deleted["before"]["client_id"], "billing-service");
    assert!(deleted["after"].is_null());
    let created = log["items"].as_array().unwrap().last().unwrap();
    assert!(created["before"].is_null());
    assert_eq!(created["after"]["client_id"], "billing-service");
    let all: Value = call(
        &srv,
        Method::GET,
        "/audit?limit=500",
        Some(&auditor),
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    // The three batch clients were created too.
    assert_eq!(all["total"], log["total"].as_u64().unwrap() + 3, "{all}");
    srv.stop().await;
}

async fn manages_scopes_keys_and_sessions(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = admin(&srv).await;
    let t = token(&srv, &reg, "tessera.admin").await;
    let t = Some(t.as_str());

    // Scopes: create, change under If-Match, refuse what a type does not allow, delete.
    let resp = call(
        &srv,
        Method::POST,
        "/scopes",
        t,
        None,
        Some(json!({"id": "employee", "scope_type": "openid", "claims": ["department"], "description": "Your department"})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let tag = etag(&resp);
    let resp = call(
        &srv,
        Method::PATCH,
        "/scopes/employee",
        t,
        Some(&tag),
        Some(json!([{"op": "add", "path": "/claims/-", "value": "title"}])),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["claims"], json!(["department", "title"]));
    problem(
        call(
            &srv,
            Method::PUT,
            "/scopes/employee",
            t,
            Some(&tag),
            Some(json!({"description": "stale"})),
        )
        .await,
        412,
    )
    .await;
    let p = problem(
        call(
            &srv,
            Method::POST,
            "/scopes",
            t,
            None,
            Some(json!({"id": "api", "scope_type": "oauth", "claims": ["email"]})),
        )
        .await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("claims"), "{p}");
    problem(
        call(&srv, Method::DELETE, "/scopes/openid", t, None, None).await,
        400,
    )
    .await;
    assert_eq!(
        call(&srv, Method::DELETE, "/scopes/employee", t, None, None)
            .await
            .status(),
        204
    );
    assert!(
        srv.state
            .store()
            .find_scope("employee")
            .await
            .unwrap()
            .is_none()
    );

    // Keys: a rotation's new kid is in /jwks at once; the replaced key is retired on request
    // once its successor signs, and leaves /jwks.
    let before: Value = call(&srv, Method::GET, "/keys", t, None, None)
        .await
        .json()
        .await
        .unwrap();
    let es256 = before
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "ES256" && k["signing"] == true)
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    problem(
        call(
            &srv,
            Method::POST,
            &format!("/keys/{es256}/retire"),
            t,
            None,
            None,
        )
        .await,
        409,
    )
    .await;
    let resp = call(
        &srv,
        Method::POST,
        "/keys/rotate",
        t,
        None,
        Some(json!({"algorithms": ["ES256"]})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let rotated: Value = resp.json().await.unwrap();
    let new_kid = rotated["rotated"][0].as_str().unwrap().to_string();
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let published = kids(srv.get_json("/jwks").await);
    assert!(published.contains(&new_kid) && published.contains(&es256));
    // Until the new key signs, the old one still does and cannot be retired.
    problem(
        call(
            &srv,
            Method::POST,
            &format!("/keys/{es256}/retire"),
            t,
            None,
            None,
        )
        .await,
        409,
    )
    .await;
    srv.clock.advance(srv.settings.keys.publish_ahead + 1);
    let resp = call(
        &srv,
        Method::POST,
        &format!("/keys/{es256}/retire"),
        t,
        None,
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let retired: Value = resp.json().await.unwrap();
    assert_eq!(retired["published"], false);
    let published = kids(srv.get_json("/jwks").await);
    assert!(published.contains(&new_kid) && !published.contains(&es256));
    problem(
        call(&srv, Method::POST, "/keys/nope/retire", t, None, None).await,
        404,
    )
    .await;
    problem(
        call(
            &srv,
            Method::POST,
            "/keys/rotate",
            t,
            None,
            Some(json!({"algorithms": ["HS256"]})),
        )
        .await,
        400,
    )
    .await;

    // Sessions: alice's session is listed; ending all of hers makes prompt=none ask for a login.
    // (With OAuth audit logging on, the sign-in is recorded.)
    let on = json!([{"op": "replace", "path": "/log/oauth_audit", "value": true}]);
    tessera::admin::config::patch(&srv.state, on, "*", "test", srv.state.now())
        .await
        .unwrap();
    let alice = srv.user("alice", json!({})).await;
    let rp = srv.web_client(json!({})).await;
    let mut b = Browser::new(&srv.base);
    let tokens = tokens_for(&srv, &rp, &mut b, &[]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(srv.introspect(&rp, access).await["active"], true);
    let events = srv
        .state
        .store()
        .list_audit(
            &tessera::store::AuditQuery {
                actor_client: Some(rp.client.client_id.clone()),
                ..Default::default()
            },
            50,
            0,
        )
        .await
        .unwrap()
        .0;
    let login = events
        .iter()
        .find(|e| e.action == "oauth.login_succeeded")
        .unwrap();
    assert_eq!(login.actor_user.as_deref(), Some(alice.user_id.as_str()));
    assert!(events.iter().any(|e| e.action == "oauth.token_issued"
        && e.after.as_ref().unwrap()["grant_type"] == "authorization_code"));
    let (_, challenge) = pkce();
    let silent = authorize_url(&rp, &challenge, &[("prompt", "none")]);
    let page = b.get(&silent).await;
    assert!(response_params(page.location.as_deref().unwrap()).contains_key("code"));
    let list: Value = call(&srv, Method::GET, "/sessions?user=alice", t, None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["clients"], json!([rp.client.client_id]));
    problem(
        call(&srv, Method::GET, "/sessions?user=bob", t, None, None).await,
        404,
    )
    .await;
    let resp = call(&srv, Method::DELETE, "/sessions?user=alice", t, None, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["ended"], 1);
    let page = b.get(&silent).await;
    assert_eq!(
        response_params(page.location.as_deref().unwrap())["error"],
        "login_required"
    );
    assert_eq!(srv.introspect(&rp, access).await["active"], false);
    let list: Value = call(&srv, Method::GET, "/sessions", t, None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0, "{list}");
    problem(
        call(&srv, Method::DELETE, "/sessions/none", t, None, None).await,
        404,
    )
    .await;
    srv.stop().await;
}

async fn changes_the_configuration_at_run_time(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = admin(&srv).await;
    let bearer = token(&srv, &reg, "tessera.admin.config.write").await;
    let t = Some(bearer.as_str());
    let plain = srv.cc_client("client_secret_basic", false).await;

    let resp = call(&srv, Method::GET, "/config", t, None, None).await;
    assert_eq!(resp.status(), 200);
    let first = etag(&resp);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(view["revision"], 0);
    assert_eq!(view["overrides"], json!({}));
    assert_eq!(view["settings"]["features"]["introspection"], true);
    assert!(
        view["start_up"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["key"] == "listen")
    );
    // The master key never shows.
    let master = view["settings"]["master_key"].as_str().unwrap();
    assert!(master.is_empty() || master == "[redacted]", "{master}");

    // Updates need the current entity tag.
    let off = json!([{"op": "replace", "path": "/features/introspection", "value": false}]);
    problem(
        call(&srv, Method::PATCH, "/config", t, None, Some(off.clone())).await,
        428,
    )
    .await;
    problem(
        call(
            &srv,
            Method::PATCH,
            "/config",
            t,
            Some("\"old\""),
            Some(off.clone()),
        )
        .await,
        412,
    )
    .await;

    // A feature turned off: its endpoint answers 403 and leaves discovery, at once.
    let issued = srv.access_token(&plain).await;
    assert_eq!(srv.introspect(&plain, &issued).await["active"], true);
    let resp = call(&srv, Method::PATCH, "/config", t, Some(&first), Some(off)).await;
    assert_eq!(resp.status(), 200);
    let second = etag(&resp);
    assert_ne!(second, first);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(view["revision"], 1);
    assert_eq!(view["updated_by"], tessera::admin::clients::ADMIN_CLIENT_ID);
    assert_eq!(
        view["overrides"],
        json!({"features": {"introspection": false}})
    );
    let resp = srv
        .post_form(
            "/introspect",
            Some((&plain.client.client_id, plain.secret.as_deref().unwrap())),
            &[("token", &issued)],
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "feature_disabled"
    );
    let discovery = srv.get_json("/.well-known/openid-configuration").await;
    assert!(
        discovery.get("introspection_endpoint").is_none(),
        "{discovery}"
    );

    // The stale tag is refused now that the configuration moved on.
    let on = json!([{"op": "replace", "path": "/features/introspection", "value": true}]);
    problem(
        call(
            &srv,
            Method::PATCH,
            "/config",
            t,
            Some(&first),
            Some(on.clone()),
        )
        .await,
        412,
    )
    .await;

    // Refused keys and values are named, and change nothing.
    for (ops, key) in [
        (
            json!([{"op": "replace", "path": "/listen", "value": "0.0.0.0:1"}]),
            "listen",
        ),
        (
            json!([{"op": "replace", "path": "/outbound/timeout_ms", "value": 1}]),
            "outbound.timeout_ms",
        ),
        (
            json!([{"op": "add", "path": "/tokens/bogus", "value": 1}]),
            "tokens.bogus",
        ),
        (
            json!([{"op": "replace", "path": "/tokens/access_token_lifetime", "value": "long"}]),
            "tokens.access_token_lifetime",
        ),
        (
            json!([{"op": "replace", "path": "/log/level", "value": "no=such=level"}]),
            "log.level",
        ),
        (
            json!([{"op": "replace", "path": "/master_key", "value": "x"}]),
            "master_key",
        ),
    ] {
        let p = problem(
            call(&srv, Method::PATCH, "/config", t, Some(&second), Some(ops)).await,
            400,
        )
        .await;
        assert!(p["detail"].as_str().unwrap().starts_with(key), "{key}: {p}");
    }
    let p = problem(
        call(
            &srv,
            Method::PATCH,
            "/config",
            t,
            Some(&second),
            Some(json!([{"op": "remove", "path": "/nothing"}])),
        )
        .await,
        400,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("does not apply"),
        "{p}"
    );

    // Properties apply to the next request: a shorter access-token lifetime, and the flag back on.
    let resp = call(
        &srv,
        Method::PATCH,
        "/config",
        t,
        Some(&second),
        Some(json!([
            {"op": "replace", "path": "/features/introspection", "value": true},
            {"op": "replace", "path": "/tokens/access_token_lifetime", "value": 600},
            {"op": "replace", "path": "/log/level", "value": "info,tessera=debug"},
            {"op": "replace", "path": "/log/oauth_audit", "value": true},
        ])),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(
        view["overrides"],
        json!({"tokens": {"access_token_lifetime": 600}, "log": {"level": "info,tessera=debug", "oauth_audit": true}})
    );
    let fresh = srv.token(&plain, &[]).await;
    assert_eq!(fresh["expires_in"], 600);
    let fresh = fresh["access_token"].as_str().unwrap();
    let resp = srv
        .post_form(
            "/revoke",
            Some((&plain.client.client_id, plain.secret.as_deref().unwrap())),
            &[("token", fresh)],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(srv.introspect(&plain, &issued).await["active"], true);
    assert!(
        srv.get_json("/.well-known/openid-configuration").await["introspection_endpoint"]
            .is_string()
    );
    // Stored: a restart on the same database comes up with it.
    assert_eq!(srv.state.store().server_config().await.unwrap().revision, 2);

    // Each change is in the audit log with the overrides before and after.
    let auditor = token(&srv, &reg, "tessera.admin.audit.read").await;
    let log: Value = call(
        &srv,
        Method::GET,
        "/audit?resource=config",
        Some(&auditor),
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(log["total"], 2, "{log}");
    assert_eq!(log["items"][0]["action"], "config.patch");
    assert_eq!(log["items"][0]["resource_id"], "2");
    assert_eq!(
        log["items"][0]["before"],
        json!({"features": {"introspection": false}})
    );
    assert_eq!(log["items"][0]["after"], view["overrides"]);
    assert_eq!(log["items"][1]["before"], json!({}));
    // With OAuth audit logging on, token issuance and revocation are recorded too, without
    // the token.
    // (The auditor's own token was issued with it on too; filter by client.)
    let path = format!(
        "/audit?resource=oauth&actor_client={}",
        plain.client.client_id
    );
    let resp = call(&srv, Method::GET, &path, Some(&auditor), None, None).await;
    let text = resp.text().await.unwrap();
    assert!(!text.contains(fresh), "{text}");
    let log: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(log["total"], 2, "{log}");
    assert_eq!(log["items"][0]["action"], "oauth.token_revoked");
    assert_eq!(log["items"][1]["action"], "oauth.token_issued");
    assert_eq!(
        log["items"][1]["actor_client"],
        plain.client.client_id.as_str()
    );
    assert_eq!(log["items"][1]["after"]["grant_type"], "client_credentials");

    // Enabled ACRs (seed 001): a view of the acr section, changed with its own tag.
    let resp = call(&srv, Method::GET, "/acrs", t, None, None).await;
    assert_eq!(resp.status(), 200);
    let acr_tag = etag(&resp);
    let acrs: Value = resp.json().await.unwrap();
    assert_eq!(
        acrs,
        json!({"enabled": ["simple_password_auth"], "default": "simple_password_auth"})
    );
    let wanted = json!({"enabled": ["simple_password_auth", "passkey"], "default": "passkey"});
    problem(
        call(
            &srv,
            Method::PUT,
            "/acrs",
            t,
            Some("\"x\""),
            Some(wanted.clone()),
        )
        .await,
        412,
    )
    .await;
    let bad = json!({"enabled": ["passkey"], "default": "otp"});
    let p = problem(
        call(&srv, Method::PUT, "/acrs", t, Some(&acr_tag), Some(bad)).await,
        400,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().starts_with("acr.default"),
        "{p}"
    );
    let resp = call(
        &srv,
        Method::PUT,
        "/acrs",
        t,
        Some(&acr_tag),
        Some(wanted.clone()),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_ne!(etag(&resp), acr_tag);
    assert_eq!(resp.json::<Value>().await.unwrap(), wanted);
    let discovery = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(discovery["acr_values_supported"], wanted["enabled"]);
    problem(
        call(&srv, Method::PUT, "/acrs", t, Some(&acr_tag), Some(wanted)).await,
        412,
    )
    .await;

    // Reading needs the config scope.
    let other = token(&srv, &reg, "tessera.admin.clients.read").await;
    problem(
        call(&srv, Method::GET, "/config", Some(&other), None, None).await,
        403,
    )
    .await;
    srv.stop().await;
}

async fn exports_and_imports_the_configuration(db: Db) {
    let source = TestServer::start(db).await;
    let reg = admin(&source).await;
    let bearer = token(&source, &reg, "tessera.admin").await;
    let t = Some(bearer.as_str());
    let resp = call(
        &source,
        Method::POST,
        "/clients",
        t,
        None,
        Some(json!({"client_id": "inventory", "client_name": "Inventory", "grant_types": ["client_credentials"], "response_types": [], "scope": "inventory.read"})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let source_secret = resp.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = call(
        &source,
        Method::POST,
        "/scopes",
        t,
        None,
        Some(json!({"id": "reports.read", "scope_type": "oauth", "description": "Read reports"})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let ops = json!([{"op": "replace", "path": "/tokens/access_token_lifetime", "value": 900}]);
    tessera::admin::config::patch(&source.state, ops, "*", "test", source.state.now())
        .await
        .unwrap();

    let resp = call(&source, Method::GET, "/export", t, None, None).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains(&source_secret) && !text.contains("client_secret\""),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "tessera-export/1");
    assert_eq!(
        doc["config"],
        json!({"tokens": {"access_token_lifetime": 900}})
    );
    source.stop().await;

    // Into a fresh server: everything created, the confidential client with a new secret.
    let target = TestServer::start(db).await;
    let reg = admin(&target).await;
    let bearer = token(&target, &reg, "tessera.admin").await;
    let t = Some(bearer.as_str());
    let resp = call(&target, Method::POST, "/import", t, None, Some(doc.clone())).await;
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.unwrap();
    let created = report["created"].as_array().unwrap();
    assert!(created.contains(&json!("clients/inventory")), "{report}");
    assert!(created.contains(&json!("scopes/reports.read")), "{report}");
    assert_eq!(report["updated"], json!(["config"]), "{report}");
    let secret = report["secrets"]["inventory"].as_str().unwrap();
    assert_ne!(secret, source_secret);
    let issued = target
        .post_form(
            "/token",
            Some(("inventory", secret)),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "inventory.read"),
            ],
        )
        .await;
    assert_eq!(issued.status(), 200);
    assert_eq!(issued.json::<Value>().await.unwrap()["expires_in"], 900);

    // Again: nothing changes.
    let again: Value = call(&target, Method::POST, "/import", t, None, Some(doc.clone()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["created"], json!([]), "{again}");
    assert_eq!(again["updated"], json!([]), "{again}");
    assert!(again["unchanged"].as_u64().unwrap() >= 3, "{again}");
    assert_eq!(again["secrets"], json!({}));

    // A changed item is updated; a secret in the document is refused by name.
    let mut changed = doc.clone();
    let i = changed["clients"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["client_id"] == "inventory")
        .unwrap();
    changed["clients"][i]["client_name"] = json!("Inventory v2");
    let report: Value = call(
        &target,
        Method::POST,
        "/import",
        t,
        None,
        Some(changed.clone()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(report["updated"], json!(["clients/inventory"]), "{report}");
    changed["clients"][i]["client_secret"] = json!("a-secret-in-the-document");
    let p = problem(
        call(&target, Method::POST, "/import", t, None, Some(changed)).await,
        400,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("clients[{i}]: client_secret")),
        "{p}"
    );
    let p = problem(
        call(
            &target,
            Method::POST,
            "/import",
            t,
            None,
            Some(json!({"format": "other"})),
        )
        .await,
        400,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("exported_at")
            || p["detail"].as_str().unwrap().contains("format"),
        "{p}"
    );
    target.stop().await;
}

/// The claims of a fresh JWT access token of `c`.
async fn access_claims(srv: &TestServer, c: &Registered) -> Value {
    let t = srv.access_token(c).await;
    tessera_tests::jwt_parts(&t).1
}

async fn deploys_plugins_through_the_api(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = admin(&srv).await;
    let bearer = token(&srv, &reg, "tessera.admin.plugins.write").await;
    let t = Some(bearer.as_str());
    let name = "add-tenant-claims";
    let wasm = tessera_tests::plugins::wasm(name);
    let manifest =
        std::fs::read_to_string(tessera_tests::plugins::built().join(format!("{name}.toml")))
            .unwrap();
    let sha = tessera_tests::plugins::sha256_hex(&wasm);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&wasm);
    let upload =
        |sha: &str| json!({"name": name, "manifest": manifest, "wasm": b64, "sha256": sha});
    let client = srv.cc_client("client_secret_basic", true).await;
    assert!(access_claims(&srv, &client).await.get("tenant").is_none());

    // A checksum that is not the component's is refused, naming it; nothing is stored.
    let wrong = "0".repeat(64);
    let p = problem(
        call(
            &srv,
            Method::POST,
            "/plugins",
            t,
            None,
            Some(upload(&wrong)),
        )
        .await,
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().starts_with("sha256: "), "{p}");
    assert!(srv.state.store().list_plugins().await.unwrap().is_empty());
    // So is a component that is not one.
    let junk = json!({"name": name, "manifest": manifest, "wasm": "AGFzbQEAAAA=", "sha256": tessera_tests::plugins::sha256_hex(b"\0asm\x01\0\0\0")});
    problem(
        call(&srv, Method::POST, "/plugins", t, None, Some(junk)).await,
        400,
    )
    .await;

    // The right one serves at once.
    let resp = call(&srv, Method::POST, "/plugins", t, None, Some(upload(&sha))).await;
    assert_eq!(resp.status(), 201);
    let deployed: Value = resp.json().await.unwrap();
    assert_eq!(deployed["state"], "loaded", "{deployed}");
    // The deployment's end on this server: when the new version finished loading.
    assert!(
        deployed["loaded_at"].as_i64().is_some_and(|t| t > 0),
        "{deployed}"
    );
    assert_eq!(deployed["sha256"], sha);
    assert_eq!(deployed["hook"], "update-token");
    assert_eq!(
        deployed["uploaded_by"],
        tessera::admin::clients::ADMIN_CLIENT_ID
    );
    assert_eq!(access_claims(&srv, &client).await["tenant"], "acme");
    let list: Value = call(&srv, Method::GET, "/plugins", t, None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["name"], name);
    assert!(list["items"][0]["calls"].as_u64().unwrap() >= 1, "{list}");

    // Removed: it stops at once.
    assert_eq!(
        call(
            &srv,
            Method::DELETE,
            &format!("/plugins/{name}"),
            t,
            None,
            None
        )
        .await
        .status(),
        204
    );
    assert!(access_claims(&srv, &client).await.get("tenant").is_none());
    problem(
        call(
            &srv,
            Method::DELETE,
            &format!("/plugins/{name}"),
            t,
            None,
            None,
        )
        .await,
        404,
    )
    .await;
    srv.stop().await;
}

/// The plugin's view, once `ready` holds for it (canary comparisons finish off the request
/// path).
async fn plugin_view(
    srv: &TestServer,
    t: &str,
    name: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let v: Value = call(
            srv,
            Method::GET,
            &format!("/plugins/{name}"),
            Some(t),
            None,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        if ready(&v) {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the plugin view never got ready");
}

async fn runs_canaries_in_shadow_and_promotes_them(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = admin(&srv).await;
    let bearer = token(&srv, &reg, "tessera.admin.plugins.write").await;
    let t = Some(bearer.as_str());
    let name = "add-tenant-claims";
    let wasm = tessera_tests::plugins::wasm(name);
    let sha = tessera_tests::plugins::sha256_hex(&wasm);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&wasm);
    let manifest =
        std::fs::read_to_string(tessera_tests::plugins::built().join(format!("{name}.toml")))
            .unwrap();
    let canary_manifest = manifest
        .replace("version = \"1.0.0\"", "version = \"1.1.0\"")
        .replace("tenant = \"acme\"", "tenant = \"globex\"");
    let canary = |m: &str, sample: u32| json!({"manifest": m, "wasm": b64, "sha256": sha, "sample_percent": sample});
    let client = srv.cc_client("client_secret_basic", true).await;
    let canary_path = format!("/plugins/{name}/canary");
    // No live plugin yet: nothing to run a canary beside.
    problem(
        call(
            &srv,
            Method::PUT,
            &canary_path,
            t,
            None,
            Some(canary(&canary_manifest, 50)),
        )
        .await,
        404,
    )
    .await;
    let deployed = call(
        &srv,
        Method::POST,
        "/plugins",
        t,
        None,
        Some(json!({"name": name, "manifest": manifest, "wasm": b64, "sha256": sha})),
    )
    .await;
    assert_eq!(deployed.status(), 201);
    // A share outside 1..=100 and a canary of another hook are refused by name.
    let p = problem(
        call(
            &srv,
            Method::PUT,
            &canary_path,
            t,
            None,
            Some(canary(&canary_manifest, 0)),
        )
        .await,
        400,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().starts_with("sample_percent"),
        "{p}"
    );
    let other = tessera_tests::plugins::wasm("revoke-guard");
    let other_manifest = format!(
        "name = \"{name}\"\nhook = \"revoke-token\"\nversion = \"2.0.0\"\nsha256 = \"{}\"\n",
        tessera_tests::plugins::sha256_hex(&other)
    );
    let p = problem(
        call(
            &srv,
            Method::PUT,
            &canary_path,
            t,
            None,
            Some(json!({
                "manifest": other_manifest,
                "wasm": base64::engine::general_purpose::STANDARD.encode(&other),
                "sha256": tessera_tests::plugins::sha256_hex(&other),
                "sample_percent": 100,
            })),
        )
        .await,
        400,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("live version serves update-token"),
        "{p}"
    );

    // Half the calls also run the canary; its answers are compared, never used.
    let resp = call(
        &srv,
        Method::PUT,
        &canary_path,
        t,
        None,
        Some(canary(&canary_manifest, 50)),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["canary"]["version"], "1.1.0");
    assert_eq!(v["canary"]["state"], "running");
    assert_eq!(v["canary"]["compared"], 0);
    for _ in 0..4 {
        assert_eq!(access_claims(&srv, &client).await["tenant"], "acme");
    }
    let v = plugin_view(&srv, &bearer, name, |v| v["canary"]["compared"] == 2).await;
    assert_eq!(v["canary"]["different"], 2, "{v}");
    assert!(
        v["canary"]["p50_us"].as_u64().is_some(),
        "the canary's own latency: {v}"
    );
    assert_eq!(v["canary"]["same"], 0, "{v}");
    let sample = &v["canary"]["samples"][0];
    assert!(
        sample["live"].as_str().unwrap().contains("acme"),
        "{sample}"
    );
    assert!(
        sample["canary"].as_str().unwrap().contains("globex"),
        "{sample}"
    );
    assert_eq!(v["calls"], 4, "{v}");
    assert!(
        v["p50_us"].as_u64().unwrap() > 0 && v["p99_us"].as_u64() >= v["p50_us"].as_u64(),
        "{v}"
    );

    // Promotion names the canary reviewed: a stale checksum promotes nothing.
    let promote = format!("/plugins/{name}/canary/promote");
    problem(
        call(
            &srv,
            Method::POST,
            &promote,
            t,
            None,
            Some(json!({"sha256": "0".repeat(64)})),
        )
        .await,
        404,
    )
    .await;
    let resp = call(
        &srv,
        Method::POST,
        &promote,
        t,
        None,
        Some(json!({"sha256": sha})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["version"], "1.1.0", "{v}");
    assert_eq!(v["serving_version"], "1.1.0", "{v}");
    assert!(v["canary"].is_null(), "{v}");
    assert_eq!(access_claims(&srv, &client).await["tenant"], "globex");

    // A canary that answers the same counts as the same; discarding it stops it.
    let resp = call(
        &srv,
        Method::PUT,
        &canary_path,
        t,
        None,
        Some(canary(&canary_manifest.replace("1.1.0", "1.2.0"), 100)),
    )
    .await;
    assert_eq!(resp.status(), 201);
    access_claims(&srv, &client).await;
    let v = plugin_view(&srv, &bearer, name, |v| v["canary"]["compared"] == 1).await;
    assert_eq!(v["canary"]["same"], 1, "{v}");
    assert_eq!(
        call(&srv, Method::DELETE, &canary_path, t, None, None)
            .await
            .status(),
        204
    );
    assert!(plugin_view(&srv, &bearer, name, |_| true).await["canary"].is_null());
    problem(
        call(&srv, Method::DELETE, &canary_path, t, None, None).await,
        404,
    )
    .await;

    // Disabled: it stops serving; enabled again: it serves.
    let enabled = |on: bool| {
        srv.http
            .patch(srv.url(&format!("{API}/plugins/{name}")))
            .bearer_auth(&bearer)
            .json(&json!({"enabled": on}))
            .send()
    };
    let v: Value = enabled(false).await.unwrap().json().await.unwrap();
    assert_eq!(v["enabled"], false, "{v}");
    assert_eq!(v["state"], "disabled", "{v}");
    assert!(access_claims(&srv, &client).await.get("tenant").is_none());
    let v: Value = enabled(true).await.unwrap().json().await.unwrap();
    assert_eq!(v["state"], "loaded", "{v}");
    assert_eq!(access_claims(&srv, &client).await["tenant"], "globex");
    srv.stop().await;
}

async fn manages_users_and_administrators(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = admin(&srv).await;
    let bearer = token(&srv, &reg, "tessera.admin.users.write").await;
    let t = Some(bearer.as_str());
    let carol = json!({"username": "carol", "password": "password123", "email": "carol@example.com", "department": "R&D"});
    let resp = call(&srv, Method::POST, "/users", t, None, Some(carol.clone())).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["location"], format!("{API}/users/carol"));
    let tag = etag(&resp);
    let made: Value = resp.json().await.unwrap();
    assert_eq!(made["username"], "carol");
    assert_eq!(made["department"], "R&D");
    assert_eq!(made["tessera_roles"], json!([]));
    assert!(
        made.get("password").is_none() && !made.to_string().contains("argon2"),
        "{made}"
    );
    problem(
        call(&srv, Method::POST, "/users", t, None, Some(carol)).await,
        409,
    )
    .await;
    let list: Value = call(&srv, Method::GET, "/users?pattern=car", t, None, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);

    // Changes are JSON Patches under If-Match; fixed members are refused by name.
    let ops = json!([
        {"op": "replace", "path": "/email", "value": "carol@example.org"},
        {"op": "remove", "path": "/department"},
        {"op": "replace", "path": "/tessera_roles", "value": ["admin"]},
        {"op": "add", "path": "/password", "value": "another-password-1"},
    ]);
    problem(
        call(
            &srv,
            Method::PATCH,
            "/users/carol",
            t,
            None,
            Some(ops.clone()),
        )
        .await,
        428,
    )
    .await;
    problem(
        call(
            &srv,
            Method::PATCH,
            "/users/carol",
            t,
            Some("\"stale\""),
            Some(ops.clone()),
        )
        .await,
        412,
    )
    .await;
    let p = problem(
        call(
            &srv,
            Method::PATCH,
            "/users/carol",
            t,
            Some(&tag),
            Some(json!([{"op": "replace", "path": "/sub", "value": "x"}])),
        )
        .await,
        400,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("sub: cannot be changed"),
        "{p}"
    );
    let resp = call(
        &srv,
        Method::PATCH,
        "/users/carol",
        t,
        Some(&tag),
        Some(ops.clone()),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["email"], "carol@example.org");
    assert!(changed.get("department").is_none(), "{changed}");
    // The old tag no longer matches: a second administrator's change is refused, not lost.
    problem(
        call(
            &srv,
            Method::PATCH,
            "/users/carol",
            t,
            Some(&tag),
            Some(ops),
        )
        .await,
        412,
    )
    .await;
    let stored = srv
        .state
        .store()
        .find_user_by_username("carol")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.is_admin());
    assert!(tessera::crypto::password::verify(
        "another-password-1",
        Some(&stored.password_hash)
    ));
    assert!(!tessera::crypto::password::verify(
        "password123",
        Some(&stored.password_hash)
    ));
    // A reader cannot change users.
    let reader = token(&srv, &reg, "tessera.admin.users.read").await;
    problem(
        call(
            &srv,
            Method::POST,
            "/users",
            Some(&reader),
            None,
            Some(json!({"username": "dave", "password": "password123"})),
        )
        .await,
        403,
    )
    .await;
    srv.stop().await;
}

/// `remove` of a setting resets it to the file value: the override is gone.
async fn a_removed_setting_goes_back_to_its_file_value(db: Db) {
    let srv = TestServer::start(db).await;
    let reg = admin(&srv).await;
    let bearer = token(&srv, &reg, "tessera.admin.config.write").await;
    let t = Some(bearer.as_str());
    let file_value = srv.state.settings().tokens.access_token_lifetime;
    let resp = call(&srv, Method::GET, "/config", t, None, None).await;
    let set = json!([{"op": "replace", "path": "/accessTokenLifetime", "value": 77}]);
    let resp = call(
        &srv,
        Method::PATCH,
        "/config",
        t,
        Some(&etag(&resp)),
        Some(set),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(srv.state.settings().tokens.access_token_lifetime, 77);
    let unset = json!([{"op": "remove", "path": "/tokens/access_token_lifetime"}]);
    let resp = call(
        &srv,
        Method::PATCH,
        "/config",
        t,
        Some(&etag(&resp)),
        Some(unset),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["overrides"], json!({}), "{v}");
    assert_eq!(
        srv.state.settings().tokens.access_token_lifetime,
        file_value
    );
    srv.stop().await;
}

on_both_backends!(
    manages_users_and_administrators,
    a_removed_setting_goes_back_to_its_file_value,
    runs_canaries_in_shadow_and_promotes_them,
    refuses_calls_without_the_right_token,
    manages_clients_without_lost_updates,
    manages_scopes_keys_and_sessions,
    changes_the_configuration_at_run_time,
    exports_and_imports_the_configuration,
    deploys_plugins_through_the_api,
);

/// The OpenAPI document is 3.1, covers every resource, and schemathesis (PyPI) finds no 5xx
/// and no response outside the schema in a bounded run with an all-scope token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_holds_under_schemathesis() {
    let srv = TestServer::start(Db::Sqlite).await;
    let doc = srv.get_json("/admin/api/openapi.json").await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/admin/api/v1/clients",
        "/admin/api/v1/clients/{client_id}",
        "/admin/api/v1/clients/{client_id}/secret",
        "/admin/api/v1/scopes",
        "/admin/api/v1/scopes/{id}",
        "/admin/api/v1/keys",
        "/admin/api/v1/keys/rotate",
        "/admin/api/v1/keys/{kid}/retire",
        "/admin/api/v1/sessions",
        "/admin/api/v1/sessions/{sid}",
        "/admin/api/v1/config",
        "/admin/api/v1/audit",
        "/admin/api/v1/acrs",
        "/admin/api/v1/export",
        "/admin/api/v1/import",
        "/admin/api/v1/plugins",
        "/admin/api/v1/plugins/{name}",
        "/admin/api/v1/plugins/{name}/canary",
        "/admin/api/v1/plugins/{name}/canary/promote",
        "/admin/api/v1/users",
        "/admin/api/v1/users/{username}",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    assert_eq!(all_scopes().len(), 16);

    let reg = admin(&srv).await;
    let t = token(&srv, &reg, "tessera.admin").await;
    let tmp = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let work = tmp.join("schemathesis");
    std::fs::create_dir_all(&work).unwrap();
    let pythonpath = tokio::task::spawn_blocking(move || {
        tessera_tests::e2e::pip_install_from(&tmp, "requirements-schemathesis.txt")
    })
    .await
    .unwrap();
    let schema = srv.url("/admin/api/openapi.json");
    let base = srv.base.clone();
    let out = tokio::process::Command::new("python3")
        .args(["-m", "schemathesis.cli", "run", &schema, "--url", &base])
        .args(["--header", &format!("Authorization: Bearer {t}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
        ])
        .args(["--max-examples", "15", "--seed", "1", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .env("PYTHONPATH", &pythonpath)
        .env("SCHEMATHESIS_HOOKS", "")
        // Its cache of found crashes goes under target/, not into the source tree.
        .current_dir(&work)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert!(
        stdout.contains(&format!("Tested: {operations}")),
        "schemathesis did not test all {operations} operations:\n{stdout}"
    );
    srv.stop().await;
}
