//! client_credentials, introspection, revocation, client authentication and key rotation
//! against the real server, on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used)]

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use tessera_tests::{Db, TestServer, jwt_parts, on_both_backends};

on_both_backends!(
    jwt_and_reference_tokens_introspect_and_revoke,
    revoking_one_token_revokes_its_grant_only,
    revoke_edge_cases,
    client_secret_post_and_jwt,
    private_key_jwt_inline_with_replay_refused,
    private_key_jwt_by_jwks_uri,
    scope_and_resource_rules,
    expiry_and_inactive_clients,
    concurrent_grants_lose_nothing,
    key_rotation_keeps_old_tokens_verifiable,
    group_commit_isolates_a_bad_row,
);

async fn jwt_and_reference_tokens_introspect_and_revoke(db: Db) {
    let srv = TestServer::start(db).await;
    for jwt in [true, false] {
        let c = srv.cc_client("client_secret_basic", jwt).await;
        let resp = srv
            .post_form(
                "/token",
                Some((&c.client.client_id, c.secret.as_deref().unwrap())),
                &[("grant_type", "client_credentials"), ("scope", "a b")],
            )
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "a b");
        assert_eq!(body["expires_in"], 3600);
        let at = body["access_token"].as_str().unwrap();
        if jwt {
            let (h, p) = jwt_parts(at);
            assert_eq!(h["typ"], "at+jwt");
            assert_eq!(h["alg"], "ES256");
            assert_eq!(p["client_id"], c.client.client_id);
            assert_eq!(p["scope"], "a b");
            assert_eq!(p["iss"], srv.base);
            assert!(p["jti"].is_string());
            assert_eq!(
                p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(),
                3600
            );
        } else {
            assert_eq!(at.split('.').count(), 1, "reference tokens are opaque");
            assert!(at.len() >= 43);
        }
        let i = srv.introspect(&c, at).await;
        assert_eq!(i["active"], true);
        assert_eq!(i["scope"], "a b");
        assert_eq!(i["client_id"], c.client.client_id);
        assert_eq!(i["token_type"], "Bearer");
        assert_eq!(i["iss"], srv.base);
        let r = srv
            .post_form(
                "/revoke",
                Some((&c.client.client_id, c.secret.as_deref().unwrap())),
                &[("token", at), ("token_type_hint", "access_token")],
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(srv.introspect(&c, at).await, json!({"active": false}));
        // Revoking again is still 200.
        let r = srv
            .post_form(
                "/revoke",
                Some((&c.client.client_id, c.secret.as_deref().unwrap())),
                &[("token", at)],
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    srv.stop().await;
}

async fn revoking_one_token_revokes_its_grant_only(db: Db) {
    let srv = TestServer::start(db).await;
    let c = srv.cc_client("client_secret_basic", true).await;
    let t1 = srv.access_token(&c).await;
    let t2 = srv.access_token(&c).await;
    srv.post_form(
        "/revoke",
        Some((&c.client.client_id, c.secret.as_deref().unwrap())),
        &[("token", &t1)],
    )
    .await;
    assert_eq!(srv.introspect(&c, &t1).await["active"], false);
    assert_eq!(
        srv.introspect(&c, &t2).await["active"],
        true,
        "a separate grant stays active"
    );
    srv.stop().await;
}

async fn revoke_edge_cases(db: Db) {
    let srv = TestServer::start(db).await;
    let a = srv.cc_client("client_secret_basic", false).await;
    let b = srv.cc_client("client_secret_basic", false).await;
    let (aid, asec) = (a.client.client_id.as_str(), a.secret.as_deref().unwrap());
    // Unknown token: 200 (RFC 7009 §2.2).
    let r = srv
        .post_form("/revoke", Some((aid, asec)), &[("token", "no-such-token")])
        .await;
    assert_eq!(r.status(), 200);
    // Unknown hint is ignored, the search covers every type.
    let r = srv
        .post_form(
            "/revoke",
            Some((aid, asec)),
            &[("token", "no-such-token"), ("token_type_hint", "weird")],
        )
        .await;
    assert_eq!(r.status(), 200);
    // Missing token.
    let r = srv.post_form("/revoke", Some((aid, asec)), &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // Another client's token is refused and stays active.
    let tb = srv.access_token(&b).await;
    let r = srv
        .post_form("/revoke", Some((aid, asec)), &[("token", &tb)])
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_request",
        "seed 004: other clients' tokens are refused as Janssen does"
    );
    assert_eq!(srv.introspect(&b, &tb).await["active"], true);
    // Unauthenticated revocation is refused.
    let r = srv.post_form("/revoke", None, &[("token", &tb)]).await;
    assert_eq!(r.status(), 401);
    // Introspection of unknown tokens is inactive, of a missing token invalid_request.
    assert_eq!(srv.introspect(&a, "nope").await, json!({"active": false}));
    let r = srv.post_form("/introspect", Some((aid, asec)), &[]).await;
    assert_eq!(r.status(), 400);
    srv.stop().await;
}

fn hs_assertion(client_id: &str, secret: &str, aud: &str, jti: &str, exp: i64) -> String {
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "exp": exp, "iat": exp - 60});
    encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn client_secret_post_and_jwt(db: Db) {
    let srv = TestServer::start(db).await;
    let post = srv.cc_client("client_secret_post", true).await;
    let id = post.client.client_id.clone();
    let sec = post.secret.clone().unwrap();
    let r = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &sec),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    // The same secret in a Basic header works too (issue 9: either form of a client secret).
    let r = srv
        .post_form(
            "/token",
            Some((&id, &sec)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), 200);
    // Wrong secret.
    let r = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "x"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers().get("www-authenticate").is_none(),
        "no Basic challenge when Basic was not used"
    );

    let jwt = srv.cc_client("client_secret_jwt", false).await;
    let id = jwt.client.client_id.clone();
    let sec = jwt.secret.clone().unwrap();
    let now = srv.state.now();
    let token_url = srv.url("/token");
    let a = hs_assertion(&id, &sec, &token_url, "j1", now + 60);
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            (
                "client_assertion_type",
                tessera::oauth::client_auth::JWT_BEARER.to_string(),
            ),
            ("client_assertion", a.to_string()),
        ]
    };
    let srv_ref = &srv;
    let send = move |f: Vec<(&'static str, String)>| async move {
        srv_ref
            .http
            .post(srv_ref.url("/token"))
            .form(&f)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(send(form(&a)).await.status(), 200);
    assert_eq!(send(form(&a)).await.status(), 401, "replayed jti");
    assert_eq!(
        send(form(&hs_assertion(
            &id,
            "wrong",
            &token_url,
            "j2",
            now + 60
        )))
        .await
        .status(),
        401
    );
    assert_eq!(
        send(form(&hs_assertion(
            &id,
            &sec,
            "https://other.example",
            "j3",
            now + 60
        )))
        .await
        .status(),
        401,
        "wrong aud"
    );
    assert_eq!(
        send(form(&hs_assertion(&id, &sec, &token_url, "j4", now - 120)))
            .await
            .status(),
        401,
        "expired"
    );
    assert_eq!(
        send(form(&hs_assertion(
            &id,
            &sec,
            &token_url,
            "j5",
            now + 100_000
        )))
        .await
        .status(),
        401,
        "too long-lived"
    );
    assert_eq!(
        send(form(&hs_assertion(&id, &sec, &srv.base, "j6", now + 60)))
            .await
            .status(),
        200,
        "issuer as aud"
    );
    srv.stop().await;
}

