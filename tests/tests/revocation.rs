//! Revocation as seed 004 describes it (RFC 7009), global token revocation, and introspection
//! as Janssen does it (RFC 7662, RFC 9701), through the real endpoints on both backends.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, REDIRECT, tokens_for};
use tessera_tests::{Db, TestServer, jwt_parts, on_both_backends};

on_both_backends!(
    revoking_any_token_revokes_its_grant,
    all_revokes_every_token_of_the_client_when_allowed,
    other_clients_tokens_need_the_property_and_the_scope,
    public_and_failed_callers,
    global_revocation_ends_a_users_grants_and_sessions,
    only_authorized_callers_introspect,
    introspection_response_members_and_jwt,
);

/// A browser sign-in of `alice` for `reg`: (access token, refresh token).
async fn user_tokens(srv: &TestServer, reg: &Registered) -> (String, String) {
    let mut b = Browser::new(&srv.base);
    let t = tokens_for(srv, reg, &mut b, &[]).await;
    (
        t["access_token"].as_str().unwrap().to_string(),
        t["refresh_token"].as_str().unwrap().to_string(),
    )
}

fn basic(reg: &Registered) -> Option<(&str, &str)> {
    Some((&reg.client.client_id, reg.secret.as_deref().unwrap()))
}

async fn revoke(srv: &TestServer, reg: &Registered, form: &[(&str, &str)]) -> reqwest::Response {
    srv.post_form("/revoke", basic(reg), form).await
}

async fn active(srv: &TestServer, as_: &Registered, token: &str) -> bool {
    srv.introspect(as_, token).await["active"] == json!(true)
}

