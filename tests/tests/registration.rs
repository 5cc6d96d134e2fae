//! Dynamic client registration (RFC 7591) and client configuration (RFC 7592), flag
//! REGISTRATION, on SQLite and PostgreSQL through HTTP: the initial access token, what a client
//! may and may not register (refused by name), the registered client working, reading,
//! replacing (token rotation, secrets, what an administrator set kept, one winner under a race)
//! and deleting (its tokens inactive at once), sector identifiers fetched and checked.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::oauth::registration::Registered;
use tessera_tests::{Db, TestServer, challenge, on_both_backends};

/// An initial access token: a client_credentials token carrying `dynamic_registration`.
async fn initial_access_token(srv: &TestServer) -> String {
    let registrar = srv
        .client(
            json!({"grant_types": ["client_credentials"], "scope": "dynamic_registration other"}),
        )
        .await;
    srv.token(&registrar, &[("scope", "dynamic_registration")])
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn post_register(srv: &TestServer, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = srv.http.post(srv.url("/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// Registers `body` and returns the 201 answer's JSON.
async fn register(srv: &TestServer, iat: &str, body: Value) -> Value {
    let resp = post_register(srv, Some(iat), &body).await;
    assert_eq!(
        resp.status(),
        201,
        "registration refused: {:?}",
        resp.text().await
    );
    resp.json().await.unwrap()
}

/// The `error` of a refused registration request (its status must be 400) and its description.
async fn refused(resp: reqwest::Response) -> (String, String) {
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    (
        v["error"].as_str().unwrap().to_string(),
        v["error_description"].as_str().unwrap().to_string(),
    )
}

/// A registered client as the test helpers take it.
async fn as_registered(srv: &TestServer, info: &Value) -> Registered {
    let client_id = info["client_id"].as_str().unwrap();
    Registered {
        client: srv
            .state
            .store()
            .find_client(client_id)
            .await
            .unwrap()
            .map(std::sync::Arc::unwrap_or_clone)
            .unwrap(),
        secret: info["client_secret"].as_str().map(str::to_string),
    }
}

async fn config_get(srv: &TestServer, info: &Value, token: &str) -> reqwest::Response {
    srv.http
        .get(info["registration_client_uri"].as_str().unwrap())
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn config_put(
    srv: &TestServer,
    info: &Value,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    srv.http
        .put(info["registration_client_uri"].as_str().unwrap())
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn rat(info: &Value) -> String {
    info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn registration_needs_an_initial_access_token_and_answers_rfc7591(db: Db) {
    let srv = TestServer::start(db).await;
    let body = json!({"client_name": "Self-made", "redirect_uris": ["https://rp.example/cb"]});

    // No token: a bare challenge; a token without the scope: insufficient_scope.
    let resp = post_register(&srv, None, &body).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(challenge(&resp), "Bearer realm=\"tessera\"");
    let other = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": "other"}))
        .await;
    let other_token = srv.access_token(&other).await;
    let resp = post_register(&srv, Some(&other_token), &body).await;
    assert_eq!(resp.status(), 403);
    assert!(challenge(&resp).contains("error=\"insufficient_scope\""));
    assert!(challenge(&resp).contains("scope=\"dynamic_registration\""));
    let resp = post_register(&srv, Some("not-a-token"), &body).await;
    assert_eq!(resp.status(), 401);
    assert!(challenge(&resp).contains("error=\"invalid_token\""));

    let iat = initial_access_token(&srv).await;
    let resp = post_register(&srv, Some(&iat), &body).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let info: Value = resp.json().await.unwrap();
    let id = info["client_id"].as_str().unwrap();
    assert_eq!(
        info["registration_client_uri"],
        srv.url(&format!("/register/{id}"))
    );
    assert!(rat(&info).len() >= 43);
    assert!(info["client_secret"].as_str().unwrap().len() >= 43);
    assert_eq!(info["client_secret_expires_at"], 0);
    assert!(info["client_id_issued_at"].as_i64().unwrap() > 0);
    assert_eq!(info["client_name"], "Self-made");
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(info["grant_types"], json!(["authorization_code"]));
    assert_eq!(info["response_types"], json!(["code"]));
    assert_eq!(info["id_token_signed_response_alg"], "RS256");
    // No scope asked: the default scopes (seed 001), here the OpenID ones Tessera ships with.
    let mut scopes: Vec<&str> = info["scope"].as_str().unwrap().split(' ').collect();
    scopes.sort();
    assert_eq!(
        scopes,
        [
            "address",
            "email",
            "offline_access",
            "openid",
            "phone",
            "profile"
        ]
    );
    // What only an administrator sets is not part of the client's metadata.
    for key in [
        "trusted_client",
        "scripts",
        "active",
        "expires_at",
        "resources",
    ] {
        assert!(info.get(key).is_none(), "{key} answered");
    }
    // Stored: the secret and the registration token only as hashes.
    let stored = srv.state.store().find_client(id).await.unwrap().unwrap();
    assert_ne!(
        stored.secret_hash.as_deref(),
        info["client_secret"].as_str()
    );

    // A client_credentials client registered this way gets tokens with its secret.
    let cc = register(
        &srv,
        &iat,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post", "scope": "openid"}),
    )
    .await;
    assert_eq!(cc["response_types"], json!([]));
    let resp = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", cc["client_id"].as_str().unwrap()),
                ("client_secret", cc["client_secret"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);

    // Discovery names the endpoint.
    let doc = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["registration_endpoint"], srv.url("/register"));
    srv.stop().await;
}

async fn what_a_client_may_not_register_is_refused_by_name(db: Db) {
    let srv = TestServer::start(db).await;
    let iat = initial_access_token(&srv).await;
    let web = |extra: Value| {
        let mut v = json!({"redirect_uris": ["https://rp.example/cb"]});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let cases: &[(Value, &str, &str)] = &[
        (
            web(json!({"trusted_client": true})),
            "invalid_client_metadata",
            "trusted_client:",
        ),
        (
            web(json!({"scripts": ["x"]})),
            "invalid_client_metadata",
            "scripts:",
        ),
        (
            web(json!({"access_token_lifetime": 86400})),
            "invalid_client_metadata",
            "access_token_lifetime:",
        ),
        (
            web(json!({"resources": ["https://api.example"]})),
            "invalid_client_metadata",
            "resources:",
        ),
        (
            web(json!({"redirect_uris_regex": ".*"})),
            "invalid_client_metadata",
            "redirect_uris_regex:",
        ),
        (
            web(json!({"scope": "openid admin"})),
            "invalid_client_metadata",
            "scope:",
        ),
        (
            web(json!({"grant_types": ["authorization_code", "password"]})),
            "invalid_client_metadata",
            "grant_types:",
        ),
        (
            web(json!({"response_types": ["token"]})),
            "invalid_client_metadata",
            "response_types:",
        ),
        (
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            "invalid_client_metadata",
            "response_types:",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
            "grant_types:",
        ),
        (
            web(json!({"token_endpoint_auth_method": "tls_client_auth"})),
            "invalid_client_metadata",
            "token_endpoint_auth_method:",
        ),
        (
            web(json!({"redirect_uris": "https://rp.example/cb"})),
            "invalid_client_metadata",
            "redirect_uris:",
        ),
        (
            web(json!({"jwks": {"keys": "no"}})),
            "invalid_client_metadata",
            "jwks:",
        ),
        (
            json!({"client_name": "no redirect"}),
            "invalid_redirect_uri",
            "redirect_uris:",
        ),
        (
            web(json!({"redirect_uris": ["javascript:alert(1)"]})),
            "invalid_redirect_uri",
            "redirect_uris:",
        ),
        (
            web(json!({"redirect_uris": ["com.example.app:/cb"]})),
            "invalid_redirect_uri",
            "redirect_uris:",
        ),
        (
            web(json!({"redirect_uris": ["https://rp.example/cb#frag"]})),
            "invalid_redirect_uri",
            "redirect_uris:",
        ),
        (
            web(json!({"sector_identifier_uri": "http://sector.example/s.json"})),
            "invalid_client_metadata",
            "sector_identifier_uri:",
        ),
    ];
    for (body, code, prefix) in cases {
        let (error, description) = refused(post_register(&srv, Some(&iat), body).await).await;
        assert_eq!(&error, code, "{body}: {description}");
        assert!(description.starts_with(prefix), "{body}: {description}");
    }
    // A native app may use its own scheme; sending back an administrator field unchanged is fine.
    let native = register(
        &srv,
        &iat,
        json!({"application_type": "native", "token_endpoint_auth_method": "none", "redirect_uris": ["com.example.app:/cb"], "trusted_client": false, "resources": []}),
    )
    .await;
    assert!(native.get("client_secret").is_none());
    // Unknown members are ignored (RFC 7591 §2), and so is a chosen client_id.
    let odd = register(
        &srv,
        &iat,
        web(json!({"x_extension": 1, "client_id": "mine"})),
    )
    .await;
    assert!(odd.get("x_extension").is_none());
    assert_ne!(odd["client_id"], "mine");
    // A software statement this server did not sign (SSA on): invalid_software_statement;
    // with SSA off it is ignored (RFC 7591 §3.1.1).
    let unsigned = web(json!({"software_statement": "e30.e30."}));
    let (error, _) = refused(post_register(&srv, Some(&iat), &unsigned).await).await;
    assert_eq!(error, "invalid_software_statement");
    srv.state
        .set_feature(tessera::config::FeatureFlag::Ssa, false);
    let ignored = register(&srv, &iat, unsigned).await;
    assert!(ignored.get("software_statement").is_none());
    srv.state
        .set_feature(tessera::config::FeatureFlag::Ssa, true);

    // Not JSON, or not an object: invalid_request.
    let resp = srv
        .http
        .post(srv.url("/register"))
        .bearer_auth(&iat)
        .form(&[("redirect_uris", "https://rp.example/cb")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused(resp).await.0, "invalid_request");
    for raw in ["[1]", "{", "\"x\""] {
        let resp = srv
            .http
            .post(srv.url("/register"))
            .bearer_auth(&iat)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(refused(resp).await.0, "invalid_request", "{raw}");
    }
    let big =
        json!({"client_name": "x".repeat(70 * 1024), "redirect_uris": ["https://rp.example/cb"]});
    assert_eq!(post_register(&srv, Some(&iat), &big).await.status(), 413);
    srv.stop().await;
}

async fn the_registration_access_token_reads_replaces_and_deletes(db: Db) {
    let srv = TestServer::start(db).await;
    let iat = initial_access_token(&srv).await;
    let info = register(
        &srv,
        &iat,
        json!({"client_name": "Before", "grant_types": ["authorization_code", "client_credentials"], "redirect_uris": ["https://rp.example/cb"], "scope": "openid profile"}),
    )
    .await;
    let token1 = rat(&info);

    // Read: the same metadata and the token just used; no secret.
    let resp = config_get(&srv, &info, &token1).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let read: Value = resp.json().await.unwrap();
    assert_eq!(read["client_id"], info["client_id"]);
    assert_eq!(read["client_name"], "Before");
    assert_eq!(read["registration_access_token"], token1.as_str());
    assert!(read.get("client_secret").is_none());

    // Wrong token, another client's token, a client the token does not manage, a client an
    // administrator created: all 401 invalid_token.
    let other = register(
        &srv,
        &iat,
        json!({"redirect_uris": ["https://rp.example/cb"]}),
    )
    .await;
    let cli = srv.web_client(json!({})).await;
    let cli_uri =
        json!({"registration_client_uri": srv.url(&format!("/register/{}", cli.client.client_id))});
    for (target, token) in [(&info, "nope"), (&info, &rat(&other)), (&cli_uri, &token1)] {
        let resp = config_get(&srv, target, token).await;
        assert_eq!(resp.status(), 401);
        assert!(challenge(&resp).contains("error=\"invalid_token\""));
    }
    let resp = srv
        .http
        .get(info["registration_client_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // An administrator makes it trusted; the client cannot undo or change that.
    let mut admin_view = srv
        .state
        .store()
        .find_client(info["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap()
        .metadata
        .clone();
    admin_view.trusted_client = true;
    srv.state
        .store()
        .update_client_metadata(
            info["client_id"].as_str().unwrap(),
            &admin_view,
            srv.state.now(),
        )
        .await
        .unwrap();
    let mut change = read.clone();
    for k in [
        "registration_access_token",
        "registration_client_uri",
        "client_id_issued_at",
    ] {
        change.as_object_mut().unwrap().remove(k);
    }
    change["client_name"] = json!("After");
    change["redirect_uris"] = json!(["https://rp.example/cb2"]);

    // RFC 7592 §2.2 refusals.
    for (k, v) in [
        ("registration_access_token", json!(token1)),
        ("client_secret_expires_at", json!(0)),
        ("client_id", json!("someone-else")),
        ("client_secret", json!("wrong")),
        ("trusted_client", json!(false)),
    ] {
        let mut bad = change.clone();
        bad[k] = v;
        let (error, description) = refused(config_put(&srv, &info, &token1, &bad).await).await;
        let want = if k == "trusted_client" {
            "invalid_client_metadata"
        } else {
            "invalid_request"
        };
        assert_eq!(error, want, "{k}: {description}");
    }
    let mut no_id = change.clone();
    no_id.as_object_mut().unwrap().remove("client_id");
    assert_eq!(
        refused(config_put(&srv, &info, &token1, &no_id).await)
            .await
            .0,
        "invalid_request"
    );

    // Replace (sending the secret, which must match): a new token, the old one dead, the secret
    // kept (not answered), the administrator's setting kept.
    change["client_secret"] = info["client_secret"].clone();
    let resp = config_put(&srv, &info, &token1, &change).await;
    assert_eq!(resp.status(), 200);
    let replaced: Value = resp.json().await.unwrap();
    let token2 = rat(&replaced);
    assert_ne!(token2, token1);
    assert_eq!(replaced["client_name"], "After");
    assert_eq!(replaced["redirect_uris"], json!(["https://rp.example/cb2"]));
    assert!(replaced.get("client_secret").is_none());
    assert_eq!(config_get(&srv, &info, &token1).await.status(), 401);
    assert_eq!(config_get(&srv, &info, &token2).await.status(), 200);
    let stored = srv
        .state
        .store()
        .find_client(info["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.metadata.trusted_client);
    let client = as_registered(&srv, &info).await;
    let at = srv.access_token(&client).await;
    assert_eq!(srv.introspect(&client, &at).await["active"], true);

    // Two replacements racing with one token: exactly one wins.
    let (a, b) = tokio::join!(
        config_put(&srv, &info, &token2, &change),
        config_put(&srv, &info, &token2, &change)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401]);
    let winner: Value = if a.status() == 200 {
        a.json().await.unwrap()
    } else {
        b.json().await.unwrap()
    };
    let token3 = rat(&winner);

    // Switching to client_secret_jwt needs a recoverable secret: a new one is issued and the
    // old one stops working.
    let mut jwt = change.clone();
    jwt.as_object_mut().unwrap().remove("client_secret");
    jwt["token_endpoint_auth_method"] = json!("client_secret_jwt");
    let resp = config_put(&srv, &info, &token3, &jwt).await;
    assert_eq!(resp.status(), 200);
    let switched: Value = resp.json().await.unwrap();
    let new_secret = switched["client_secret"].as_str().unwrap();
    assert_ne!(Some(new_secret), info["client_secret"].as_str());
    let old = srv
        .post_form(
            "/token",
            Some((
                info["client_id"].as_str().unwrap(),
                info["client_secret"].as_str().unwrap(),
            )),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(old.status(), 401);
    let token4 = rat(&switched);

    // Delete: 204, the token it held inactive at once, the registration gone.
    let resp = srv
        .http
        .delete(info["registration_client_uri"].as_str().unwrap())
        .bearer_auth(&token4)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let introspector = srv.cc_client("client_secret_basic", false).await;
    assert_eq!(srv.introspect(&introspector, &at).await["active"], false);
    assert_eq!(config_get(&srv, &info, &token4).await.status(), 401);
    assert!(
        srv.state
            .store()
            .find_client(info["client_id"].as_str().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    srv.stop().await;
}

on_both_backends!(
    registration_needs_an_initial_access_token_and_answers_rfc7591,
    what_a_client_may_not_register_is_refused_by_name,
    the_registration_access_token_reads_replaces_and_deletes,
);

/// Open registration, a client lifetime, and sector identifiers fetched from a local server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_registration_lifetimes_and_sector_identifiers() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sector = format!("http://{}/sector.json", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/sector.json",
        axum::routing::get(|| async {
            axum::Json(json!(["https://a.example/cb", "https://b.example/cb"]))
        }),
    );
    let sector_server = tokio::spawn(async move { axum::serve(listener, app).await });
    let srv = TestServer::start_with(Db::Sqlite, |s| {
        s.registration.open = true;
        s.registration.client_lifetime = 3600;
        s.registration.allow_http_sector_identifier_uri = true;
        s.outbound.allow_internal_hosts = vec!["127.0.0.1".into()];
    })
    .await;

    // Open: no token needed. The client lives an hour.
    let resp = post_register(&srv, None, &json!({"grant_types": ["client_credentials"]})).await;
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    let now = srv.state.now();
    assert_eq!(info["client_secret_expires_at"], now + 3600);
    let client = as_registered(&srv, &info).await;
    srv.access_token(&client).await;
    srv.clock.advance(3601);
    let expired = srv
        .post_form(
            "/token",
            Some((&client.client.client_id, client.secret.as_deref().unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(expired.status(), 401);

    // Pairwise across two hosts, both listed by the sector identifier: accepted.
    let both = json!({"subject_type": "pairwise", "sector_identifier_uri": sector, "redirect_uris": ["https://a.example/cb", "https://b.example/cb"]});
    assert_eq!(post_register(&srv, None, &both).await.status(), 201);
    // A redirect URI the document does not list, or a document that is not there: refused.
    let unlisted = json!({"sector_identifier_uri": sector, "redirect_uris": ["https://a.example/cb", "https://c.example/cb"]});
    let (error, description) = refused(post_register(&srv, None, &unlisted).await).await;
    assert_eq!(error, "invalid_client_metadata");
    assert!(
        description.contains("https://c.example/cb"),
        "{description}"
    );
    let missing = json!({"sector_identifier_uri": sector.replace("sector.json", "gone.json"), "redirect_uris": ["https://a.example/cb"]});
    let (error, description) = refused(post_register(&srv, None, &missing).await).await;
    assert_eq!(error, "invalid_client_metadata");
    assert!(
        description.starts_with("sector_identifier_uri:"),
        "{description}"
    );

    // Flag off: feature_disabled, and the entry leaves discovery.
    srv.state
        .set_feature(tessera::config::FeatureFlag::Registration, false);
    let resp = post_register(&srv, None, &json!({"grant_types": ["client_credentials"]})).await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "feature_disabled");
    let resp = config_get(&srv, &info, &rat(&info)).await;
    assert_eq!(resp.status(), 403);
    assert!(
        srv.get_json("/.well-known/openid-configuration")
            .await
            .get("registration_endpoint")
            .is_none()
    );
    srv.stop().await;
    sector_server.abort();
}