use tessera_tests::EcKey as KeyPair;

fn es256_key() -> KeyPair {
    KeyPair::generate()
}

fn pk_assertion(k: &KeyPair, client_id: &str, aud: &str, jti: &str, exp: i64) -> String {
    let mut h = Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = k.jwk["kid"].as_str().map(str::to_string);
    let claims = json!({"iss": client_id, "sub": client_id, "aud": [aud], "jti": jti, "exp": exp});
    encode(&h, &claims, &EncodingKey::from_ec_der(&k.pkcs8)).unwrap()
}

async fn assert_pk_flow(srv: &TestServer, k: &KeyPair, id: &str) {
    let now = srv.state.now();
    let token_url = srv.url("/token");
    let send = |a: String| async move { srv.token_with_assertion(&a).await };
    let a = pk_assertion(k, id, &token_url, "once", now + 60);
    assert_eq!(send(a.clone()).await.status(), 200);
    let replay = send(a).await;
    assert_eq!(
        replay.status(),
        401,
        "a replayed private_key_jwt assertion is refused"
    );
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let other = es256_key();
    assert_eq!(
        send(pk_assertion(&other, id, &token_url, "k2", now + 60))
            .await
            .status(),
        401,
        "foreign key"
    );
    assert_eq!(
        send(pk_assertion(k, "someone-else", &token_url, "k3", now + 60))
            .await
            .status(),
        401
    );
}

async fn private_key_jwt_inline_with_replay_refused(db: Db) {
    let srv = TestServer::start(db).await;
    let k = es256_key();
    let c = srv
        .client(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [k.jwk.clone()]}, "scope": "a"}))
        .await;
    assert!(c.secret.is_none());
    assert_pk_flow(&srv, &k, &c.client.client_id).await;
    srv.stop().await;
}