async fn refresh(srv: &TestServer, reg: &Registered, rt: &str) -> reqwest::Response {
    srv.post_form(
        "/token",
        basic(reg),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

async fn revoking_any_token_revokes_its_grant(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    for jwt in [true, false] {
        let rp = srv.web_client(json!({"access_token_as_jwt": jwt})).await;
        // The access token, with a wrong hint: found anyway, and the refresh token goes too.
        let (at, rt) = user_tokens(&srv, &rp).await;
        let r = revoke(
            &srv,
            &rp,
            &[("token", &at), ("token_type_hint", "refresh_token")],
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(!active(&srv, &rp, &at).await);
        assert!(!active(&srv, &rp, &rt).await, "jwt={jwt}: grant-wide");
        let r = refresh(&srv, &rp, &rt).await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
        assert_eq!(srv.userinfo(&at).await.status(), 401);
        // The refresh token, with an unknown hint: the access token goes too.
        let (at, rt) = user_tokens(&srv, &rp).await;
        let r = revoke(
            &srv,
            &rp,
            &[("token", &rt), ("token_type_hint", "id_token")],
        )
        .await;
        assert_eq!(r.status(), 200);
        assert!(!active(&srv, &rp, &at).await, "jwt={jwt}: grant-wide");
        assert_eq!(srv.userinfo(&at).await.status(), 401);
    }
    srv.stop().await;
}

async fn all_revokes_every_token_of_the_client_when_allowed(db: Db) {
    // Off (the default): `all` is an ordinary (unknown) token value.
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let rp = srv.web_client(json!({})).await;
    let (at, _) = user_tokens(&srv, &rp).await;
    for form in [
        vec![("token", "all")],
        vec![("token", "x"), ("token_type_hint", "all")],
    ] {
        assert_eq!(revoke(&srv, &rp, &form).await.status(), 200);
        assert!(active(&srv, &rp, &at).await, "nothing revoked by {form:?}");
    }
    srv.stop().await;

    let srv = TestServer::start_with(db, |s| s.revocation.allow_all_value = true).await;
    srv.user("alice", json!({})).await;
    let rp = srv.web_client(json!({})).await;
    let other = srv.web_client(json!({})).await;
    let (at1, rt1) = user_tokens(&srv, &rp).await;
    let (at2, rt2) = user_tokens(&srv, &rp).await;
    let (other_at, _) = user_tokens(&srv, &other).await;
    // Narrowed to refresh tokens: the access tokens stay.
    let r = revoke(
        &srv,
        &rp,
        &[("token", "all"), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(!active(&srv, &rp, &rt1).await && !active(&srv, &rp, &rt2).await);
    assert!(active(&srv, &rp, &at1).await && active(&srv, &rp, &at2).await);
    assert_eq!(refresh(&srv, &rp, &rt1).await.status(), 400);
    // Seed 004's wording: token_type_hint=all, whatever the token value.
    let r = revoke(
        &srv,
        &rp,
        &[("token", "anything"), ("token_type_hint", "all")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(!active(&srv, &rp, &at1).await && !active(&srv, &rp, &at2).await);
    assert!(
        active(&srv, &other, &other_at).await,
        "other clients keep theirs"
    );
    // A public client (identified by client_id alone) may not revoke all of its users' tokens.
    let public = srv
        .web_client(json!({"token_endpoint_auth_method": "none"}))
        .await;
    let r = srv
        .post_form(
            "/revoke",
            None,
            &[("token", "all"), ("client_id", &public.client.client_id)],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    srv.stop().await;
}

async fn other_clients_tokens_need_the_property_and_the_scope(db: Db) {
    for (property, scope, allowed) in [
        (false, true, false),
        (true, false, false),
        (true, true, true),
    ] {
        let srv = TestServer::start_with(db, |s| {
            s.revocation.allow_revoke_for_other_clients = property
        })
        .await;
        let owner = srv.cc_client("client_secret_basic", false).await;
        let revoker = srv
            .client(json!({
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "client_secret_post",
                "scope": if scope { "a revoke_any_token" } else { "a" },
            }))
            .await;
        let t = srv.access_token(&owner).await;
        let r = srv
            .post_form(
                "/revoke",
                None,
                &[
                    ("token", &t),
                    ("client_id", &revoker.client.client_id),
                    ("client_secret", revoker.secret.as_deref().unwrap()),
                ],
            )
            .await;
        let case = format!("property={property} scope={scope}");
        if allowed {
            assert_eq!(r.status(), 200, "{case}");
            assert!(!active(&srv, &owner, &t).await, "{case}");
        } else {
            assert_eq!(r.status(), 400, "{case}");
            assert_eq!(
                r.json::<Value>().await.unwrap()["error"],
                "invalid_request",
                "{case}"
            );
            assert!(active(&srv, &owner, &t).await, "{case}: left alone");
        }
        srv.stop().await;
    }
}

async fn public_and_failed_callers(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let public = srv
        .web_client(json!({"token_endpoint_auth_method": "none"}))
        .await;
    let confidential = srv.cc_client("client_secret_basic", false).await;
    // A public client revokes its own token by client_id.
    let tokens = tessera_tests::browser::tokens_of(&srv, &public, "alice").await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(srv.userinfo(at).await.status(), 200);
    let r = srv
        .post_form(
            "/revoke",
            None,
            &[("token", at), ("client_id", &public.client.client_id)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(srv.userinfo(at).await.status(), 401, "revoked");
    // A confidential client with a wrong secret: 401 invalid_client, nothing revoked.
    let t = srv.access_token(&confidential).await;
    let r = srv
        .post_form(
            "/revoke",
            Some((&confidential.client.client_id, "wrong")),
            &[("token", &t)],
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    assert!(active(&srv, &confidential, &t).await);
    // Unknown token: 200, no-store.
    let r = revoke(&srv, &confidential, &[("token", "unknown")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    srv.stop().await;
}

async fn global_revocation_ends_a_users_grants_and_sessions(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    srv.user("bob", json!({})).await;
    let rp = srv.web_client(json!({})).await;
    let admin = srv
        .client(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "global_token_revocation",
        }))
        .await;
    let plain = srv.cc_client("client_secret_basic", false).await;
    let post = |body: Value, auth: Option<(&Registered, Option<&str>)>| {
        let mut req = srv
            .http
            .post(srv.url("/global-token-revocation"))
            .json(&body);
        match auth {
            Some((reg, None)) => req = req.basic_auth(&reg.client.client_id, reg.secret.as_deref()),
            Some((_, Some(bearer))) => req = req.bearer_auth(bearer),
            None => {}
        }
        req.send()
    };
    let alice = json!({"sub_id": {"format": "email", "email": "alice@example.com"}});

    // Alice signs in twice (two grants, one browser session); Bob once.
    let mut b = Browser::new(&srv.base);
    let t1 = tokens_for(&srv, &rp, &mut b, &[]).await;
    let t2 = tokens_for(&srv, &rp, &mut b, &[]).await;
    let bob = tessera_tests::browser::tokens_of(&srv, &rp, "bob").await;

    // Without the scope, or unauthenticated: refused, nothing revoked.
    let r = post(alice.clone(), Some((&plain, None))).await.unwrap();
    assert_eq!(r.status(), 403);
    let r = post(alice.clone(), None).await.unwrap();
    assert_eq!(r.status(), 401);
    // Malformed and unsupported subjects.
    let r = post(
        json!({"sub_id": {"format": "phone_number", "phone_number": "+1"}}),
        Some((&admin, None)),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let r = post(json!({"nope": 1}), Some((&admin, None)))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(active(&srv, &rp, t1["access_token"].as_str().unwrap()).await);

    // An unknown user is answered like a known one.
    let r = post(
        json!({"sub_id": {"format": "email", "email": "nobody@example.com"}}),
        Some((&admin, None)),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);

    // Alice, by e-mail, authenticated with Basic.
    let r = post(alice.clone(), Some((&admin, None))).await.unwrap();
    assert_eq!(r.status(), 204);
    for t in [&t1, &t2] {
        for kind in ["access_token", "refresh_token"] {
            assert!(
                !active(&srv, &rp, t[kind].as_str().unwrap()).await,
                "{kind} revoked"
            );
        }
    }
    assert!(active(&srv, &rp, bob["access_token"].as_str().unwrap()).await);
    // Her browser session is gone: the next authorization asks her to log in again.
    let (_, challenge) = tessera_tests::browser::pkce();
    let first = b
        .get(&tessera_tests::browser::authorize_url(&rp, &challenge, &[]))
        .await;
    let page = b.follow(first).await;
    assert!(page.body.contains("name=\"password\""), "login asked again");

    // Bob, by Janssen's uid format, with a bearer token carrying the scope.
    let bearer = srv
        .token(&admin, &[("scope", "global_token_revocation")])
        .await;
    let r = post(
        json!({"sub_id": {"format": "uid", "id": "bob"}}),
        Some((&admin, Some(bearer["access_token"].as_str().unwrap()))),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!active(&srv, &rp, bob["access_token"].as_str().unwrap()).await);
    // A bearer token without the scope: 403 insufficient_scope.
    let weak = srv.access_token(&plain).await;
    let r = post(alice, Some((&plain, Some(&weak)))).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(tessera_tests::challenge(&r).contains("insufficient_scope"));
    srv.stop().await;
}

/// A public client (by client_id alone) introspects another client's token: (response, token).
async fn introspect_as_public(srv: &TestServer) -> (reqwest::Response, String) {
    let owner = srv.cc_client("client_secret_basic", false).await;
    let t = srv.access_token(&owner).await;
    let public = srv
        .client(json!({"grant_types": ["authorization_code"], "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .await;
    let r = srv
        .post_form(
            "/introspect",
            None,
            &[("token", &t), ("client_id", &public.client.client_id)],
        )
        .await;
    (r, t)
}

async fn only_authorized_callers_introspect(db: Db) {
    let srv = TestServer::start(db).await;
    // A public client, by client_id: 401 invalid_client.
    let (r, t) = introspect_as_public(&srv).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // Nobody: 401.
    let r = srv.post_form("/introspect", None, &[("token", &t)]).await;
    assert_eq!(r.status(), 401);
    // A bearer token: needs the introspection scope.
    let rs = srv
        .client(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "a introspection uma_protection",
        }))
        .await;
    let bearer_introspect = |bearer: String| {
        let t = t.clone();
        let req = srv
            .http
            .post(srv.url("/introspect"))
            .bearer_auth(bearer)
            .form(&[("token", t)]);
        async move { req.send().await.unwrap() }
    };
    let without = srv.token(&rs, &[("scope", "a")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = bearer_introspect(without.clone()).await;
    assert_eq!(r.status(), 403);
    assert!(tessera_tests::challenge(&r).contains("scope=\"introspection\""));
    let with = srv.token(&rs, &[("scope", "introspection")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = bearer_introspect(with).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
    let r = bearer_introspect("not-a-token".into()).await;
    assert_eq!(r.status(), 401);
    // Discovery: no `none` among the introspection auth methods.
    let d = srv.get_json("/.well-known/openid-configuration").await;
    let methods = d["introspection_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(!methods.contains(&json!("none")) && methods.contains(&json!("private_key_jwt")));
    srv.stop().await;

    // The UMA scope too, when the server asks for it; nothing, when authorization is skipped.
    let srv = TestServer::start_with(db, |s| {
        s.introspection.access_token_must_have_uma_protection_scope = true
    })
    .await;
    let rs = srv
        .client(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "introspection uma_protection",
        }))
        .await;
    let only_introspection = srv.token(&rs, &[("scope", "introspection")]).await;
    let both = srv
        .token(&rs, &[("scope", "introspection uma_protection")])
        .await;
    let t = srv.access_token(&rs).await;
    for (bearer, status) in [(&only_introspection, 403), (&both, 200)] {
        let r = srv
            .http
            .post(srv.url("/introspect"))
            .bearer_auth(bearer["access_token"].as_str().unwrap())
            .form(&[("token", &t)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
    }
    srv.stop().await;
    let srv = TestServer::start_with(db, |s| s.introspection.skip_authorization = true).await;
    let (r, _) = introspect_as_public(&srv).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
    srv.stop().await;
}

async fn introspection_response_members_and_jwt(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let rp = srv.web_client(json!({"access_token_as_jwt": true})).await;
    let (at, rt) = user_tokens(&srv, &rp).await;
    let i = srv.introspect(&rp, &at).await;
    let (_, claims) = jwt_parts(&at);
    assert_eq!(i["active"], true);
    assert_eq!(i["scope"], "openid profile email offline_access");
    assert_eq!(i["client_id"], rp.client.client_id);
    assert_eq!(i["username"], "alice");
    assert_eq!(i["token_type"], "Bearer");
    assert_eq!(i["exp"], claims["exp"]);
    assert_eq!(i["iat"], claims["iat"]);
    assert_eq!(i["nbf"], claims["iat"]);
    assert_eq!(i["sub"], claims["sub"]);
    assert_eq!(i["aud"], claims["aud"]);
    assert_eq!(i["iss"], srv.base);
    assert_eq!(i["jti"], claims["jti"]);
    let i = srv.introspect(&rp, &rt).await;
    assert_eq!(i["token_type"], "refresh_token");
    assert!(i.get("jti").is_none(), "absent members are dropped: {i}");
    // A client token has no username.
    let cc = srv.cc_client("client_secret_basic", false).await;
    let i = srv.introspect(&cc, &srv.access_token(&cc).await).await;
    assert!(i.get("username").is_none(), "{i}");
    assert_eq!(i["sub"], cc.client.client_id);

    // RFC 9701: asked for by Accept, or Janssen's response_as_jwt=true.
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(srv.get_json("/jwks").await).unwrap();
    for how in ["accept", "param"] {
        let mut req = srv
            .http
            .post(srv.url("/introspect"))
            .basic_auth(&rp.client.client_id, rp.secret.as_deref());
        req = if how == "accept" {
            req.header("accept", "application/token-introspection+jwt")
                .form(&[("token", &at)])
        } else {
            req.form(&[("token", at.as_str()), ("response_as_jwt", "true")])
        };
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "application/token-introspection+jwt"
        );
        let jwt = r.text().await.unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.typ.as_deref(), Some("token-introspection+jwt"));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        let key = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[&rp.client.client_id]);
        v.set_issuer(&[&srv.base]);
        v.set_required_spec_claims(&["iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_jwk(key).unwrap(),
            &v,
        )
        .unwrap();
        assert_eq!(data.claims["token_introspection"]["active"], true);
        assert_eq!(data.claims["token_introspection"]["username"], "alice");
    }
    srv.stop().await;

    // Janssen's backward-compatible array of scopes.
    let srv = TestServer::start_with(db, |s| {
        s.introspection.response_scopes_backward_compatibility = true
    })
    .await;
    let cc = srv.cc_client("client_secret_basic", false).await;
    let t = srv.token(&cc, &[("scope", "a b")]).await;
    let i = srv
        .introspect(&cc, t["access_token"].as_str().unwrap())
        .await;
    assert_eq!(i["scope"], json!(["a", "b"]));
    srv.stop().await;
}