async fn private_key_jwt_by_jwks_uri(db: Db) {
    let k = es256_key();
    let jwks = json!({"keys": [k.jwk.clone()]});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    let jwks_server = tokio::spawn(async move { axum::serve(listener, app).await });
    // https is required unless explicitly allowed.
    let strict = TestServer::start(db).await;
    let c = strict.client(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_url})).await;
    let a = pk_assertion(
        &k,
        &c.client.client_id,
        &strict.url("/token"),
        "x",
        strict.state.now() + 60,
    );
    let r = strict.token_with_assertion(&a).await;
    assert_eq!(r.status(), 401);
    strict.stop().await;

    let srv = TestServer::start_with(db, |s| {
        s.client_auth.allow_http_jwks_uri = true;
        // Loopback is an internal address: only reachable when the operator allow-lists it.
        s.outbound.allow_internal_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let c = srv.client(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_url})).await;
    assert_pk_flow(&srv, &k, &c.client.client_id).await;
    srv.stop().await;
    jwks_server.abort();
}

async fn scope_and_resource_rules(db: Db) {
    let srv = TestServer::start(db).await;
    let c = srv.cc_client("client_secret_basic", true).await;
    let creds = Some((c.client.client_id.as_str(), c.secret.as_deref().unwrap()));
    // No scope requested: the client's scopes.
    assert_eq!(srv.token(&c, &[]).await["scope"], "a b c");
    let r = srv
        .post_form(
            "/token",
            creds,
            &[("grant_type", "client_credentials"), ("scope", "a z")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let r = srv
        .post_form(
            "/token",
            creds,
            &[("grant_type", "client_credentials"), ("scope", "a \"b\"")],
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    // RFC 8707 resources (registered for the client) become the audience; several may be given.
    let c = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": "a b c", "access_token_as_jwt": true,
            "resources": ["https://api.example/one", "https://api.example/two"]}))
        .await;
    let creds = Some((c.client.client_id.as_str(), c.secret.as_deref().unwrap()));
    let body = srv
        .token(
            &c,
            &[
                ("resource", "https://api.example/one"),
                ("resource", "https://api.example/two"),
            ],
        )
        .await;
    let (_, p) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(
        p["aud"],
        json!(["https://api.example/one", "https://api.example/two"])
    );
    for bad in ["not a uri", "https://api.example/x#frag"] {
        let r = srv
            .post_form(
                "/token",
                creds,
                &[("grant_type", "client_credentials"), ("resource", bad)],
            )
            .await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_target");
    }
    // A client not registered for client_credentials.
    let web = srv.client(json!({"token_endpoint_auth_method": "client_secret_basic", "redirect_uris": ["https://rp.example/cb"]})).await;
    let r = srv
        .post_form(
            "/token",
            Some((&web.client.client_id, web.secret.as_deref().unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    // A public client cannot use client_credentials.
    let public = srv
        .client(
            json!({"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}),
        )
        .await;
    let r = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &public.client.client_id),
            ],
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    srv.stop().await;
}

async fn expiry_and_inactive_clients(db: Db) {
    let srv = TestServer::start(db).await;
    let c = srv.client(json!({"grant_types": ["client_credentials"], "scope": "a", "access_token_lifetime": 60})).await;
    let body = srv.token(&c, &[]).await;
    assert_eq!(body["expires_in"], 60);
    let at = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(srv.introspect(&c, &at).await["active"], true);
    srv.clock.advance(61);
    assert_eq!(
        srv.introspect(&c, &at).await,
        json!({"active": false}),
        "expired token is inactive"
    );

    let now = srv.state.now();
    let expiring = srv
        .client(json!({"grant_types": ["client_credentials"], "expires_at": now + 10}))
        .await;
    let creds = Some((
        expiring.client.client_id.as_str(),
        expiring.secret.as_deref().unwrap(),
    ));
    assert_eq!(
        srv.post_form("/token", creds, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
    srv.clock.advance(11);
    assert_eq!(
        srv.post_form("/token", creds, &[("grant_type", "client_credentials")])
            .await
            .status(),
        401,
        "expired client"
    );

    let mut m = c.client.metadata.clone();
    m.active = false;
    srv.state
        .store()
        .update_client_metadata(&c.client.client_id, &m, srv.state.now())
        .await
        .unwrap();
    let r = srv
        .post_form(
            "/token",
            Some((&c.client.client_id, c.secret.as_deref().unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), 401, "inactive client");
    srv.stop().await;
}

async fn concurrent_grants_lose_nothing(db: Db) {
    let srv = TestServer::start(db).await;
    let c = srv.cc_client("client_secret_basic", true).await;
    let futs = (0..200).map(|_| srv.token(&c, &[]));
    let bodies = futures::future::join_all(futs).await;
    let tokens: std::collections::HashSet<String> = bodies
        .iter()
        .map(|b| b["access_token"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tokens.len(), 200);
    // Every token was recorded: all introspect active, concurrently too.
    let checks = futures::future::join_all(tokens.iter().map(|t| srv.introspect(&c, t))).await;
    assert!(checks.iter().all(|i| i["active"] == true));
    srv.stop().await;
}

async fn key_rotation_keeps_old_tokens_verifiable(db: Db) {
    let srv = TestServer::start(db).await;
    let c = srv.cc_client("client_secret_basic", true).await;
    let old = srv.access_token(&c).await;
    let (old_h, _) = jwt_parts(&old);

    // The real CLI command, against the same database and master key.
    let cli =
        <tessera::cli::Cli as clap::Parser>::try_parse_from(["tessera", "keys", "rotate"]).unwrap();
    let loaded = tessera::config::Loaded {
        settings: srv.settings.clone(),
        warnings: vec![],
    };
    tessera::cli::run(cli, loaded).await.unwrap();
    assert!(
        srv.state
            .keys()
            .refresh(srv.state.store(), srv.state.now())
            .await
            .unwrap()
    );

    let jwks = srv.get_json("/jwks").await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    assert_eq!(set.keys.len(), 6, "3 active + 3 retiring: {jwks}");
    assert!(
        !jwks.to_string().contains("\"d\""),
        "no private parts in the JWKS"
    );
    let verify = |tok: &str| {
        let (h, _) = jwt_parts(tok);
        let jwk = set.find(h["kid"].as_str().unwrap()).expect("kid published");
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        v.set_issuer(&[&srv.base]);
        v.validate_aud = false;
        jsonwebtoken::decode::<Value>(tok, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
            .unwrap();
    };
    verify(&old);
    // The new keys are published at once, but the old ones sign until publish_ahead has passed,
    // so a replica that has not reloaded yet never sees a token signed by a key it lacks.
    let still_old = srv.access_token(&c).await;
    assert_eq!(jwt_parts(&still_old).0["kid"], old_h["kid"]);
    // (The CLI reads the wall clock; the margin covers the time since the server's clock was set.)
    srv.clock.advance(srv.settings.keys.publish_ahead + 60);
    assert!(
        srv.state
            .keys()
            .refresh(srv.state.store(), srv.state.now())
            .await
            .unwrap(),
        "the new keys start signing"
    );
    let new = srv.access_token(&c).await;
    let (new_h, _) = jwt_parts(&new);
    assert_ne!(old_h["kid"], new_h["kid"], "new tokens use the new key");
    verify(&new);

    // Once retired, the old key leaves the JWKS.
    srv.clock.advance(srv.settings.keys.retire_after + 1);
    srv.state
        .keys()
        .refresh(srv.state.store(), srv.state.now())
        .await
        .unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = srv
        .http
        .get(srv.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks.keys.len(), 3);
    assert!(jwks.find(old_h["kid"].as_str().unwrap()).is_none());
    srv.stop().await;
}

async fn group_commit_isolates_a_bad_row(db: Db) {
    use tessera::model::{Grant, TokenKind, TokenRecord};
    let srv = TestServer::start(db).await;
    let store = srv.state.store();
    let now = srv.state.now();
    let grant =
        |id: &str| Grant::for_client(id.into(), "c".into(), "client_credentials", "a".into(), now);
    let token = |g: &str, h: &str| TokenRecord {
        token_hash: h.into(),
        grant_id: g.into(),
        kind: TokenKind::AccessToken,
        format: "reference".into(),
        jti: None,
        client_id: "c".into(),
        subject: None,
        scope: "a".into(),
        audience: vec!["c".into()],
        issued_at: now,
        expires_at: now + 60,
        revoked_at: None,
        consumed_at: None,
        claims: None,
        jkt: None,
    };
    store
        .insert_grant_with_tokens(&grant("dup"), &[token("dup", "h-dup")])
        .await
        .unwrap();
    // 50 writes queued together, one of them reusing an existing grant id.
    let ids: Vec<String> = (0..50)
        .map(|i| {
            if i == 25 {
                "dup".to_string()
            } else {
                format!("g{i}")
            }
        })
        .collect();
    let results = futures::future::join_all(ids.iter().map(|id| {
        let (g, t) = (grant(id), token(id, &format!("h-{id}-new")));
        async move { store.insert_grant_with_tokens(&g, &[t]).await }
    }))
    .await;
    for (id, r) in ids.iter().zip(&results) {
        if id == "dup" {
            assert!(
                matches!(r, Err(tessera::store::StoreError::Conflict)),
                "{r:?}"
            );
        } else {
            assert!(r.is_ok(), "{id}: {r:?}");
            assert!(
                store
                    .find_token(&format!("h-{id}-new"))
                    .await
                    .unwrap()
                    .is_some(),
                "{id} stored"
            );
        }
    }
    assert!(
        store.find_token("h-dup-new").await.unwrap().is_none(),
        "the refused write left nothing behind"
    );
    srv.stop().await;
}
